"""Introduction requests: who to ask, and the draft email asking them.

Who knows whom (scoring/introducers.py) ranks colleagues by the strength of
their relationship with one contact or lead. A seller who wants to meet that
person asks the strongest of them for an introduction, in an email drafted
from an admin-chosen template. The draft holds names, the introducer's
strength and the date of their last interaction: never what was said, which
Rapport does not hold.

Templates use ``{placeholder}`` fields (Python ``str.format`` syntax, literal
braces doubled: ``{{`` and ``}}``); only the names in :data:`PLACEHOLDERS`
are allowed, so a typo is refused when the admin stores the template rather
than showing up in a colleague's inbox. A first line ``Subject: ...`` is the
subject; the rest is the body.

Two account-level views sit beside it: the colleagues who know a company
best across its contacts (:func:`account_introducers`), and the customer's
side of "most contacted", its people who talk to us most
(:func:`customer_most_contacted`).

Pure: plain values in and out; the date of "today" is an argument.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any, Final

PLACEHOLDERS: Final[dict[str, str]] = {
    "introducer_name": "the colleague asked for the introduction",
    "introducer_first_name": "their first name",
    "requester_name": "the seller asking",
    "requester_first_name": "their first name",
    "person_name": "the contact or lead to be introduced to",
    "person_first_name": "their first name",
    "company": "the person's company (their account, or the lead's company)",
    "strength": "the introducer's strength with the person, 0-100",
    "strength_label": "strong, moderate or weak",
    "last_interaction_date": "the date of the introducer's last interaction with the person",
    "today": "the date the draft is made",
}

DEFAULT_TEMPLATE: Final = """Subject: Introduction to {person_name} at {company}?

Hi {introducer_first_name},

I am working with {company} and would like to get to know {person_name}.
Rapport shows you have a {strength_label} relationship with them (strength
{strength} of 100; your last interaction was on {last_interaction_date}).

Would you be willing to introduce me? A short email to both of us would be
perfect, and I am happy to draft it for you.

Thank you,
{requester_first_name}
"""

SUBJECT_PREFIX = "subject:"
# Used when a template has no "Subject:" line.
DEFAULT_SUBJECT = "Introduction to {person_name}"


class TemplateError(ValueError):
    """A template refused; the message names the problem and what is allowed."""


def allowed_placeholders() -> str:
    return ", ".join("{" + name + "}" for name in PLACEHOLDERS)


def template_fields(template: str) -> list[str]:
    """The placeholder names a template uses, in order; TemplateError when malformed."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as broken:
        raise TemplateError(
            f"introduction.template: {broken}; write {{{{ and }}}} for literal braces"
        ) from None
    return [field for _text, field, _spec, _conversion in parsed if field is not None]


def validate_template(template: str) -> str:
    """The template unchanged, or TemplateError naming the first unknown placeholder.

    Format specs and conversions ("{strength:>3}", "{company!r}") are refused as
    well: a template is text with names in it, nothing more.
    """
    if not template.strip():
        raise TemplateError("introduction.template: the template is empty")
    for _text, field, spec, conversion in _parsed(template):
        if field is None:
            continue
        if field not in PLACEHOLDERS or spec or conversion:
            shown = "{" + field + (f"!{conversion}" if conversion else "")
            shown += (f":{spec}" if spec else "") + "}"
            raise TemplateError(
                f"introduction.template: unknown placeholder {shown}; "
                f"allowed: {allowed_placeholders()}"
            )
    return template


def _parsed(template: str) -> list[tuple[str, str | None, str | None, str | None]]:
    template_fields(template)  # raises TemplateError on broken braces
    return list(string.Formatter().parse(template))


@dataclass(frozen=True, slots=True)
class Colleague:
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class Draft:
    """An introduction request, ready to show or to save as an email."""

    sender: Colleague  # the seller asking
    recipient: Colleague  # the introducer
    subject: str
    body: str


def first_name(full_name: str) -> str:
    parts = full_name.split()
    return parts[0] if parts else full_name


def choose_introducer(
    introducers: Sequence[Mapping[str, Any]], *, requester_id: str, named: str | None = None
) -> Mapping[str, Any] | None:
    """The introducer to ask: the one `named` (id or address), else the strongest.

    The seller asking is never their own introducer: when they are the
    strongest, the next one is chosen. `introducers` come strongest first, as
    stored. None when nobody fits.
    """
    others = [row for row in introducers if row["system_user_id"] != requester_id]
    if named is None:
        return others[0] if others else None
    wanted = named.strip().lower()
    for row in others:
        if wanted in (str(row["system_user_id"]).lower(), str(row["email"]).strip().lower()):
            return row
    return None


def _date(value: datetime | date | None) -> str:
    if value is None:
        return "unknown"
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def draft_introduction(
    template: str,
    *,
    requester: Colleague,
    introducer: Mapping[str, Any],
    person_name: str,
    company: str | None,
    today: date,
) -> Draft:
    """Fill `template` for asking `introducer` (a stored introducer row with
    full_name, email, strength, strength_label, last_interaction_at)."""
    validate_template(template)
    values = {
        "introducer_name": introducer["full_name"],
        "introducer_first_name": first_name(introducer["full_name"]),
        "requester_name": requester.name,
        "requester_first_name": first_name(requester.name),
        "person_name": person_name,
        "person_first_name": first_name(person_name),
        "company": company or "their company",
        "strength": str(introducer["strength"]),
        "strength_label": introducer["strength_label"],
        "last_interaction_date": _date(introducer.get("last_interaction_at")),
        "today": today.isoformat(),
    }
    subject_template, body_template = split_subject(template)
    return Draft(
        sender=requester,
        recipient=Colleague(introducer["full_name"], introducer["email"]),
        # A name with a line break must not start a new header line.
        subject=" ".join(subject_template.format(**values).split()),
        body=body_template.format(**values),
    )


def split_subject(template: str) -> tuple[str, str]:
    """(subject template, body template): a first line "Subject: ..." is the subject."""
    first, _newline, rest = template.lstrip("\n").partition("\n")
    if first.lower().startswith(SUBJECT_PREFIX):
        return first[len(SUBJECT_PREFIX) :].strip(), rest.lstrip("\n")
    return DEFAULT_SUBJECT, template


# --- account level ---------------------------------------------------------------


def account_introducers(rows: Iterable[Mapping[str, Any]], limit: int = 10) -> list[dict[str, Any]]:
    """Who knows a company best, across its contacts, best first.

    `rows`: the stored introducer rows of the account's contacts, each with
    system_user_id, full_name, email, strength, strength_label,
    last_interaction_at and the contact's record_id and name (person_name).
    A colleague's account strength is their strongest relationship with any
    of its contacts (an introduction needs one good relationship, not many
    weak ones); ties go to whoever knows more of its people, then to the more
    recent acquaintance, then by id.
    """
    colleagues: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = colleagues.setdefault(
            row["system_user_id"],
            {
                "system_user_id": row["system_user_id"],
                "name": row["full_name"],
                "email": row["email"],
                "strength": -1,
                "contacts_known": 0,
                "best_known": None,
                "last_interaction_at": None,
            },
        )
        entry["contacts_known"] += 1
        if row["strength"] > entry["strength"]:
            entry["strength"], entry["strength_label"] = row["strength"], row["strength_label"]
            entry["best_known"] = {"record_id": row["record_id"], "name": row["person_name"]}
        last = row.get("last_interaction_at")
        if last is not None and (
            entry["last_interaction_at"] is None or last > entry["last_interaction_at"]
        ):
            entry["last_interaction_at"] = last
    ranked = sorted(colleagues.values(), key=_account_order)
    return [{"rank": rank, **entry} for rank, entry in enumerate(ranked[:limit], start=1)]


def _account_order(entry: Mapping[str, Any]) -> tuple[int, int, float, str]:
    last = entry["last_interaction_at"]
    return (
        -entry["strength"],
        -entry["contacts_known"],
        -(last.timestamp() if last is not None else 0.0),
        entry["system_user_id"],
    )


FROM_THEM_FIELDS = ("emails_received", "meetings_received", "phone_calls_received")


def customer_most_contacted(
    contacts: Iterable[Mapping[str, Any]], limit: int = 5
) -> list[dict[str, Any]]:
    """The customer's people who talk to us most, most first.

    `contacts`: each contact's stored KPIs (record_id, name, emails_received,
    meetings_received, phone_calls_received, emails_sent, last_activity_at).
    "Talking to us" counts what they started: emails they wrote, meetings they
    organised, calls they made, over the scoring run's KPI window. Contacts who
    never reached out are left out; ties go to the more recent activity, then id.
    """
    ranked = []
    for row in contacts:
        from_them = sum(int(row.get(field) or 0) for field in FROM_THEM_FIELDS)
        if from_them > 0:
            ranked.append(
                {
                    "record_id": row["record_id"],
                    "name": row["name"],
                    "from_them": from_them,
                    **{field: int(row.get(field) or 0) for field in FROM_THEM_FIELDS},
                    "last_activity_at": row.get("last_activity_at"),
                }
            )
    ranked.sort(key=lambda r: (-r["from_them"], -_epoch(r["last_activity_at"]), r["record_id"]))
    return ranked[:limit]


def _epoch(value: datetime | None) -> float:
    return 0.0 if value is None else value.timestamp()


def to_eml(draft: Draft, *, at: datetime, notice: str) -> bytes:
    """The draft as an RFC 5322 message (CRLF line ends) any mail client opens.

    `X-Unsent: 1` makes Outlook open it as a draft to send; the notice rides
    in its own header so it never ends up in the text the colleague reads.
    """
    message = EmailMessage()
    message["From"] = formataddr((draft.sender.name, draft.sender.email))
    message["To"] = formataddr((draft.recipient.name, draft.recipient.email))
    message["Subject"] = draft.subject
    message["Date"] = format_datetime(at)
    message["X-Unsent"] = "1"
    message["X-Rapport-Notice"] = notice
    message.set_content(draft.body)
    return message.as_bytes(policy=policy.SMTP)


def to_text(draft: Draft) -> str:
    return (
        f"From: {formataddr((draft.sender.name, draft.sender.email))}\n"
        f"To: {formataddr((draft.recipient.name, draft.recipient.email))}\n"
        f"Subject: {draft.subject}\n\n{draft.body}"
    )
