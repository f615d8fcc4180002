"""Who took part in each visit (scoring.tally.Tally.add), for every record at once.

A visit is held when it happened with the record's people: their emails are
engaged when one of them wrote it (or, for a record reached only through its
regarding, when a CRM person wrote it), else only "in the loop"; a meeting is
held and engaged by the answers of the record's people among its invitees
(every invitee's when none of them is), each answer exploded per attendee.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scoring.columnar.by_record import weighted
from scoring.columnar.columns import (
    CALL,
    EMAIL,
    MEETING,
    RESPONSE_CODES,
    ROLE_CODES,
    Bools,
    Floats,
    Ints,
)
from scoring.columnar.party_tables import SetTables
from scoring.columnar.visits import Visits, contains, expand
from scoring.model import Response, Role
from scoring.tally import ACCEPTANCE

_ACCEPTANCE = np.array(
    [1.0, *(ACCEPTANCE[response] for response in Response)], dtype=np.float64
)  # by response code; code 0 (no answer recorded) is never read through this
_PRESENT = np.array(
    [False, *(response in (Response.ACCEPTED, Response.TENTATIVE) for response in Response)]
)
_ORGANIZER = ROLE_CODES[Role.ORGANIZER]
_NO_RESPONSE = RESPONSE_CODES[None]


@dataclass
class Participation:
    """Per visit: held, engaged, in the loop; our meeting invitations with an answer
    (visit, person, response code) in the order the pass meets them; and each
    meeting with attendees' acceptance (its visit, weight x acceptance / attendees)."""

    held: Bools
    engaged: Bools
    loop: Bools
    invitation_visit: Ints
    invitation_person: Ints
    invitation_response: Ints
    acceptance_visit: Ints
    acceptance_value: Floats


def participation(
    visits: Visits,
    tables: SetTables,
    kind: npt.NDArray[np.int8],
    inbound: Bools,
    set_of: Ints,
    history: Bools,
    weight: Floats,
) -> Participation:
    """Who took part in the `history` visits, each of `kind`, `inbound`, with the
    party set `set_of`, weighing `weight`."""
    record = visits.record
    engaged = (kind == CALL) & history
    held = history.copy()
    # Their emails: engaged when one of the record's people wrote them, or when
    # they reached the record only through its regarding and a CRM person wrote them.
    theirs = np.flatnonzero(history & (kind == EMAIL) & inbound)
    author = tables.author[tables.of(set_of[theirs])]
    wrote = (author >= 0) & (
        contains(visits.members, record[theirs] * visits.people_count + author)
        | ~visits.has_person[theirs]
    )
    engaged[theirs[wrote]] = True
    loop = np.zeros(len(record), dtype=np.bool_)
    loop[theirs[~wrote]] = True
    held[theirs[~wrote]] = False
    del author, wrote, theirs
    meetings = _Meetings(visits, tables, np.flatnonzero(history & (kind == MEETING)), set_of)
    meeting, owner = meetings.meeting, meetings.owner
    ours = ~inbound[meeting[owner]]
    there = (meetings.response == _NO_RESPONSE) | (~ours & (meetings.role == _ORGANIZER))
    took_part = there | _PRESENT[meetings.response]
    some_took_part = np.bincount(owner[took_part], minlength=len(meeting)) > 0
    with_attendees = meetings.attendees > 0
    held[meeting] = some_took_part | ~with_attendees
    engaged[meeting] = some_took_part
    # acceptance_sum: weight * acceptance / attendees, per meeting with attendees
    accepted = weighted(owner, np.where(there, 1.0, _ACCEPTANCE[meetings.response]), len(meeting))
    acceptance_visit = meeting[with_attendees]
    invited = ours & ~there
    return Participation(
        held=held,
        engaged=engaged,
        loop=loop,
        invitation_visit=meeting[owner[invited]],
        invitation_person=meetings.person[invited],
        invitation_response=meetings.response[invited],
        acceptance_visit=acceptance_visit,
        acceptance_value=weight[acceptance_visit]
        * accepted[with_attendees]
        / meetings.attendees[with_attendees],
    )


class _Meetings:
    """The attendees of some meetings: the record's people among the invitees, or
    every invitee when none of them is; one entry per (meeting, attendee)."""

    def __init__(self, visits: Visits, tables: SetTables, meeting: Ints, set_of: Ints) -> None:
        sets = tables.of(set_of[meeting])
        owner, offset = expand(tables.party_ptr[sets + 1] - tables.party_ptr[sets])
        party = tables.party_ptr[sets[owner]] + offset
        person = tables.party_person[party]
        record = visits.record[meeting[owner]]
        in_people = contains(visits.members, record * visits.people_count + person)
        any_in_people = np.bincount(owner[in_people], minlength=len(meeting)) > 0
        attendee = in_people | ~any_in_people[owner]
        party = party[attendee]
        self.meeting, self.owner, self.person = meeting, owner[attendee], person[attendee]
        self.role, self.response = tables.party_role[party], tables.party_response[party]
        self.attendees = np.bincount(self.owner, minlength=len(meeting))
