"""Relationship scoring: interactions + settings + `now` in, health out.

Pure functions over plain data (scoring/model.py): no database, no clock, no
network. The formulas and constants are documented in docs/scoring.md.
"""

from scoring.introducers import Introducer, StrengthLabel, rank_introducers
from scoring.model import (
    Direction,
    Factor,
    Frequency,
    HealthState,
    Interaction,
    Kind,
    Kpis,
    Party,
    RecordHealth,
    RecordRef,
    RecordScope,
    RecordType,
    Response,
    Role,
    ScoringSettings,
    StakeholderRole,
    Trend,
    WeakestContact,
    WeekCounts,
)
from scoring.pipeline import ScoringRun, score_record, score_records
from scoring.scope import belongs_to

__all__ = [
    "Direction",
    "Factor",
    "Frequency",
    "HealthState",
    "Interaction",
    "Introducer",
    "Kind",
    "Kpis",
    "Party",
    "RecordHealth",
    "RecordRef",
    "RecordScope",
    "RecordType",
    "Response",
    "Role",
    "ScoringRun",
    "ScoringSettings",
    "StakeholderRole",
    "StrengthLabel",
    "Trend",
    "WeakestContact",
    "WeekCounts",
    "belongs_to",
    "rank_introducers",
    "score_record",
    "score_records",
]
