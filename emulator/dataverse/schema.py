"""The tables the emulator serves: entity set, logical name, primary id and typed columns.

Column kinds decide how a written value is checked and how a row is rendered: a lookup
is stored as the referenced id plus the referenced table, and rendered as
`_{name}_value` (with the `Microsoft.Dynamics.CRM.lookuplogicalname` annotation when
asked for). Columns created through the metadata API are added to `Table.columns`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Connection role categories (connectionrole.category); Stakeholder is what marks the
# roles a deal's stakeholders hold.
STAKEHOLDER_CATEGORY = 1000


@dataclass(frozen=True)
class Column:
    name: str  # logical name
    kind: str  # string, integer, decimal, money, boolean, datetime, picklist, lookup, guid
    targets: tuple[str, ...] = ()  # lookups: logical names of the tables it may point to
    custom: bool = False
    schema_name: str = ""
    metadata: dict[str, object] | None = None  # the attribute metadata it was created with
    # A multi-table lookup has one single-valued navigation property per target table,
    # `{name}_{target}` (parentcustomerid_account, partyid_contact), except an activity's
    # regarding: its relationships are per activity table too, `{name}_{target}_{activity}`
    # (regardingobjectid_opportunity_email). This is that trailing `_{activity}`.
    navigation_suffix: str = ""

    def navigation(self, target: str) -> str:
        """The single-valued navigation property a client binds to point at `target`."""
        if len(self.targets) < 2:
            return self.name
        return f"{self.name}_{target}{self.navigation_suffix}"

    @property
    def value_name(self) -> str:
        """The property a row shows: `_x_value` for a lookup, the name otherwise."""
        return f"_{self.name}_value" if self.kind == "lookup" else self.name


@dataclass
class Table:
    logical_name: str
    entity_set: str
    primary_id: str
    primary_name: str
    columns: dict[str, Column] = field(default_factory=dict)
    object_type_code: int = 10000

    def column_for_property(self, prop: str) -> Column | None:
        """The column behind a property name as a client writes or selects it."""
        if prop.startswith("_") and prop.endswith("_value"):
            column = self.columns.get(prop[1:-6])
            return column if column is not None and column.kind == "lookup" else None
        column = self.columns.get(prop)
        # a lookup is read as `_x_value`; its bare name is a navigation property, not a column
        return None if column is None or column.kind == "lookup" else column

    def navigation_target(self, navigation: str) -> tuple[Column, str] | None:
        """(lookup column, target table) of a single-valued navigation property, or None:
        the table declares no such property."""
        for column in self.columns.values():
            if column.kind == "lookup":
                for target in column.targets:
                    if column.navigation(target) == navigation:
                        return column, target
        return None

    def wire_names(self) -> dict[str, str]:
        """Property name on the wire -> column name, where they differ (lookups)."""
        return {c.value_name: c.name for c in self.columns.values() if c.kind == "lookup"}


_COMMON = (
    ("createdon", "datetime"),
    ("modifiedon", "datetime"),
    ("versionnumber", "integer"),
)
_SYSTEMUSER = "systemuser"
_CUSTOMER = ("account", "contact")
_REGARDING = ("account", "contact", "lead", "opportunity")
_PARTY = ("systemuser", "contact", "lead", "account")


def _table(
    logical: str,
    entity_set: str,
    primary_name: str,
    otc: int,
    columns: list[tuple[str, str] | tuple[str, str, tuple[str, ...]]],
    *,
    primary_id: str | None = None,
    owned: bool = True,
) -> Table:
    pid = primary_id or f"{logical}id"
    table = Table(logical, entity_set, pid, primary_name, object_type_code=otc)
    specs: list[tuple[str, str] | tuple[str, str, tuple[str, ...]]] = [(pid, "guid")]
    specs += list(_COMMON) + columns
    if owned:
        specs.append(("ownerid", "lookup", (_SYSTEMUSER,)))
    for spec in specs:
        targets = spec[2] if len(spec) == 3 else ()
        suffix = f"_{logical}" if spec[0] == "regardingobjectid" else ""
        table.columns[spec[0]] = Column(spec[0], spec[1], tuple(targets), navigation_suffix=suffix)
    return table


_ACTIVITY: list[tuple[str, str] | tuple[str, str, tuple[str, ...]]] = [
    ("subject", "string"),
    ("statecode", "picklist"),
    ("statuscode", "picklist"),
    ("actualstart", "datetime"),
    ("actualend", "datetime"),
    ("scheduledstart", "datetime"),
    ("scheduledend", "datetime"),
    ("actualdurationminutes", "integer"),
    ("regardingobjectid", "lookup", _REGARDING),
]


def standard_tables() -> dict[str, Table]:
    """Fresh table definitions keyed by entity set (custom columns are added per emulator)."""
    tables = [
        _table(
            "systemuser",
            "systemusers",
            "fullname",
            8,
            [
                ("fullname", "string"),
                ("firstname", "string"),
                ("lastname", "string"),
                ("internalemailaddress", "string"),
                ("isdisabled", "boolean"),
                ("azureactivedirectoryobjectid", "guid"),
                ("applicationid", "guid"),
                ("businessunitid", "lookup", ("businessunit",)),
            ],
            owned=False,
        ),
        _table(
            "account",
            "accounts",
            "name",
            1,
            [
                ("name", "string"),
                ("accountnumber", "string"),
                ("telephone1", "string"),
                ("fax", "string"),
                ("emailaddress1", "string"),
                ("websiteurl", "string"),
                ("statecode", "picklist"),
                ("primarycontactid", "lookup", ("contact",)),
            ],
        ),
        _table(
            "contact",
            "contacts",
            "fullname",
            2,
            [
                ("fullname", "string"),
                ("firstname", "string"),
                ("lastname", "string"),
                ("emailaddress1", "string"),
                ("emailaddress2", "string"),
                ("emailaddress3", "string"),
                ("jobtitle", "string"),
                ("statecode", "picklist"),
                ("parentcustomerid", "lookup", _CUSTOMER),
            ],
        ),
        _table(
            "lead",
            "leads",
            "fullname",
            4,
            [
                ("fullname", "string"),
                ("firstname", "string"),
                ("lastname", "string"),
                ("emailaddress1", "string"),
                ("companyname", "string"),
                ("statecode", "picklist"),
                ("statuscode", "picklist"),
            ],
        ),
        _table(
            "opportunity",
            "opportunities",
            "name",
            3,
            [
                ("name", "string"),
                ("statecode", "picklist"),
                ("statuscode", "picklist"),
                ("estimatedvalue", "money"),
                ("estimatedclosedate", "datetime"),
                ("actualclosedate", "datetime"),
                ("parentaccountid", "lookup", ("account",)),
                ("parentcontactid", "lookup", ("contact",)),
                ("customerid", "lookup", _CUSTOMER),
            ],
        ),
        _table(
            "connectionrole",
            "connectionroles",
            "name",
            3231,
            [("name", "string"), ("category", "picklist"), ("statecode", "picklist")],
            owned=False,
        ),
        _table(
            "connection",
            "connections",
            "name",
            3234,
            [
                ("name", "string"),
                ("statecode", "picklist"),
                ("record1id", "lookup", _REGARDING),
                ("record2id", "lookup", _REGARDING + (_SYSTEMUSER,)),
                ("record1roleid", "lookup", ("connectionrole",)),
                ("record2roleid", "lookup", ("connectionrole",)),
            ],
        ),
        _table(
            "email",
            "emails",
            "subject",
            4202,
            _ACTIVITY + [("directioncode", "boolean"), ("messageid", "string")],
            primary_id="activityid",
        ),
        _table("appointment", "appointments", "subject", 4201, _ACTIVITY, primary_id="activityid"),
        _table(
            "phonecall",
            "phonecalls",
            "subject",
            4210,
            _ACTIVITY + [("directioncode", "boolean")],
            primary_id="activityid",
        ),
        _table("task", "tasks", "subject", 4212, _ACTIVITY, primary_id="activityid"),
        _table(
            "activityparty",
            "activityparties",
            "partyid",
            135,
            [
                ("activityid", "lookup", ("email", "appointment", "phonecall", "task")),
                ("partyid", "lookup", _PARTY),
                ("addressused", "string"),
                ("participationtypemask", "picklist"),
            ],
            owned=False,
        ),
    ]
    return {t.entity_set: t for t in tables}
