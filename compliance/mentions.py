"""Finding and replacing a subject's identifiers inside free text and JSON values.

Reasons, factor details and audit details are sentences and JSON documents
written by other code, so the subject can only be found by its identifiers
(addresses, names, record ids). A match must stand alone: "Ana" is found in
"Ana declined" but not in "Diana", "analysis", "user-ana-10" or
"ana@example.com", and "ana@ours.example" not in "ana@ours.example.net", so
erasing one person never mangles another's text or identifiers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

# Letters, digits, "_", "-", "." and "@" glue identifiers together: a term must
# not touch them. A full stop that ends a sentence (not followed by a word) may.
NO_GLUE_BEFORE = r"(?<![\w.@-])"
NO_GLUE_AFTER = r"(?![\w@-]|\.\w)"


class Mentions:
    """Case-insensitive, whole-word matching of a fixed set of terms."""

    def __init__(self, terms: Iterable[str]) -> None:
        wanted = sorted({t for t in terms if t.strip()}, key=lambda t: (-len(t), t))
        alternatives = "|".join(re.escape(term) for term in wanted)
        self._pattern = (
            re.compile(rf"{NO_GLUE_BEFORE}(?:{alternatives}){NO_GLUE_AFTER}", re.IGNORECASE)
            if wanted
            else None
        )

    def found_in(self, value: Any) -> bool:
        """Whether any string inside the value (keys included) names the subject."""
        if self._pattern is None:
            return False
        if isinstance(value, str):
            return self._pattern.search(value) is not None
        if isinstance(value, dict):
            return any(self.found_in(k) or self.found_in(v) for k, v in value.items())
        if isinstance(value, list | tuple):
            return any(self.found_in(item) for item in value)
        return False

    def replaced(self, value: Any, token: Callable[[str], str]) -> Any:
        """The value with every match swapped for `token(match)`; other values untouched."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            pattern = self._pattern
            return pattern.sub(lambda match: token(match.group(0)), value)
        if isinstance(value, dict):
            return {self.replaced(k, token): self.replaced(v, token) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.replaced(item, token) for item in value]
        return value

    def kept(self, items: list[Any]) -> list[Any]:
        """The entries of a JSON list that do not name the subject."""
        return [item for item in items if not self.found_in(item)]

    def matching(self, items: list[Any]) -> list[Any]:
        return [item for item in items if self.found_in(item)]
