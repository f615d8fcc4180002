"""One pipeline tick and what it runs: the Exchange half (consent, residency, delta
sync), the Dataverse pull and push, each record's scope, reading the interactions as
columns for scoring, scoring the records whose interactions changed (every record at a
regrade) in this process or in forked shares, writing the results back, who-knows-whom
(and a colleague's opt-out, which `rapport introducers opt-out` calls), the run lock
that keeps one run per store, and fetching news. `rapport run --once` calls
`tick.run_tick`; the service's jobs call `tick.sync_exchange` and `tick.run_once`.
"""
