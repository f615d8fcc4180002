"""Human labels for the stored vocabularies (Dataverse option-set values)."""

from __future__ import annotations

from scoring.model import HealthState, Trend

STATE_LABELS = {
    HealthState.GOOD: "Good",
    HealthState.FAIR: "Fair",
    HealthState.POOR: "Poor",
    HealthState.NOT_ENOUGH_INFO: "Not enough info",
    HealthState.NO_CLOSED_ACTIVITIES: "No closed activities",
    HealthState.COMPUTATION_IN_PROGRESS: "Computation in progress",
    HealthState.SOMETHING_WENT_WRONG: "Something went wrong",
    HealthState.RECORD_OLDER_THAN_2_YEARS: "Record older than 2 years",
}
TREND_LABELS = {
    Trend.IMPROVING: "Improving",
    Trend.STEADY: "Steady",
    Trend.DECLINING: "Declining",
    Trend.NOT_ENOUGH_INFO: "Not enough info",
    Trend.SOMETHING_WENT_WRONG: "Something went wrong",
    Trend.NOT_APPLICABLE: "Not applicable",
}


def state_label(value: int | None) -> str:
    return "Not applicable" if value is None else STATE_LABELS[HealthState(value)]


def trend_label(value: int | None) -> str:
    return "Not applicable" if value is None else TREND_LABELS[Trend(value)]
