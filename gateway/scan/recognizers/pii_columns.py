"""PERSON: the values under a name column of an export or a table.

``id;name;segment`` over ``8911;Vellamo Tiilikainen;enterprise``: the header says what the field is,
where the name rules may see nothing they know (a name from outside the lists, in any case).  A line
of two or more fields separated by ``;``, tab, ``|`` or ``,`` whose fields are all short labels, one
of them a name column, makes the same field of each following line with as many fields a PERSON, up
to a blank line or a line of another shape: one to four words, no digits, not all everyday words.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from gateway.scan.recognizers.pii_base import OwnRecognizer

_NAME_COLUMNS = frozenset(
    [
        "name", "full name", "fullname", "full_name", "first name", "firstname", "first_name",
        "given name", "last name", "lastname", "last_name", "surname", "family name", "contact",
        "contact name", "contact_name", "customer", "customer name", "customer_name", "employee",
        "employee name", "employee_name", "owner", "assignee", "author", "requester", "reporter",
        "patient", "patient name", "client", "client name", "client_name", "recipient", "sender",
        "user", "user name", "display name", "display_name", "person", "nombre", "nom", "vorname",
        "nachname",
    ]
)  # fmt: skip
_LABEL = re.compile(r"[^\W\d][\w .-]{0,30}")
_SEPARATORS = (";", "\t", "|", ",")
_MAX_FIELD = 60
_SCORE = 0.7


def _fields(line: str, sep: str) -> list[tuple[int, int]]:
    """Spans of the fields of ``line`` split at ``sep``, quotes and spaces trimmed."""
    spans, pos = [], 0
    for part in line.split(sep):
        a, b = pos, pos + len(part)
        while a < b and line[a] in " \"'|":
            a += 1
        while b > a and line[b - 1] in " \"'|":
            b -= 1
        spans.append((a, b))
        pos += len(part) + 1
    return spans


class NameColumnRecognizer(OwnRecognizer):
    def __init__(self, ordinary: Callable[[str], bool] | None = None) -> None:
        """``ordinary(casefolded)``: an everyday word.  A value made only of those ("apples" under
        ``name`` in a price list, "Platform Team" under ``owner``) is not a person."""
        self.ordinary = ordinary
        super().__init__(supported_entities=["PERSON"], name="NameColumnRecognizer")

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        lines = text.split("\n")
        offsets = [0]
        for line in lines:
            offsets.append(offsets[-1] + len(line) + 1)
        i = 0
        while i < len(lines):
            found = self._header(lines[i])
            if found is None:
                i += 1
                continue
            sep, count, columns = found
            j = i + 1
            while j < len(lines) and lines[j].strip() and lines[j].count(sep) == count - 1:
                spans = _fields(lines[j], sep)
                for column in columns:
                    a, b = spans[column]
                    value = lines[j][a:b]
                    if 0 < b - a <= _MAX_FIELD and self._personal(value):
                        start = offsets[j] + a
                        results.append(self.result("PERSON", start, start + b - a, _SCORE, "name column"))
                j += 1
            i = j
        return results

    def _personal(self, value: str) -> bool:
        words = re.findall(r"[^\W\d_]+", value)
        if not words or "@" in value or any(c.isdigit() for c in value) or len(words) > 4:
            return False
        return self.ordinary is None or not all(self.ordinary(w.casefold()) for w in words)

    @staticmethod
    def _header(line: str) -> tuple[str, int, list[int]] | None:
        """(separator, number of fields, the name columns) when ``line`` is a header with a name column."""
        for sep in _SEPARATORS:
            if line.count(sep) < 1 or len(line) > 400:
                continue
            labels = [line[a:b].casefold() for a, b in _fields(line, sep)]
            if not all(_LABEL.fullmatch(label) for label in labels):
                continue
            columns = [k for k, label in enumerate(labels) if label in _NAME_COLUMNS]
            if columns:
                return sep, len(labels), columns
        return None
