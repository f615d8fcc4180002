"""One pipeline tick and what it runs: the Exchange half (consent, residency, delta
sync), the Dataverse pull and push, loading interactions for scoring, scoring
every record in this process or in forked shares, writing the results back,
who-knows-whom, the run lock that keeps one run per store, and fetching news.
The CLI (`rapport run --once`) and the service's jobs both call `tick.run_once`.
"""
