"""`rapport dataverse check`: is the environment ready for the connector, and if not, why.

Probes, in order: a token for `{environment}/.default`, `WhoAmI` (the application user
exists), read access to every table the pull reads (one row each), Rapport's columns
present on the four scored tables, and write access to them (a PATCH with
`If-Match: *` of a record that cannot exist: 404 proves the privilege without writing
anything; 403 names the missing privilege). Each failed probe says how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crm.dataverse.client import DataverseClient
from crm.dataverse.columns import COLUMNS, TABLES
from crm.dataverse.exceptions import (
    AccessDenied,
    DataverseError,
    RecordMissing,
    RequestRefused,
    TokenRefused,
)
from crm.dataverse.mapping import CONNECTIONS, PULLED
from crm.dataverse.provision import existing_columns


def _read_tables() -> dict[str, str]:
    """Entity set -> primary id of every table the pull reads, in its order (the
    connection roles are read whole, just before the connections)."""
    tables: dict[str, str] = {}
    for spec in PULLED:
        if spec is CONNECTIONS:
            tables["connectionroles"] = "connectionroleid"
        tables[spec.entity_set] = spec.primary_id
    return tables


READ_TABLES = _read_tables()
NO_RECORD = "00000000-0000-0000-0000-000000000000"
ROLE_FIX = (
    "give the application user's security role {privilege} (docs/dataverse.md, 'The security role')"
)


@dataclass(frozen=True)
class Probe:
    name: str
    ok: bool
    detail: str = ""
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}


@dataclass
class CheckReport:
    environment: str
    user_id: str | None = None
    probes: list[Probe] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return bool(self.probes) and all(probe.ok for probe in self.probes)

    @property
    def missing(self) -> list[Probe]:
        return [probe for probe in self.probes if not probe.ok]

    def as_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "ready": self.ready,
            "application_user_id": self.user_id,
            "checks": [probe.as_dict() for probe in self.probes],
            "missing": [probe.as_dict() for probe in self.missing],
        }


def _refused(name: str, error: DataverseError) -> Probe:
    if isinstance(error, AccessDenied) and error.privilege:
        return Probe(
            name, False, f"missing {error.privilege}", ROLE_FIX.format(privilege=error.privilege)
        )
    return Probe(name, False, str(error), "see docs/dataverse.md, 'Check'")


async def run_check(client: DataverseClient, prefix: str) -> CheckReport:
    report = CheckReport(client.environment.url)
    if not await _who_am_i(client, report):
        return report  # without a token or an application user nothing else can answer
    for entity_set, primary_id in READ_TABLES.items():
        report.probes.append(await _read(client, entity_set, primary_id))
    for logical, entity_set, _id in TABLES.values():
        present = await _columns(client, logical, prefix, report)
        if present:
            report.probes.append(await _write(client, logical, entity_set, present))
    return report


async def _who_am_i(client: DataverseClient, report: CheckReport) -> bool:
    try:
        reply = await client.get("WhoAmI")
    except TokenRefused as error:
        fix = (
            "check RAPPORT_TENANT_ID, RAPPORT_CLIENT_ID and the credential, and that the app "
            "registration may ask for a token for the environment"
        )
        report.probes.append(Probe("token", False, str(error), fix))
        return False
    except RequestRefused as error:
        fix = (
            "create an application user for the app registration in the environment (Power "
            "Platform admin center > Environment > Settings > Users + permissions > "
            "Application users) and give it Rapport's security role"
        )
        report.probes.append(Probe("token", True))
        report.probes.append(Probe("application user (WhoAmI)", False, str(error), fix))
        return False
    report.user_id = str((reply.body or {}).get("UserId"))
    report.probes.append(Probe("token", True))
    report.probes.append(Probe("application user (WhoAmI)", True, report.user_id))
    return True


async def _read(client: DataverseClient, entity_set: str, primary_id: str) -> Probe:
    name = f"read {entity_set}"
    try:
        await client.get(entity_set, params={"$select": primary_id, "$top": "1"})
    except RequestRefused as error:
        return _refused(name, error)
    return Probe(name, True)


async def _columns(
    client: DataverseClient, logical: str, prefix: str, report: CheckReport
) -> list[str]:
    """Rapport's columns present on `logical`; a probe for the missing ones."""
    name = f"Rapport's columns on {logical}"
    try:
        found = await existing_columns(client, logical)
    except RequestRefused as error:
        report.probes.append(_refused(name, error))
        return []
    wanted = [column.logical_name(prefix) for column in COLUMNS]
    missing = [column for column in wanted if column not in found]
    if missing:
        fix = "run `rapport dataverse provision` (the check never creates them)"
        report.probes.append(Probe(name, False, f"missing {', '.join(missing)}", fix))
    else:
        report.probes.append(Probe(name, True))
    return [column for column in wanted if column in found]


async def _write(
    client: DataverseClient, logical: str, entity_set: str, columns: list[str]
) -> Probe:
    name = f"write Rapport's columns on {logical}"
    try:
        await client.send(
            "PATCH",
            f"{entity_set}({NO_RECORD})",
            headers={"If-Match": "*"},
            body=dict.fromkeys(columns),
        )
    except RecordMissing:
        return Probe(name, True)  # allowed to write; there was just nothing to write to
    except RequestRefused as error:
        return _refused(name, error)
    return Probe(name, False, "a record that cannot exist was written", "report this")
