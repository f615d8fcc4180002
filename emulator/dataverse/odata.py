"""The OData query options a connector sends: $select, $filter, $orderby, $top.

$filter supports comparisons of a property with a literal (eq ne gt ge lt le), joined
by and/or, negated by not, grouped by parentheses. Literals: 'text' ('' escapes a
quote), numbers, true/false/null, GUIDs and date-times. As in Dataverse, text compares
without regard to case. The same evaluator filters metadata (EntityDefinitions,
Attributes), whose property names are PascalCase.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from emulator.dataverse.errors import bad_request

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<paren>[()])|(?P<comma>,)"
    r"|(?P<word>[A-Za-z0-9_.:+\-@]+))"
)
_OPERATORS = {"eq", "ne", "gt", "ge", "lt", "le"}
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?$"
)

_NORMAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

Predicate = Callable[[Mapping[str, Any]], bool]


def normalise_datetime(text: str) -> str:
    """ISO text in UTC, seconds precision, `Z` suffix: the form rows hold and compare in."""
    if _NORMAL_DATETIME.match(text):  # already so: most values, and large fixtures load fast
        return text
    value = text.replace("Z", "+00:00")
    if len(value) == 10:
        value += "T00:00:00+00:00"
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tokens(text: str) -> list[str]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        found = _TOKEN.match(text, position)
        if found is None or found.end() == position:
            raise bad_request(f"Syntax error at position {position} in '{text}'.")
        tokens.append(found.group().strip())
        position = found.end()
    return tokens


def _literal(token: str) -> Any:
    if token.startswith("'"):
        return token[1:-1].replace("''", "'")
    lowered = token.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if _GUID.match(token):
        return token.lower()
    if _DATETIME.match(token) and "-" in token[:5]:
        return normalise_datetime(token)
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError as exc:
        raise bad_request(f"Syntax error: '{token}' is not a valid literal.") from exc


def _comparable(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _compare(op: str, left: Any, right: Any) -> bool:
    left, right = _comparable(left), _comparable(right)
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        if op == "gt":
            return bool(left > right)
        if op == "ge":
            return bool(left >= right)
        if op == "lt":
            return bool(left < right)
        return bool(left <= right)
    except TypeError as exc:
        raise bad_request(f"The operator '{op}' cannot compare {left!r} and {right!r}.") from exc


@dataclass
class _Parser:
    tokens: list[str]
    known: Callable[[str], bool]
    position: int = 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise bad_request("Syntax error: the $filter expression ends too early.")
        self.position += 1
        return token

    def expression(self) -> Predicate:
        left = self.conjunction()
        while (self.peek() or "").lower() == "or":
            self.take()
            right = self.conjunction()
            left = _either(left, right)
        return left

    def conjunction(self) -> Predicate:
        left = self.negation()
        while (self.peek() or "").lower() == "and":
            self.take()
            right = self.negation()
            left = _both(left, right)
        return left

    def negation(self) -> Predicate:
        if (self.peek() or "").lower() == "not":
            self.take()
            inner = self.negation()
            return lambda row: not inner(row)
        return self.primary()

    def primary(self) -> Predicate:
        token = self.take()
        if token == "(":
            inner = self.expression()
            if self.take() != ")":
                raise bad_request("Syntax error: ')' expected in $filter.")
            return inner
        name = token
        if not self.known(name):
            raise bad_request(f"Could not find a property named '{name}' on this type.")
        op = self.take().lower()
        if op not in _OPERATORS:
            raise bad_request(f"Syntax error: '{op}' is not a supported operator.")
        value = _literal(self.take())
        return lambda row: _compare(op, row.get(name), value)


def _either(left: Predicate, right: Predicate) -> Predicate:
    return lambda row: left(row) or right(row)


def _both(left: Predicate, right: Predicate) -> Predicate:
    return lambda row: left(row) and right(row)


def parse_filter(text: str, known: Callable[[str], bool]) -> Predicate:
    """A predicate over rendered rows; DataverseError (400) naming what is wrong."""
    parser = _Parser(_tokens(text), known)
    predicate = parser.expression()
    if parser.peek() is not None:
        raise bad_request(f"Syntax error at '{parser.peek()}' in $filter.")
    return predicate


def parse_select(text: str | None, known: Callable[[str], bool]) -> list[str] | None:
    if not text:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if not known(name):
            raise bad_request(f"Could not find a property named '{name}' on type.")
    return names


def parse_orderby(text: str | None, known: Callable[[str], bool]) -> list[tuple[str, bool]]:
    """[(property, descending)]."""
    if not text:
        return []
    order = []
    for clause in text.split(","):
        parts = clause.split()
        if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1] not in ("asc", "desc")):
            raise bad_request(f"Syntax error in $orderby: '{clause.strip()}'.")
        if not known(parts[0]):
            raise bad_request(f"Could not find a property named '{parts[0]}' on type.")
        order.append((parts[0], len(parts) == 2 and parts[1] == "desc"))
    return order


def parse_top(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        top = int(text)
    except ValueError as exc:
        raise bad_request(f"Invalid value '{text}' for $top.") from exc
    if top < 0:
        raise bad_request(f"Invalid value '{text}' for $top.")
    return top


def sort_key(value: Any) -> tuple[int, Any]:
    """Nulls first (as SQL Server sorts them), text without regard to case."""
    if value is None:
        return (0, "")
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value).casefold())
