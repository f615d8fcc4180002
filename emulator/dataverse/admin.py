"""Test control of a running loopback Dataverse: change rows after a baseline (as another
Dataverse user would), expire delta links, change privileges and limits, inject faults,
read the write log. The HTTP face is `/_emulator/...` on the Dataverse listener (no auth,
loopback only)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from emulator.admin import AdminError
from emulator.admin_routes import Route, add_routes
from emulator.dataverse.environment import parse_privileges
from emulator.dataverse.errors import DataverseError, record_not_found
from emulator.dataverse.limits import Fault, Limits
from emulator.dataverse.rows import render
from emulator.dataverse.service import DataverseService
from emulator.dataverse.store import Row, TableData
from emulator.dataverse.writes import WriteLog, Writer
from emulator.fixture import FixtureError


class DataverseAdmin:
    """Row changes made here are not in the write log: they stand for other users' edits."""

    def __init__(self, service: DataverseService) -> None:
        self.service = service
        self._writer = Writer(service.store, WriteLog(), owner_id=None)

    def _data(self, entity_set: str) -> TableData:
        data = self.service.store.data(entity_set)
        if data is None:
            raise AdminError(f"no table {entity_set!r} (use the entity set, e.g. 'contacts')")
        return data

    def row(self, entity_set: str, record_id: str) -> dict[str, Any]:
        data = self._data(entity_set)
        row = data.rows.get(record_id.lower())
        if row is None:
            raise record_not_found(data.table.logical_name, record_id)
        return render(self.service.store, data.table, row, None, ["*"])

    def add_row(self, entity_set: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Create a row from a Web API create body (lookups with `nav@odata.bind`)."""
        data = self._data(entity_set)
        record_id = self._writer.create(data, payload)
        return self.row(entity_set, record_id)

    def update_row(
        self, entity_set: str, record_id: str, changes: dict[str, Any]
    ) -> dict[str, Any]:
        self._writer.update(self._data(entity_set), record_id, changes, must_exist=True)
        return self.row(entity_set, record_id)

    def corrupt_row(
        self, entity_set: str, record_id: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        """Store `values` unchecked (a text in a number column, a date that is no date), as a
        row written by some other integration might hold them, so a reader's handling of a
        malformed row can be tested. Columns must exist; change tracking sees the change."""
        data = self._data(entity_set)
        existing = data.rows.get(record_id.lower())
        if existing is None:
            raise record_not_found(data.table.logical_name, record_id)
        row = Row(dict(existing.values), dict(existing.lookup_types))
        for name, value in values.items():
            column = data.table.column_for_property(name)
            if column is None:
                raise AdminError(f"no column {name!r} on {data.table.logical_name}")
            row.values[column.name] = value
        self.service.store.put(data, record_id.lower(), row, created=False)
        return self.row(entity_set, record_id)

    def delete_row(self, entity_set: str, record_id: str) -> None:
        self._writer.delete(self._data(entity_set), record_id)

    def expire_delta(self, entity_set: str) -> None:
        """Every delta link issued so far for the table is refused (full sync needed)."""
        self.service.store.expire_changes(self._data(entity_set))

    def writes(self) -> list[dict[str, Any]]:
        return [entry.to_json() for entry in self.service.writes.entries]

    def clear_writes(self) -> None:
        self.service.writes.entries.clear()

    def set_privileges(self, application_id: str, privileges: dict[str, Any]) -> None:
        user = self.service.environment.application_users.get(application_id)
        if user is None:
            raise AdminError(f"no application user for {application_id!r}")
        try:
            user.privileges, user.customize = parse_privileges(privileges, "privileges")
        except FixtureError as exc:
            raise AdminError(str(exc)) from exc

    def set_limits(self, **limits: Any) -> Limits:
        current = self.service.protection.limits
        for name, value in limits.items():
            if not hasattr(current, name):
                raise AdminError(
                    f"unknown limit {name!r}; allowed requests_per_window, window_seconds, "
                    "concurrent_requests, execution_seconds, early_retry_penalty"
                )
            setattr(current, name, type(getattr(current, name))(value))
        self.service.protection.reset()
        return current

    def add_fault(self, **rule: Any) -> Fault:
        return self.service.protection.add_fault(Fault.from_json(rule))

    def clear_faults(self) -> None:
        self.service.protection.faults.clear()

    def reset_stats(self) -> None:
        """Counters and request log back to zero (rows, writes and limits stay)."""
        service = self.service
        service.requests.clear()
        service.request_count = 0
        service.status_counts.clear()
        service.protection.throttled = 0
        service.protection.throttled_by_code.clear()
        service.protection.peak_concurrency = 0
        service.protection.early_retries = 0

    def stats(self, *, include_log: bool = False) -> dict[str, Any]:
        snapshot: dict[str, Any] = {
            "requests": self.service.request_count,
            "throttled": self.service.protection.throttled,
            "throttledByCode": dict(self.service.protection.throttled_by_code),
            "peakConcurrency": self.service.protection.peak_concurrency,
            "earlyRetries": self.service.protection.early_retries,
            "statusCounts": {str(k): v for k, v in self.service.status_counts.items()},
        }
        if include_log:
            snapshot["log"] = [entry.to_json() for entry in self.service.requests]
        return snapshot


_LIMIT_NAMES = {
    "requestsPerWindow": "requests_per_window",
    "windowSeconds": "window_seconds",
    "concurrentRequests": "concurrent_requests",
    "executionSeconds": "execution_seconds",
    "earlyRetryPenalty": "early_retry_penalty",
}


def _refusal(exc: Exception) -> web.Response:
    if isinstance(exc, DataverseError):
        return web.json_response(exc.body(), status=exc.status)
    code = 404 if str(exc).startswith("no ") else 400
    return web.json_response({"error": str(exc)}, status=code)


def _m(request: web.Request, name: str) -> str:
    return request.match_info[name]


def add_admin_routes(app: web.Application, admin: DataverseAdmin) -> None:
    rows = "/tables/{set}/rows"
    routes: list[Route[DataverseAdmin]] = [
        ("GET", rows + "/{id}", lambda a, r, b: a.row(_m(r, "set"), _m(r, "id")), 200),
        ("POST", rows, lambda a, r, b: a.add_row(_m(r, "set"), b), 201),
        (
            "PATCH",
            rows + "/{id}",
            lambda a, r, b: a.update_row(_m(r, "set"), _m(r, "id"), b),
            200,
        ),
        ("DELETE", rows + "/{id}", lambda a, r, b: a.delete_row(_m(r, "set"), _m(r, "id")), 204),
        (
            "PATCH",
            rows + "/{id}/raw",
            lambda a, r, b: a.corrupt_row(_m(r, "set"), _m(r, "id"), b),
            200,
        ),
        ("POST", "/tables/{set}/expire", lambda a, r, b: a.expire_delta(_m(r, "set")), 204),
        ("GET", "/writes", lambda a, r, b: a.writes(), 200),
        ("DELETE", "/writes", lambda a, r, b: a.clear_writes(), 204),
        (
            "PUT",
            "/applicationUsers/{app}/privileges",
            lambda a, r, b: a.set_privileges(_m(r, "app"), b),
            204,
        ),
        (
            "PUT",
            "/limits",
            lambda a, r, b: a.set_limits(**{_LIMIT_NAMES[k]: v for k, v in b.items()}).to_json(),
            200,
        ),
        ("GET", "/faults", lambda a, r, b: [f.to_json() for f in a.service.protection.faults], 200),
        (
            "POST",
            "/faults",
            lambda a, r, b: a.service.protection.add_fault(Fault.from_json(b)).to_json(),
            201,
        ),
        ("DELETE", "/faults", lambda a, r, b: a.clear_faults(), 204),
        ("GET", "/stats", lambda a, r, b: a.stats(include_log=r.query.get("log") == "1"), 200),
        ("POST", "/stats/reset", lambda a, r, b: a.reset_stats(), 204),
    ]
    refused = (DataverseError, AdminError, ValueError, TypeError, KeyError)
    add_routes(app, admin, routes, refused, _refusal)
