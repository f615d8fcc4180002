"""The insights book (tests/insights/seeded.py) plus what a record page shows and a
second team: seller A (u1, team east with u2), seller B (u3, team west, owns o8), a
manager, stakeholders and a weakest key contact on o1, an introducer of c1, and one
interaction regarding o1 (metadata only)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from starlette.requests import Request

from storage.crm_tables import Opportunity, OpportunityStakeholder
from storage.rapport_tables import Interaction, InteractionParty, Introducer, RelationshipKpi
from storage.types import core_table
from tests import factories as f
from tests.insights.seeded import FAIR, NOW, TODAY, seed_book
from web.app import create_app
from web.identity import Viewer

SELLER_A = Viewer(system_user_id="u1", name="Ana Seller")
SELLER_B = Viewer(system_user_id="u3", name="Cleo West")
MANAGER = Viewer(system_user_id="u9", name="Max Manager", is_manager=True)
ROLES = {"seller_a": SELLER_A, "seller_b": SELLER_B, "manager": MANAGER}
FACTORS = [
    {"name": "recency", "points": 12.5, "detail": "last reply 20 days ago"},
    {"name": "reciprocity", "points": 8.0, "detail": "they answer half our emails"},
]


def seed(engine: Engine) -> None:
    seed_book(engine)
    f.user(engine, "u9", "max@ours.example", "Max Manager", team="managers")
    f.insert(
        engine,
        Opportunity,
        {
            "id": "o8",
            "name": "Deal o8",
            "account_id": "a2",
            "owner_id": "u3",
            "customer_contact_id": "c3",
            "status": "open",
            "estimated_revenue": 75_000.0,
            "estimated_close_date": TODAY + timedelta(days=20),
        },
    )
    f.insert(
        engine,
        RelationshipKpi,
        {
            "record_type": "opportunity",
            "record_id": "o8",
            "health_score": 52,
            "health_state": FAIR,
            "health_trend": 1,
            "reasons": ["west deal reason"],
            "weekly": [],
            "computed_at": NOW,
        },
    )
    f.insert(
        engine,
        OpportunityStakeholder,
        {"opportunity_id": "o1", "contact_id": "c1", "role": "Decision maker"},
        {"opportunity_id": "o1", "contact_id": "c2", "role": "Technical buyer"},
    )
    kpi = core_table(RelationshipKpi)
    with engine.begin() as connection:
        connection.execute(
            sa.update(kpi)
            .where(kpi.c.record_type == "opportunity", kpi.c.record_id == "o1")
            .values(
                factors=FACTORS,
                weakest_contact_id="c2",
                weakest_contact_role="Technical buyer",
                weakest_contact_score=30,
            )
        )
    f.insert(
        engine,
        Introducer,
        {
            "record_type": "contact",
            "record_id": "c1",
            "system_user_id": "u2",
            "rank": 1,
            "strength": 80,
            "strength_label": "strong",
            "last_interaction_at": NOW,
            "computed_at": NOW,
        },
    )
    f.insert(
        engine,
        Interaction,
        {
            "key": "crm:act-1",
            "source": "crm",
            "kind": "meeting",
            "direction": "outbound",
            "occurred_at": NOW - timedelta(days=3),
            "duration_minutes": 45.0,
            "regarding_type": "opportunity",
            "regarding_id": "o1",
        },
    )
    f.insert(
        engine,
        InteractionParty,
        {
            "interaction_key": "crm:act-1",
            "record_type": "system_user",
            "record_id": "u1",
            "role": "organizer",
            "side": "internal",
        },
        {
            "interaction_key": "crm:act-1",
            "record_type": "contact",
            "record_id": "c1",
            "role": "required",
            "side": "external",
        },
    )


def app_for(engine: Engine, viewer: Viewer, *, trial: bool = False) -> FastAPI:
    """The app with its viewer set by the test (the identity seam; no setting does this)."""
    return create_app(engine, _always(viewer), trial=trial, clock=lambda: NOW)


def _always(viewer: Viewer) -> Callable[[Request], Viewer]:
    def resolve(request: Request) -> Viewer:
        return viewer

    return resolve
