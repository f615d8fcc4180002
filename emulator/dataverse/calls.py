"""What a handler gets: the request, its caller and route parameters; the errors every
handler may raise about them."""

from __future__ import annotations

from dataclasses import dataclass

from emulator.dataverse import metadata
from emulator.dataverse.environment import ApplicationUser
from emulator.dataverse.errors import PRIVILEGE_DENIED, DataverseError
from emulator.dataverse.http import ApiRequest
from emulator.dataverse.store import TableData


@dataclass
class Call:
    request: ApiRequest
    user: ApplicationUser
    params: dict[str, str]
    in_batch: bool


def require_method(call: Call, allowed: str) -> None:
    if call.request.method != allowed:
        raise not_allowed(call.request.method)


def not_allowed(method: str) -> DataverseError:
    return DataverseError(405, "0x80060888", f"The HTTP method '{method}' is not allowed here.")


def privilege_denied(user: ApplicationUser, privilege: str, data: TableData) -> DataverseError:
    table = data.table
    # prvCreateAttribute stands alone; table privileges end in the schema name (prvReadContact)
    name = privilege if privilege.endswith("Attribute") else privilege + metadata.schema_name(table)
    privilege_id = metadata.metadata_id("privilege", name)
    return DataverseError(
        403,
        PRIVILEGE_DENIED,
        f"Principal user (Id={user.systemuserid}, type=8, roleCount=1, privilegeCount=0, "
        f"accessMode=4), is missing {name} privilege (Id={privilege_id}) on "
        f"OTC={table.object_type_code} for entity '{table.logical_name}'. "
        f"context.Caller={user.systemuserid}",
    )
