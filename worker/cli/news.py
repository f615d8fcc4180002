"""`rapport news fetch` and `rapport news show ACCOUNT`: What's New for an account.

Mounted on the main app by `register(app)`. Every output carries the
employment notice (docs/insights.md, "What's New").
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

import typer

from insights.notice import EMPLOYMENT_NOTICE
from worker.cli.context import cli_of
from worker.cli.output import JsonFlag, console, emit
from worker.failures import UserError

news_app = typer.Typer(
    help="What's New: recent news about customers' companies.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add `news` to `app`; a second call changes nothing."""
    if any(group.name == "news" for group in app.registered_groups):
        return
    app.add_typer(news_app, name="news")


@news_app.command("fetch")
def news_fetch(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Fetch every feed in RAPPORT_NEWS_FEEDS now and store the items about accounts."""
    from news.fetcher import FeedConfigError
    from worker.run.news import FEEDS_SETTING, configured_feeds, refresh_news

    try:
        sources = configured_feeds()
    except FeedConfigError as refusal:
        raise UserError(str(refusal)) from None
    if not sources:
        raise UserError(f"{FEEDS_SETTING}: no feed configured; expected URLs or ACCOUNT_ID=URL")
    store = cli_of(ctx).current_store()
    summary = refresh_news(store, sources, now=datetime.now(UTC))
    payload = {"notice": EMPLOYMENT_NOTICE, **asdict(summary)}

    def show(_: object) -> None:
        console.print(EMPLOYMENT_NOTICE, style="dim")
        console.print(
            f"{summary.feeds} feeds fetched, {summary.items_added} new items, "
            f"{summary.items_purged} purged"
        )
        for url, why in summary.failed.items():
            console.print(f"failed: {url}: {why}")

    emit(payload, as_json, show)


@news_app.command("show")
def news_show(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(metavar="ACCOUNT", help="account:ID or the id.")],
    limit: Annotated[int, typer.Option("--limit", help="At most this many items (1-500).")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Recent news about an account's company, newest first (title, link, source, date)."""
    from storage import news_store
    from storage.engine import session_scope
    from storage.introductions_read import account_name

    if not 1 <= limit <= 500:
        raise UserError(f"--limit: {limit} is not allowed; expected 1-500")
    account_id = account.strip().removeprefix("account:")
    store = cli_of(ctx).current_store()
    with session_scope(store) as session:
        name = account_name(session=session, account_id=account_id)
        if name is None:
            raise UserError(f"ACCOUNT: no account with id {account_id!r}")
        items = news_store.account_items(session=session, account_id=account_id, limit=limit)
    payload = {
        "notice": EMPLOYMENT_NOTICE,
        "account_id": account_id,
        "name": name,
        "retention_days": news_store.RETENTION_DAYS,
        "items": items,
    }

    def show(_: object) -> None:
        console.print(EMPLOYMENT_NOTICE, style="dim")
        console.print(f"[bold]What's New: {name}[/bold]")
        for item in items:
            when = "" if item["published_at"] is None else f"{item['published_at']:%Y-%m-%d} "
            console.print(f"  {when}{item['title']} ({item['source']}) {item['link']}")
        if not items:
            console.print(f"  no news in the last {news_store.RETENTION_DAYS} days")

    emit(payload, as_json, show)
