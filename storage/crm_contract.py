"""The CRM contract's tables (docs/crm-contract.md) as Core tables, by name.

In the order a CRM's rows can be inserted in: each table after the tables its
rows name. The file import, the Dataverse pull, the demo CRM and the tests'
builders all write these tables with bulk Core statements; this is the one
list of them.
"""

from __future__ import annotations

import sqlalchemy as sa

from storage import crm_tables as crm
from storage.types import core_table

CRM_TABLES: dict[str, sa.Table] = {
    core_table(model).name: core_table(model)
    for model in (
        crm.SystemUser,
        crm.Account,
        crm.Contact,
        crm.Lead,
        crm.Opportunity,
        crm.OpportunityStakeholder,
        crm.CrmActivity,
        crm.CrmActivityParty,
    )
}
