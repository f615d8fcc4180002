"""Load a CRM seed (the companion file `rapport emulator generate` writes) into the store.

The seed's format is documented in docs/emulator.md; it gives the CRM that a
generated tenant talks to: system users for the tenant's mailboxes, and the
accounts and contacts behind the customer addresses.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.crm_tables import Account, Contact, SystemUser
from storage.types import core_table


def load_crm_seed(engine: Engine, crm: dict[str, Any]) -> None:
    users = [
        {"id": u["id"], "email": u["email"], "full_name": u["name"], "team": u["team"]}
        for u in crm["systemUsers"]
    ]
    accounts = [{"id": a["id"], "name": a["name"]} for a in crm["accounts"]]
    contacts = [
        {
            "id": c["id"],
            "full_name": c["fullName"],
            "email": c["emails"][0],
            "account_id": c["accountId"],
        }
        for c in crm["contacts"]
    ]
    with engine.begin() as connection:
        for model, rows in ((SystemUser, users), (Account, accounts), (Contact, contacts)):
            if rows:
                connection.execute(sa.insert(core_table(model)), rows)
