"""Insights for sellers and their managers, computed from what Rapport already stores.

The package owns the pure computations behind the seller-facing views: lists of
records by relationship health, the relationship pipeline chart's data, a
record's drill-down timeline, similar won deals, introduction drafts and news
matching. Like ``scoring/`` it is a leaf: plain data in, plain data out, ``now``
an argument; it may import ``scoring`` types only, never storage, the clock or
the network. Reading the store lives in ``storage/``; the chart is drawn here
(``pipeline_chart_image``, text or bytes out) and written to the file a user names
(``pipeline_chart_render``, for `rapport pipeline chart`).

Every insights output carries :data:`insights.notice.EMPLOYMENT_NOTICE`.
"""
