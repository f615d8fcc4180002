"""The delta-round protocol shared by mail folders and calendarView."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from emulator import deltatoken
from emulator.deltatoken import DeltaState
from emulator.errors import GraphError
from emulator.http import GraphRequest, with_query
from emulator.store import Collection, Item, Page, Rendering

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class DeltaPage:
    page: Page
    state: DeltaState  # the state this page was read with
    page_size: int
    applied_page_size: bool


def page_size(request: GraphRequest) -> tuple[int, bool]:
    """The `Prefer: odata.maxpagesize` value (clamped) and whether it was honoured."""
    for preference in (request.header("prefer") or "").split(","):
        name, _, value = preference.strip().partition("=")
        if name.strip().lower() == "odata.maxpagesize" and value.strip().isdigit():
            return max(1, min(int(value), MAX_PAGE_SIZE)), True
    return DEFAULT_PAGE_SIZE, False


def expired(collection: Collection, restart_url: str) -> GraphError:
    if collection.expiry_mode == "syncStateNotFound":
        return GraphError(400, "syncStateNotFound", "The sync state generation is not found.")
    return GraphError(
        410,
        "resyncRequired",
        "Resync required. Replace any local cached copies with the results of a new delta query.",
        {"Location": restart_url},
    )


def read_state(
    request: GraphRequest,
    collection: Collection,
    key: str,
    initial_select: str,
    window: str = "",
    restart_query: Callable[[str], dict[str, str]] | None = None,
) -> DeltaState:
    """Decode the round position from `$skiptoken`/`$deltatoken`, or start an initial round."""
    skip = request.query.get("$skiptoken")
    delta = request.query.get("$deltatoken")
    token = skip or delta
    if not token:  # no token, or the empty `$deltatoken=` a 410 Location hands back
        return DeltaState(
            deltatoken.collection_tag(key),
            collection.epoch,
            None,
            collection.seq,
            0,
            initial_select,
            window,
        )
    try:
        state = deltatoken.decode(token, key)
    except deltatoken.TokenInvalid:
        raise GraphError(
            400, "ErrorInvalidSyncStateData", "The sync state data is invalid."
        ) from None
    if state.epoch != collection.epoch:
        query = restart_query(state.window) if restart_query else {}
        query["$deltatoken"] = ""
        raise expired(collection, with_query(request.base_url, request.path, query))
    if skip:
        return state
    # A delta link starts the next round: changes made since the previous round began.
    return DeltaState(
        state.collection, state.epoch, state.upto, collection.seq, 0, state.select, state.window
    )


def read_page(
    request: GraphRequest,
    collection: Collection,
    state: DeltaState,
    keep: Callable[[Item], bool] | None = None,
    rendering: Rendering | None = None,
) -> DeltaPage:
    size, applied = page_size(request)
    page = collection.page(state.since, state.upto, state.position, size, keep, rendering)
    return DeltaPage(page, state, size, applied)


def links(request: GraphRequest, result: DeltaPage) -> dict[str, str]:
    state = result.state
    if result.page.next_position is not None:
        following = DeltaState(
            state.collection,
            state.epoch,
            state.since,
            state.upto,
            result.page.next_position,
            state.select,
            state.window,
        )
        return {
            "@odata.nextLink": with_query(
                request.base_url, request.path, {"$skiptoken": deltatoken.encode(following)}
            )
        }
    done = DeltaState(
        state.collection, state.epoch, state.since, state.upto, 0, state.select, state.window
    )
    return {
        "@odata.deltaLink": with_query(
            request.base_url, request.path, {"$deltatoken": deltatoken.encode(done)}
        )
    }


def response_headers(result: DeltaPage) -> dict[str, str]:
    if result.applied_page_size:
        return {"Preference-Applied": f"odata.maxpagesize={result.page_size}"}
    return {}
