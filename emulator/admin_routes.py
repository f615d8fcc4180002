"""HTTP face of TenantAdmin under /_emulator/ (unauthenticated: loopback test control only)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from aiohttp import web

from emulator.admin import AdminError, TenantAdmin
from emulator.faults import FaultConfigError, FaultRule

AdminT = TypeVar("AdminT")
Route = tuple[str, str, Callable[[AdminT, web.Request, Any], Any], int]


def add_routes(
    app: web.Application,
    admin: AdminT,
    routes: Iterable[Route[AdminT]],
    refused: tuple[type[Exception], ...],
    refusal: Callable[[Exception], web.Response],
) -> None:
    """Each (method, path, action, status) under /_emulator: the JSON body in, the action's
    result out as JSON with `status` (204 when it returns None); a `refused` exception is
    answered with `refusal(exc)`. Shared by the Graph and the Dataverse emulators."""
    for method, path, action, status in routes:
        app.router.add_route(
            method, "/_emulator" + path, _wrap(admin, action, status, refused, refusal)
        )


def _wrap(
    admin: AdminT,
    action: Callable[[AdminT, web.Request, Any], Any],
    status: int,
    refused: tuple[type[Exception], ...],
    refusal: Callable[[Exception], web.Response],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        body: Any = None
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:  # not JSON, or not text in its charset
                return web.json_response({"error": "body must be JSON"}, status=400)
        try:
            result = action(admin, request, body)
        except refused as exc:
            return refusal(exc)
        if result is None:
            return web.Response(status=204)
        return web.json_response(result, status=status)

    return handler


def _refusal(exc: Exception) -> web.Response:
    code = 404 if isinstance(exc, AdminError) and "no " in str(exc) else 400
    return web.json_response({"error": str(exc)}, status=code)


def _m(request: web.Request, name: str) -> str:
    return request.match_info[name]


def add_admin_routes(app: web.Application, admin: TenantAdmin) -> None:
    routes: list[Route[TenantAdmin]] = [
        (
            "POST",
            "/users/{user}/mailFolders/{folder}/messages",
            lambda a, r, b: a.add_message(_m(r, "user"), b, _m(r, "folder")),
            201,
        ),
        (
            "PATCH",
            "/users/{user}/messages/{id}",
            lambda a, r, b: a.update_message(_m(r, "user"), _m(r, "id"), b),
            200,
        ),
        (
            "DELETE",
            "/users/{user}/messages/{id}",
            lambda a, r, b: a.delete_message(
                _m(r, "user"), _m(r, "id"), r.query.get("reason", "deleted")
            ),
            204,
        ),
        ("POST", "/users/{user}/events", lambda a, r, b: a.add_event(_m(r, "user"), b), 201),
        (
            "PATCH",
            "/users/{user}/events/{id}",
            lambda a, r, b: a.update_event(_m(r, "user"), _m(r, "id"), b),
            200,
        ),
        (
            "DELETE",
            "/users/{user}/events/{id}",
            lambda a, r, b: a.delete_event(_m(r, "user"), _m(r, "id")),
            204,
        ),
        (
            "PUT",
            "/apps/{client}/roles",
            lambda a, r, b: a.set_roles(_m(r, "client"), list(b["roles"])),
            204,
        ),
        (
            "POST",
            "/apps/{client}/roles/{role}",
            lambda a, r, b: a.grant_role(_m(r, "client"), _m(r, "role")),
            204,
        ),
        (
            "DELETE",
            "/apps/{client}/roles/{role}",
            lambda a, r, b: a.revoke_role(_m(r, "client"), _m(r, "role")),
            204,
        ),
        (
            "POST",
            "/users/{user}/mailFolders/{folder}/expire",
            lambda a, r, b: a.expire_delta(
                _m(r, "user"), _m(r, "folder"), (b or {}).get("mode", "gone")
            ),
            204,
        ),
        (
            "POST",
            "/users/{user}/calendar/expire",
            lambda a, r, b: a.expire_delta(
                _m(r, "user"), "calendar", (b or {}).get("mode", "gone")
            ),
            204,
        ),
        ("GET", "/faults", lambda a, r, b: [f.to_json() for f in a.faults.rules], 200),
        ("POST", "/faults", lambda a, r, b: a.add_fault(FaultRule.from_json(b)).to_json(), 201),
        ("DELETE", "/faults", lambda a, r, b: a.clear_faults(), 204),
        ("DELETE", "/faults/{id}", lambda a, r, b: _remove_fault(a, int(_m(r, "id"))), 204),
        (
            "GET",
            "/stats",
            lambda a, r, b: a.stats.snapshot(include_log=r.query.get("log") == "1"),
            200,
        ),
        ("POST", "/stats/reset", lambda a, r, b: a.reset_stats(), 204),
    ]
    refused = (AdminError, FaultConfigError, TypeError, KeyError, ValueError)
    add_routes(app, admin, routes, refused, _refusal)


def _remove_fault(admin: TenantAdmin, rule_id: int) -> None:
    if not admin.faults.remove(rule_id):
        raise AdminError(f"no fault {rule_id}")
