"""The CRM contract's tables (docs/crm-contract.md) as Core tables, by name.

In the order a CRM's rows can be inserted in: each table after the tables its
rows name. The file import, the Dataverse pull, the demo CRM and the tests'
builders all write these tables with bulk Core statements; this is the one
list of them.
"""

from __future__ import annotations

import sqlalchemy as sa

from storage.crm_tables import (
    Account,
    Contact,
    CrmActivity,
    CrmActivityParty,
    Lead,
    Opportunity,
    OpportunityStakeholder,
    SystemUser,
)
from storage.types import core_table

CRM_TABLES: dict[str, sa.Table] = {
    core_table(model).name: core_table(model)
    for model in (
        SystemUser,
        Account,
        Contact,
        Lead,
        Opportunity,
        OpportunityStakeholder,
        CrmActivity,
        CrmActivityParty,
    )
}
