"""Who is in the demo CRM: our sellers, customer companies and their people.

Names and companies are fictional (the usual Microsoft sample companies), so a
demo can be shown anywhere. Record ids are GUIDs derived from a readable
name with uuid5: stable across runs and seeds, and shaped like a CRM's ids.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

OUR_DOMAIN = "northwindtraders.com"
_ID_NAMESPACE = uuid.UUID("5d1c1e0a-3f5b-4c8e-9a57-0f2b8e6d4a11")

# (full name, team); the last one left the company and is disabled in the CRM.
SELLERS = (
    ("Elena Petrova", "Enterprise"),
    ("James Whitfield", "Enterprise"),
    ("Aiko Tanaka", "Enterprise"),
    ("Rafael Moreno", "Mid-Market"),
    ("Grace Mensah", "Mid-Market"),
    ("Lukas Brandt", "Mid-Market"),
    ("Sofia Lindqvist", "Customer Success"),
    ("Omar Haddad", "Customer Success"),
    ("Nadia Kowalski", None),
)

COMPANIES = (
    ("Woodgrove Bank", "woodgrovebank.com"),
    ("Contoso Pharmaceuticals", "contosopharma.com"),
    ("Fabrikam Residences", "fabrikam.com"),
    ("Adventure Works Cycles", "adventure-works.com"),
    ("Tailspin Toys", "tailspintoys.com"),
    ("Litware Inc.", "litwareinc.com"),
    ("Wingtip Toys", "wingtiptoys.com"),
    ("Alpine Ski House", "alpineskihouse.com"),
    ("Coho Winery", "cohowinery.com"),
    ("Proseware Inc.", "proseware.com"),
    ("Fourth Coffee", "fourthcoffee.com"),
    ("Lucerne Publishing", "lucernepublishing.com"),
    ("Margie's Travel", "margiestravel.com"),
    ("Trey Research", "treyresearch.net"),
    ("Wide World Importers", "wideworldimporters.com"),
    ("Humongous Insurance", "humongousinsurance.com"),
    ("Blue Yonder Airlines", "blueyonderairlines.com"),
    ("City Power & Light", "cpandl.com"),
    ("Consolidated Messenger", "consolidatedmessenger.com"),
    ("VanArsdel Ltd.", "vanarsdel.com"),
    ("Relecloud", "relecloud.com"),
    ("A. Datum Corporation", "adatum.com"),
    ("Lamna Healthcare", "lamnahealthcare.com"),
    ("Tailwind Traders", "tailwindtraders.com"),
    ("Graphic Design Institute", "graphicdesigninstitute.com"),
)

# Companies of leads: prospects that are not accounts yet.
PROSPECTS = (
    ("Bellows College", "bellowscollege.com"),
    ("Best For You Organics", "bestforyouorganics.com"),
    ("Southridge Video", "southridgevideo.com"),
    ("Munson's Pickles and Preserves", "munsonspickles.com"),
    ("School of Fine Art", "fineartschool.net"),
    ("Datum Logistics", "datumlogistics.com"),
    ("Northridge Robotics", "northridgerobotics.com"),
    ("Cascade Outfitters", "cascadeoutfitters.com"),
)

FIRST_NAMES = tuple(
    (
        "Anna Ben Carla David Emeka Fatima George Hana Ivan Julia Kwame Laura Mateo Nina "
        "Oliver Paula Quentin Rosa Samir Tara Umar Vera William Xin Yusuf Zoe Ingrid Luis Mei "
        "Pavel Chloe Arjun Beatriz Connor Dana Erik Farah Hugo Isla Kenji"
    ).split()
)
LAST_NAMES = tuple(
    (
        "Schmidt Nguyen Garcia Okonkwo Johansson Rossi Kim Dubois Novak Silva Murphy Patel "
        "Fischer Costa Yamamoto Andersen Reyes Walsh Bianchi Ivanova Clarke Haddad Mendes "
        "Larsen Sato Keller Owusu Jensen Moreau Chen Brennan Alvarez Nakamura Popescu Ahmed "
        "Weber"
    ).split()
)


@dataclass(frozen=True)
class Person:
    """Someone who can be a party to an activity: a seller, contact or lead."""

    record_type: str  # system_user, contact or lead
    record_id: str
    full_name: str
    email: str
    alt_email: str | None = None  # the CRM's email2: an alias the person also writes from

    @property
    def first_name(self) -> str:
        return self.full_name.split(" ", 1)[0]


@dataclass(frozen=True)
class Company:
    record_id: str
    name: str
    domain: str


def record_id(record_type: str, key: str | int) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{record_type}/{key}"))


def address_for(full_name: str, domain: str, style: int) -> str:
    """A corporate address in one of the usual shapes (first.last, flast, first)."""
    first, last = full_name.lower().replace("'", "").split(" ", 1)
    last = last.replace(" ", "")
    local = (f"{first}.{last}", f"{first[0]}{last}", f"{first}")[style % 3]
    return f"{local}@{domain}"


def sellers() -> list[Person]:
    return [
        Person("system_user", record_id("system_user", n), name, address_for(name, OUR_DOMAIN, 0))
        for n, (name, _team) in enumerate(SELLERS)
    ]


def seller_rows(people: list[Person]) -> list[dict[str, object]]:
    return [
        {
            "id": person.record_id,
            "email": person.email,
            "full_name": person.full_name,
            "team": team,
            "disabled": team is None,
        }
        for person, (_name, team) in zip(people, SELLERS, strict=True)
    ]


class NameBook:
    """Hands out distinct full names, so every address in the demo is unambiguous."""

    def __init__(self, rng: random.Random, taken: set[str]) -> None:
        self._rng = rng
        self._taken = set(taken)

    def new_name(self) -> str:
        while True:
            name = f"{self._rng.choice(FIRST_NAMES)} {self._rng.choice(LAST_NAMES)}"
            if name not in self._taken:
                self._taken.add(name)
                return name
