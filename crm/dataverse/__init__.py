"""The Dataverse (Dynamics 365) connector: pull the CRM into the contract tables, push health out.

- `environment`: the environment URL and the publisher prefix (settings checks).
- `client`: the Web API over httpx, with the one retry policy, the host pin, bounded
  concurrency and a throttle gate shared by every request (docs/dataverse.md).
- `columns` and `provision`: Rapport's columns and creating them through the metadata API.
- `check`: what `rapport dataverse check` verifies.
- `mapping` and `pull`: Dataverse rows into the contract tables, incrementally.
- `push`: the health that changed, written back with UpdateMultiple.

It imports `storage`, `consent` (credentials) and `graph_sync.retry` (the one retry
policy) only.
"""
