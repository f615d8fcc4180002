"""The statements of the first CRM ingest in SQL (storage.crm_bulk_ingest runs them).

They derive one share of the activities (those whose id hashes into the
share's SHARE_BUCKETS, `:first` to `:end`): each share runs on its own
connection, so PostgreSQL, one backend per statement, works on every share
at once. Derived rows land in temporary tables (`rapport_bulk_*`, gone with
the transaction); OUTPUTS are the rows each share hands to `interaction`,
`interaction_party` and `crm_activity_digest`, typed as those columns so
that a share can COPY them across in PostgreSQL's binary format.

A share takes three passes: its parties with whom they match (PARTIES),
its participants, one per person and role (MATCHED), and one statement over
its activities that digests each, sums up its participants (the owner added
where no colleague took part) and decides its outcome (OUTCOMES).

Every sort and grouping key is compared in the "C" collation: the keys are
compared for equality only, and byte order lets PostgreSQL sort with
abbreviated keys instead of the database's locale (several times slower).
"""

from __future__ import annotations

from collections.abc import Iterable

from storage.crm_activity_rules import (
    EARLIEST,
    MAX_DURATION_MINUTES,
    MAX_ENGAGEMENT,
    RESPONSE_CLARITY,
    SENDER_ROLES,
)
from storage.crm_tables import (
    ACTIVITY_DIRECTION_VALUES,
    ACTIVITY_KIND_VALUES,
    ACTIVITY_STATUS_VALUES,
    PARTY_RECORD_TYPE_VALUES,
    PARTY_RESPONSE_VALUES,
    PARTY_ROLE_VALUES,
    REGARDING_TYPE_VALUES,
)
from storage.packed_parties import FIELD_SEPARATOR, PARTY_SEPARATOR

# Each share's activities: those whose id hashes into its range of 100 buckets. The
# caller's share (0) is the smaller: after deriving it, that connection also writes it and
# then copies the others in, while a helper only derives (measured at 1M on 2 cores).
SHARE_BUCKETS = ((0, 47), (47, 100))
SHARES = len(SHARE_BUCKETS)
HELD = "BETWEEN '0001-01-01T00:00:00Z' AND '9999-12-31T23:59:59.999999Z'"


def _in(values: Iterable[str]) -> str:
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


def _share(column: str) -> str:
    """Whether the activity id `column` belongs to this pass's share (:first, :end)."""
    buckets = "int4range(CAST(:first AS int), CAST(:end AS int))"
    return f"{buckets} @> (hashtext({column}) & 2147483647) % 100"


def _text(column: str) -> str:
    """SQL for storage.crm_digests.digest_field of a text column."""
    return f"coalesce('s' || length({column}) || ':' || {column}, '~')"


def _number(column: str) -> str:
    return f"coalesce('i' || {column}, '~')"


def _time(column: str) -> str:
    return f"coalesce('t' || (extract(epoch FROM {column}) * 1000000)::bigint, '~')"


def _pair(record_type: str, record_id: str) -> str:
    both = f"{_text(record_type)} || {_text(record_id)}"
    return f"CASE WHEN {record_id} IS NULL THEN '~~' ELSE {both} END"


ACTIVITY_FIELDS = " || ".join(
    (
        _text("a.id"),
        _text("a.kind"),
        _text("a.owner_id"),
        _text("a.direction"),
        _text("a.status"),
        _time("a.start_at"),
        _time("a.end_at"),
        _text("a.regarding_type"),
        _text("a.regarding_id"),
        _text("a.conversation_id"),
        _text("a.internet_message_id"),
        _number("a.opens"),
        _number("a.clicks"),
        _time("a.modified_at"),
    )
)
PARTY_FIELDS = " || ".join(
    (
        "'p'",
        _number("p.id"),
        _text("p.activity_id"),
        _text("p.role"),
        _text("p.address"),
        _text("p.record_type"),
        _text("p.record_id"),
        _text("p.response"),
        _pair("p.ref_type", "p.ref_id"),
        _pair("p.addr_type", "p.addr_id"),
    )
)

# Each party of the share with whom it matches by reference and by address, and whether
# SQL may derive it (a value outside the contract is the Python rules' to report).
PARTIES = f"""
CREATE TEMP TABLE rapport_bulk_party ON COMMIT DROP AS
SELECT p.id, p.activity_id COLLATE "C" AS activity_id, p.role COLLATE "C" AS role, p.address,
    p.record_type, p.record_id, p.response,
    k.record_type AS ref_type, k.record_id AS ref_id,
    d.record_type AS addr_type, d.record_id AS addr_id,
    CASE WHEN p.record_type IS NOT NULL AND p.record_id IS NOT NULL
        THEN k.record_type ELSE d.record_type END COLLATE "C" AS matched_type,
    CASE WHEN p.record_type IS NOT NULL AND p.record_id IS NOT NULL
        THEN k.record_id ELSE d.record_id END COLLATE "C" AS matched_id,
    (p.address IS NULL OR octet_length(p.address) = length(p.address)) AS plain,
    (p.role IN {_in(PARTY_ROLE_VALUES)}
        AND (p.response IS NULL OR p.response IN {_in(PARTY_RESPONSE_VALUES)})
        AND (p.record_type IS NULL OR p.record_id IS NULL
            OR (p.record_type IN {_in(PARTY_RECORD_TYPE_VALUES)} AND k.record_id IS NOT NULL)))
        AS valid
FROM crm_activity_party p
LEFT JOIN rapport_bulk_known k
    ON p.record_type <> '' AND p.record_id <> ''
    AND k.record_type = p.record_type AND k.record_id = p.record_id
LEFT JOIN rapport_bulk_address d
    ON p.address <> '' AND octet_length(p.address) = length(p.address)
    AND d.address = lower(btrim(p.address, CAST(:spaces AS text)) COLLATE "C")
WHERE {_share("p.activity_id")}
"""

# PostgreSQL 15 sorts each group's rows apart for an aggregate's own ORDER BY: a sort begun
# and ended per activity, a third of the summaries' time. Rows handed over by a sorted
# subquery with nothing between it and the aggregate are aggregated in that order (the
# manual's "Aggregate Expressions"): one sort for the share instead.
PARTY_SUMMARY = f"""
SELECT p.activity_id, bool_and(p.plain) AS plain, bool_and(p.valid) AS valid,
    string_agg({PARTY_FIELDS}, '') AS digest_text
FROM (SELECT * FROM rapport_bulk_party ORDER BY activity_id, id) AS p GROUP BY p.activity_id
"""

_MESSAGE_KEY = "'msg:' || btrim(a.internet_message_id, CAST(:spaces AS text))"
_HAS_MESSAGE_KEY = "a.kind = 'email' AND a.internet_message_id <> ''"
# An interaction key two activities share, in any share: the Python rules settle which wins.
SHARED_KEYS = f"""
CREATE TEMP TABLE rapport_bulk_shared ON COMMIT DROP AS
SELECT {_MESSAGE_KEY} COLLATE "C" AS key FROM crm_activity a
WHERE {_HAS_MESSAGE_KEY} GROUP BY 1 HAVING count(*) > 1
"""

_OCCURRED = "coalesce(a.start_at, a.end_at)"
_KEY = f"CASE WHEN {_HAS_MESSAGE_KEY} THEN {_MESSAGE_KEY} ELSE 'crm:' || a.id END"
# What storage.crm_activity_rules checks before it derives (cancelled: the enums only).
_READABLE = " AND ".join(
    f"(a.{column} IS NULL OR a.{column} {HELD})" for column in ("start_at", "end_at", "modified_at")
)
_ENUMS = (
    f"a.kind IN {_in(ACTIVITY_KIND_VALUES)} AND a.status IN {_in(ACTIVITY_STATUS_VALUES)}"
    f" AND (a.direction IS NULL OR a.direction IN {_in(ACTIVITY_DIRECTION_VALUES)})"
    f" AND (a.regarding_type IS NULL OR a.regarding_type IN {_in(REGARDING_TYPE_VALUES)})"
    f" AND (a.regarding_id IS NULL OR a.regarding_id <> '')"
    " AND coalesce(s.plain, true)"
)
_WHOLE_SECONDS = "date_trunc('second', a.{0}) = a.{0}"
_DERIVABLE = f"""(
    {_OCCURRED} IS NOT NULL AND {_OCCURRED} >= '{EARLIEST.isoformat()}'
    AND NOT coalesce(a.status = 'completed' AND {_OCCURRED} > CAST(:soon AS timestamptz), false)
    AND NOT coalesce({_OCCURRED} > CAST(:latest AS timestamptz), false)
    AND (a.opens IS NULL OR a.opens BETWEEN 0 AND {MAX_ENGAGEMENT})
    AND (a.clicks IS NULL OR a.clicks BETWEEN 0 AND {MAX_ENGAGEMENT})
    AND (a.owner_id IS NULL OR o.record_id IS NOT NULL)
    AND coalesce(s.valid, true)
    AND (a.kind = 'email' OR a.start_at IS NULL OR a.end_at IS NULL OR a.end_at = a.start_at
        OR (a.end_at > a.start_at
            AND a.end_at - a.start_at <= interval '{int(MAX_DURATION_MINUTES)} minutes'
            AND {_WHOLE_SECONDS.format("start_at")} AND {_WHOLE_SECONDS.format("end_at")}))
)"""

_CLARITY = " ".join(
    f"WHEN '{response}' THEN {clarity}"
    for response, clarity in RESPONSE_CLARITY.items()
    if response is not None
)
# One person in one role is one participant: of the party rows naming them, the one
# with the clearest answer, then the lowest party id (storage.crm_activity_rules).
# Parties of an activity with a problem are matched too: the outcome leaves them out.
MATCHED = f"""
CREATE TEMP TABLE rapport_bulk_matched ON COMMIT DROP AS
SELECT DISTINCT ON (p.activity_id, p.matched_type, p.matched_id, p.role)
    p.activity_id, p.matched_type AS record_type, p.matched_id AS record_id, p.role,
    CASE WHEN p.matched_type = 'system_user' THEN 'internal' ELSE 'external' END AS side,
    r.response, {_OCCURRED} AS occurred_at
FROM rapport_bulk_party p
JOIN crm_activity a ON a.id COLLATE "C" = p.activity_id AND a.status <> 'cancelled'
CROSS JOIN LATERAL (SELECT CASE WHEN a.kind = 'appointment' THEN p.response END AS response) r
WHERE p.matched_id IS NOT NULL AND {_share("a.id")}
ORDER BY p.activity_id, p.matched_type, p.matched_id, p.role,
    CASE r.response {_CLARITY} ELSE 0 END DESC, p.id
"""

_PIECE = f" || '{FIELD_SEPARATOR}' || ".join(
    ("m.side", "m.record_type", "m.role", "coalesce(m.response, '')", "m.record_id")
)
# Each activity's participants: who took part, and their packed copy (storage.packed_parties).
# (In the packed copy's order: sorted by the subquery, as PARTY_SUMMARY's digest text.)
MATCHED_SUMMARY = f"""
SELECT m.activity_id,
    bool_or(m.side = 'external') AS has_customer,
    bool_or(m.side = 'internal') AS has_internal,
    bool_and(m.side <> 'internal' OR coalesce(m.occurred_at >= m.since, false))
        AS internal_covered,
    bool_or(m.role IN {_in(SENDER_ROLES)}) AS has_sender,
    bool_and(m.role NOT IN {_in(SENDER_ROLES)} OR m.side = 'external') AS senders_external,
    string_agg(m.piece, '{PARTY_SEPARATOR}') AS parties,
    count(*)::int AS party_count
FROM (
    SELECT m.activity_id, m.side, m.role, m.occurred_at, c.since,
        ({_PIECE}) COLLATE "C" AS piece
    FROM rapport_bulk_matched m
    LEFT JOIN rapport_bulk_covered c ON m.side = 'internal' AND c.user_id = m.record_id
    ORDER BY m.activity_id, piece
) AS m
GROUP BY m.activity_id
"""

_DIGEST = f"""CASE WHEN {_ENUMS} AND {_READABLE} AND sk.key IS NULL
        AND (a.status = 'cancelled' OR {_DERIVABLE})
        THEN md5(CAST(:context AS text) || {ACTIVITY_FIELDS} || coalesce(s.digest_text, '')
            || 'o' || {_pair("o.record_type", "o.record_id")}
            || 'e' || (e.regarding_id IS NOT NULL)::int
            || 'r' || coalesce(({_OCCURRED} < CAST(:not_before AS timestamptz))::int, 0)
            || 'a' || CASE
                WHEN {_OCCURRED} IS NULL OR CAST(:soon AS timestamptz) IS NULL
                    OR {_OCCURRED} <= CAST(:soon AS timestamptz) THEN 0
                WHEN {_OCCURRED} > CAST(:latest AS timestamptz) THEN 2
                ELSE 1 END)
    END"""
# A logged call often lists only the customer: the owner was the one talking. Then the
# owner is the one internal participant, and the last in the packed copy ('internal'
# sorts after 'external').
_OWNER_ROLE = (
    "CASE WHEN a.kind = 'appointment' THEN 'organizer'"
    " WHEN a.direction = 'incoming' THEN 'to' ELSE 'from' END"
)
_OWNER_PIECE = f" || '{FIELD_SEPARATOR}' || ".join(
    ("'internal'", "'system_user'", "a.owner_role", "''", "a.owner_id")
)
# Each activity of the share with its digest (NULL: left to the Python rules), its
# participants and its outcome.
OUTCOMES = f"""
CREATE TEMP TABLE rapport_bulk_outcome ON COMMIT DROP AS
SELECT a.id, a.key, a.kind, a.direction, a.status, a.start_at, a.end_at, a.occurred_at,
    a.regarding_type, a.regarding_id, a.regarding_erased, a.conversation_id, a.opens,
    a.clicks, a.digest, a.owner_id, a.owner_role, a.owner_added,
    CASE WHEN NOT a.owner_added THEN a.parties
        WHEN a.parties IS NULL THEN {_OWNER_PIECE}
        ELSE a.parties || '{PARTY_SEPARATOR}' || {_OWNER_PIECE} END AS parties,
    a.party_count + a.owner_added::int AS party_count,
    a.has_sender OR (a.owner_added AND a.owner_role IN {_in(SENDER_ROLES)}) AS has_sender,
    a.senders_external AND NOT (a.owner_added AND a.owner_role IN {_in(SENDER_ROLES)})
        AS senders_external,
    CASE
        WHEN a.status = 'cancelled' THEN 'none'
        WHEN NOT a.has_customer AND a.regarding_id IS NULL THEN 'none'
        WHEN a.occurred_at < CAST(:not_before AS timestamptz) THEN 'beyond_retention'
        WHEN a.regarding_erased AND NOT a.has_customer THEN 'none'
        WHEN a.kind IN ('email', 'appointment') AND (CASE WHEN a.owner_added
                THEN coalesce(a.occurred_at >= a.owner_since, false)
                ELSE a.has_internal AND a.internal_covered END) THEN 'covered'
        ELSE 'interaction'
    END AS outcome
FROM (
    SELECT a.id COLLATE "C" AS id, ({_KEY}) COLLATE "C" AS key, a.kind, a.direction,
        a.status, a.start_at, a.end_at, {_OCCURRED} AS occurred_at,
        a.regarding_type, a.regarding_id, e.regarding_id IS NOT NULL AS regarding_erased,
        a.conversation_id, a.opens, a.clicks, {_DIGEST} AS digest,
        a.owner_id, {_OWNER_ROLE} AS owner_role, oc.since AS owner_since,
        (a.status <> 'cancelled' AND o.record_id IS NOT NULL
            AND NOT coalesce(ms.has_internal, false)) AS owner_added,
        ms.parties, coalesce(ms.party_count, 0) AS party_count,
        coalesce(ms.has_customer, false) AS has_customer,
        coalesce(ms.has_internal, false) AS has_internal,
        coalesce(ms.internal_covered, false) AS internal_covered,
        coalesce(ms.has_sender, false) AS has_sender,
        coalesce(ms.senders_external, true) AS senders_external
    FROM crm_activity a
    LEFT JOIN ({PARTY_SUMMARY}) AS s ON s.activity_id = a.id COLLATE "C"
    LEFT JOIN ({MATCHED_SUMMARY}) AS ms ON ms.activity_id = a.id COLLATE "C"
    LEFT JOIN rapport_bulk_known o
        ON a.owner_id <> '' AND o.record_type = 'system_user' AND o.record_id = a.owner_id
    LEFT JOIN rapport_bulk_covered oc ON oc.user_id = a.owner_id
    LEFT JOIN rapport_bulk_erased e
        ON e.regarding_type = a.regarding_type AND e.regarding_id = a.regarding_id
    LEFT JOIN rapport_bulk_shared sk ON {_HAS_MESSAGE_KEY} AND sk.key = ({_KEY}) COLLATE "C"
    WHERE {_share("a.id")}
) AS a
"""

# The derivation of one share, in order; each takes the pass's parameters.
DERIVATION = (PARTIES, SHARED_KEYS, MATCHED, OUTCOMES)
TEMPORARY = ("outcome", "matched", "shared", "party")
_DERIVED = "digest IS NOT NULL"

INTERACTION_ROWS = f"""
SELECT key, 'crm',
    CASE kind WHEN 'email' THEN 'email' WHEN 'appointment' THEN 'meeting'
        WHEN 'phone_call' THEN 'call' ELSE 'task' END,
    CASE WHEN direction = 'outgoing' THEN 'outbound' WHEN direction = 'incoming' THEN 'inbound'
        WHEN has_sender AND senders_external THEN 'inbound' ELSE 'outbound' END,
    occurred_at,
    CASE WHEN kind = 'email' OR start_at IS NULL OR end_at IS NULL OR end_at = start_at THEN 0
        ELSE round(extract(epoch FROM end_at - start_at) / 60, 2)::float8 END,
    conversation_id,
    CASE WHEN regarding_erased OR regarding_id IS NULL THEN NULL ELSE regarding_type END,
    CASE WHEN regarding_erased THEN NULL ELSE regarding_id END,
    status = 'open', coalesce(opens, 0), coalesce(clicks, 0), id, parties, party_count
FROM rapport_bulk_outcome WHERE {_DERIVED} AND outcome = 'interaction'
"""

INTERACTION_PARTY_ROWS = f"""
SELECT o.key, m.record_type, m.record_id, m.role, m.side, m.response
FROM rapport_bulk_matched m JOIN rapport_bulk_outcome o ON o.id = m.activity_id
WHERE o.{_DERIVED} AND o.outcome = 'interaction'
UNION ALL
SELECT key, 'system_user', owner_id, owner_role, 'internal', NULL
FROM rapport_bulk_outcome WHERE {_DERIVED} AND outcome = 'interaction' AND owner_added
"""

DIGEST_ROWS = f"""
SELECT id, digest, outcome, CASE WHEN outcome = 'interaction' THEN key END
FROM rapport_bulk_outcome WHERE {_DERIVED}
"""

# What a share writes: (table, its columns, the rows in that order and those types).
OUTPUTS = (
    (
        "interaction",
        "key, source, kind, direction, occurred_at, duration_minutes, conversation_id,"
        " regarding_type, regarding_id, planned, opens, clicks, crm_activity_id,"
        " parties, party_count",
        INTERACTION_ROWS,
    ),
    (
        "interaction_party",
        "interaction_key, record_type, record_id, role, side, response",
        INTERACTION_PARTY_ROWS,
    ),
    ("crm_activity_digest", "activity_id, digest, outcome, interaction_key", DIGEST_ROWS),
)

OUTCOME_COUNTS = (
    f"SELECT outcome, count(*) FROM rapport_bulk_outcome WHERE {_DERIVED} GROUP BY outcome"
)
LEFT_TO_PYTHON = "SELECT id FROM rapport_bulk_outcome WHERE digest IS NULL"
