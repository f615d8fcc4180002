"""A loopback Dataverse (Dynamics 365) Web API for tests, demos and benchmarks.

It serves the OData v4 surface a relationship connector uses (tables and rows, $select,
$filter/$orderby, paging, change tracking, $batch, UpdateMultiple, WhoAmI, the column
metadata API) over HTTPS, authenticated by the Graph emulator's token service with the
environment URL as the token audience. See docs/emulator.md, "Loopback Dataverse".
"""
