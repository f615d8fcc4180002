"""Relationship-analytics admin settings: keys, allowed values, validation.

The values live in the `ri_settings` table and change only through
`rapport settings set`, one key at a time, audited. Health grading is stored
as two minimums (Good, Fair); every range is derived from them, so adjacent
bounds move together and a gap or an overlap cannot be expressed at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from insights.introductions import DEFAULT_TEMPLATE, TemplateError, validate_template
from scoring.model import Frequency, Kind, ScoringSettings
from storage.audit import record_event
from storage.engine import session_scope
from storage.settings_repo import load_settings, save_settings

INFLUENCE_MIN, INFLUENCE_MAX, INFLUENCE_NEUTRAL = 3, 9, 6

INFLUENCE_KEYS = {
    "influence.email": Kind.EMAIL,
    "influence.meeting": Kind.MEETING,
    "influence.phone_call": Kind.CALL,
    "influence.task": Kind.TASK,
}
INTRODUCERS_SWITCH = "switch.who_knows_whom"  # who-knows-whom, and drafting introductions
SWITCH_KEYS = (
    "switch.relationship_analytics",
    "switch.show_health",
    "switch.exchange_data_source",
    INTRODUCERS_SWITCH,
)
# The introduction request's template: set from a file, stored as its text.
TEMPLATE_KEY = "introduction.template"
TEMPLATE_MAX_CHARS = 10_000
DEFAULTS: dict[str, Any] = {
    **dict.fromkeys(INFLUENCE_KEYS, INFLUENCE_NEUTRAL),
    "communication_frequency": Frequency.WEEKLY.value,
    "grading.good_min": 60,
    "grading.fair_min": 40,
    **dict.fromkeys(SWITCH_KEYS, True),
    TEMPLATE_KEY: DEFAULT_TEMPLATE,
}
TRUE_WORDS, FALSE_WORDS = ("on", "true", "yes", "1"), ("off", "false", "no", "0")


class SettingError(ValueError):
    """A value refused for a key; the message names the key, value and what is allowed."""


@dataclass(frozen=True)
class GradeRange:
    grade: str
    low: int
    high: int


FREQUENCIES = tuple(f.value for f in Frequency)


def _int_bounds(key: str, current: Mapping[str, Any]) -> tuple[int, int] | None:
    if key in INFLUENCE_KEYS:
        return INFLUENCE_MIN, INFLUENCE_MAX
    if key == "grading.good_min":  # Fair needs at least one point below Good
        return int(current["grading.fair_min"]) + 1, 100
    if key == "grading.fair_min":  # Poor keeps at least 0; Fair stays below Good
        return 1, int(current["grading.good_min"]) - 1
    return None


def allowed(key: str, current: Mapping[str, Any]) -> str:
    """What `key` accepts given the other current values (shown and used in refusals)."""
    bounds = _int_bounds(key, current)
    if bounds is not None:
        return f"an integer {bounds[0]}-{bounds[1]}"
    if key in SWITCH_KEYS:
        return "on or off"
    if key == "communication_frequency":
        return f"one of {', '.join(FREQUENCIES)}"
    if key == TEMPLATE_KEY:
        return "a UTF-8 text file holding the template (docs/insights.md), or 'default'"
    raise SettingError(f"{key!r} is not a setting; allowed keys: {', '.join(DEFAULTS)}")


def _refuse(key: str, shown: object, current: Mapping[str, Any]) -> SettingError:
    return SettingError(f"{key}: {shown} is not allowed; expected {allowed(key, current)}")


def parse_value(
    key: str, raw: str, current: Mapping[str, Any], *, template_from_file: bool = True
) -> Any:
    """Turn the text an admin typed into the stored value, or refuse it. The template is
    named by a file (the CLI) or, with template_from_file=False, is `raw` (the web form)."""
    expected = allowed(key, current)  # refuses an unknown key first
    bounds = _int_bounds(key, current)
    if bounds is not None:
        try:
            value = int(raw.strip())
        except ValueError:
            raise _refuse(key, repr(raw), current) from None
        if not bounds[0] <= value <= bounds[1]:
            raise _refuse(key, value, current)
        return value
    if key == TEMPLATE_KEY:
        if template_from_file or raw.strip().lower() == "default":
            return _template(raw)
        return template_text(raw, "the template")
    word = raw.strip().lower()
    if key in SWITCH_KEYS and word in TRUE_WORDS + FALSE_WORDS:
        return word in TRUE_WORDS
    frequency = word.replace("-", "_").replace(" ", "_")
    if key == "communication_frequency" and frequency in FREQUENCIES:
        return frequency
    raise SettingError(f"{key}: {raw!r} is not allowed; expected {expected}")


def _template(raw: str) -> str:
    """The template text from the file named (or the default), placeholders checked."""
    if raw.strip().lower() == "default":
        return DEFAULT_TEMPLATE
    try:
        with open(raw, encoding="utf-8") as source:
            text = source.read(TEMPLATE_MAX_CHARS + 1)
    except (OSError, UnicodeDecodeError) as problem:
        reason = problem.strerror if isinstance(problem, OSError) else "not UTF-8 text"
        raise SettingError(
            f"{TEMPLATE_KEY}: cannot read {raw!r} ({reason}); "
            "expected a UTF-8 text file holding the template, or 'default'"
        ) from None
    return template_text(text, repr(raw))


def template_text(text: str, shown: str) -> str:
    """The template `text` once its length and placeholders are checked."""
    if len(text) > TEMPLATE_MAX_CHARS:
        raise SettingError(
            f"{TEMPLATE_KEY}: {shown} is too long; expected at most {TEMPLATE_MAX_CHARS} characters"
        )
    try:
        return validate_template(text)
    except TemplateError as refusal:
        raise SettingError(str(refusal)) from None


def grade_ranges(values: Mapping[str, Any]) -> tuple[GradeRange, ...]:
    good, fair = int(values["grading.good_min"]), int(values["grading.fair_min"])
    return (
        GradeRange("Good", good, 100),
        GradeRange("Fair", fair, good - 1),
        GradeRange("Poor", 0, fair - 1),
    )


def current_settings(engine: Engine) -> dict[str, Any]:
    with session_scope(engine) as session:
        stored = load_settings(session=session)
    return {**DEFAULTS, **{k: v for k, v in stored.items() if k in DEFAULTS}}


def change_setting(
    engine: Engine,
    key: str,
    raw: str,
    *,
    now: datetime,
    actor: str | None = None,
    command: str = "settings set",
    template_from_file: bool = True,
) -> tuple[Any, Any]:
    """Validate and store one setting with its audit row; returns (old, new). The web
    admin page passes who changed it (`actor`, else the OS user) and its `command`."""
    with session_scope(engine) as session:
        values = {**DEFAULTS, **load_settings(session=session)}
        new = parse_value(key, raw, values, template_from_file=template_from_file)
        old = values[key]
        if new != old:
            save_settings(session=session, values={key: new}, at=now)
            record_event(
                session=session,
                at=now,
                command=command,
                action="setting_changed",
                details={"key": key, "old": old, "new": new},
                actor=actor,
            )
    return old, new


def scoring_settings(values: Mapping[str, Any]) -> ScoringSettings:
    return ScoringSettings(
        influence={kind: int(values[key]) for key, kind in INFLUENCE_KEYS.items()},
        frequency=Frequency(values["communication_frequency"]),
        good_min=int(values["grading.good_min"]),
        fair_min=int(values["grading.fair_min"]),
        analytics_enabled=bool(values["switch.relationship_analytics"]),
    )
