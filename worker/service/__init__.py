"""`rapport worker`, the long-running service: its schedule (APScheduler through an
injected clock), the jobs it runs (sync round, scoring, retention, heartbeat,
watchdog), the mailbox leases and singleton-job locks that share work between
replicas, the single-worker guard on SQLite, start-up (waiting for the database,
the schema check), and its HTTP endpoint (`health_server`: /metrics, /healthz,
/readyz) with the Prometheus metrics it serves (`metrics`, prometheus_client).
What the store says about the service (`rapport status`, the admin page) is read
by storage.service_status.
"""
