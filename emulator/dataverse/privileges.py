"""Privileges: what an application user's settings amount to, and the error for one it lacks.

Settings are per table (`read`, `write`) plus `customize`; Dataverse names the privileges
`prvRead{SchemaName}`, `prvCreate/Write/Delete{SchemaName}` and `prvCreateAttribute`.
"""

from __future__ import annotations

from emulator.dataverse import metadata
from emulator.dataverse.environment import ApplicationUser
from emulator.dataverse.errors import PRIVILEGE_DENIED, DataverseError
from emulator.dataverse.store import Store, TableData


def granted_privileges(store: Store, user: ApplicationUser) -> list[str]:
    """Privilege names the user's settings amount to (prvReadContact, prvWriteContact, ...)."""
    names = []
    for data in store.tables.values():
        schema = metadata.schema_name(data.table)
        if user.allows(data.table.logical_name, "read"):
            names.append(f"prvRead{schema}")
        if user.allows(data.table.logical_name, "write"):
            names += [f"prvCreate{schema}", f"prvWrite{schema}", f"prvDelete{schema}"]
    if user.customize:
        names.append("prvCreateAttribute")
    return names


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
