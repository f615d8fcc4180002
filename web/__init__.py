"""The insights web app: the portfolio, the relationship pipeline and record pages, with
a JSON API behind them (docs/web.md).

Built on the pure insights (insights/) and the store's reads (storage/); it adds no
scoring logic. `create_app` (web.app) is the one way in: it takes the store, how a
request's viewer is resolved (web.identity) and the clock, so tests hand in their own.
"""
