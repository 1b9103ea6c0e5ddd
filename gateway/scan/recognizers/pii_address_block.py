"""STREET_ADDRESS from the layout of an address: the lines of a postal block, the fields of an export.

The street recognizer (``pii_address``) starts from a street word or a known street shape and grows
over the lines after it.  A block whose street line has no word it knows ("139 Mågevænget",
"Eptanisoy 268") left the postcode line, the apartment line and the street line behind, and so did a
postcode line on its own ("40428 Nivala") and the fields of a CRM export (``"Hetteikkö 964","38259",
"Paimio"``).  Here the *cells* of a text are read instead: its lines, and within a line holding two
or more field separators (``","``, ``;``, tab, ``|``), its fields.  Then:

* a **postcode cell**: a postcode (optionally with a country prefix, "DK-4564") and one to four place
  words, in either order, or a postcode alone in a field of a row; years ("2024 Roadmap") and place
  words that are all English dictionary words (but not places: "Lessen" is a town) are not; a
  three-digit code ("389 Sandgerði") or a bare one counts only with a street or unit cell beside it;
* the **street and unit cells** beside it, up to three cells before it (or anywhere in its row): a
  house number next to one to five words ("139 Mågevænget", "Kosma toy Aitoloy 428"), and a unit
  ("Apt 36", "Flat 5C", "Suite 155", "3. OG");

are each a STREET_ADDRESS.  A postcode cell alone on its line is one too, at a lower score.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from gateway.scan.recognizers.pii_base import OwnRecognizer

# The Dutch "1590 NH" first: read as "1590" and the place "NH Zuidermeer", the letters are no place word.
_CODE = (
    r"(?:[A-Z]{1,3}-)?(?:\d{4}[ ]?[A-Z]{2}(?![^\W\d_])|\d{3,6}(?:-\d{3,4})?|\d{3}[ ]\d{2}|\d{2}-\d{3}"
    r"|[A-Z]\d[A-Z][ ]?\d[A-Z]\d|[A-Z]{1,2}\d[A-Z\d]?[ ]?\d[A-Z\d]{2})"
)
_WORD = r"[^\W\d_][\w'\u2019.()-]*"
_PLACE = rf"{_WORD}(?:[ ]{_WORD}){{0,4}}"
_POSTCODE_CELL = re.compile(
    rf"(?:(?P<code>{_CODE})(?:,?[ ]+(?P<after>{_PLACE}))?|(?P<before>{_PLACE}),?[ ]+(?P<code2>{_CODE}))"
)
_NUMBER = r"\d{1,5}[a-zA-Z]?(?:[-/]\d{1,4}[a-zA-Z]?)?"
_STREET_CELL = re.compile(
    rf"(?:{_NUMBER},?[ ]+{_WORD}(?:[ ]+{_WORD}){{0,4}}|{_WORD}(?:[ ]+{_WORD}){{0,4}},?[ ]+{_NUMBER})"
)
# In a field of an export, where the row says what it is, a longer street ending in its number, with
# numbers and slashes inside ("Alley Rua 6 965", "Palacio de Gobierno del Estado de Aguascalientes 583").
_ROW_STREET_CELL = re.compile(rf"{_WORD}(?:[ ]+[\w'\u2019.()/-]+){{0,7}},?[ ]+{_NUMBER}")
_UNIT_CELL = re.compile(
    r"(?i:apt\.?|apartment|suite|ste\.?|unit|flat|floor|fl\.?|room|rm\.?|bldg\.?|building|box|"
    r"wohnung|whg\.?|etage|piso|andar|étage|appartement|app\.?|lgh\.?|lejl\.?)[ ]?\#?\d{1,5}[a-zA-Z]?"
    r"|\d{1,2}\.?[ ]?(?:OG|EG|UG|DG|et\.?|étage|piso|th|st|nd|rd)(?:[ ]floor)?|\d{1,3}[ ]?(?:tv|th|mf)\.?"
)
_YEAR = re.compile(r"(?:19|20)\d\d")
# Postal talk; not "address" alone, which is as often an IP or a memory address.
_ADDRESS_CUE = re.compile(
    r"(?i)post(?:al)?[ ]?code|\bzip\b|zip[ ]?code|\bstreet|shipping|deliver|mailing|\bpostal"
    r"|(?:home|billing|delivery|postal|mailing|street|office|new|old|my|her|his|their|our|your|the)[ ]address"
    r"|address[ ](?:line|label|block|field|book|change)"
)
# A word of a place name: a capital, then small letters (hyphens and apostrophes between): not a
# product ("MongoDB", "X1") and not a sentence ("office opens").  Particles inside one ("Frankfurt am
# Main", "Saint-Martin-de-Ré") may be small.
_PLACE_WORD = re.compile(r"[^\W\d_a-zß-ÿ][^\W\d_A-Z]*(?:['\u2019.-][^\W\d_][^\W\d_A-Z]*)*\.?")
_PARTICLES_TEXT = (
    "am an der den de des di da do la le les los el sur sous lès upon on of im in ob bei i y e et und "
    "na nad pod dos das del della"
)
_PARTICLES = frozenset(_PARTICLES_TEXT.split())
_FIELD_SEPARATORS = re.compile(r'"\s*[,;]\s*"|[;\t|]')
_QUOTES = " \t\"'>*-•"
_MAX_CELL = 80
# Cells either side of a postcode cell that may belong to its block (before it: its lines; after it:
# the rest of its row); a bound, so that a text of many postcode lines costs linear time.
_REACH = 3
_ADDRESSEE_SCORE = 0.5


def _cells(text: str) -> Iterator[tuple[int, int, int]]:
    """(row, start, end) of each cell, quotes and bullets trimmed; a line is one row."""
    pos = 0
    for row, line in enumerate(text.split("\n")):
        bounds = [0]
        if len(_FIELD_SEPARATORS.findall(line)) >= 2:
            for sep in _FIELD_SEPARATORS.finditer(line):
                bounds += [sep.start(), sep.end()]
        bounds.append(len(line))
        for a, b in zip(bounds[::2], bounds[1::2], strict=True):
            while a < b and line[a] in _QUOTES:
                a += 1
            while b > a and line[b - 1] in _QUOTES + ",.":
                b -= 1
            if b > a:
                yield row, pos + a, pos + b
        pos += len(line) + 1


class AddressBlockRecognizer(OwnRecognizer):
    def __init__(self, ordinary: Callable[[str], bool] | None = None) -> None:
        """``ordinary(casefolded)``: an English dictionary word that is not a place; place words that
        are all such words ("48213 Closed") do not make a postcode line."""
        self.ordinary = ordinary
        super().__init__(supported_entities=["STREET_ADDRESS"], name="AddressBlockRecognizer")

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if not any(d in text for d in "0123456789"):
            return []
        cells = [c for c in _cells(text) if c[2] - c[1] <= _MAX_CELL]
        per_row: dict[int, int] = {}
        for row, _, _ in cells:
            per_row[row] = per_row.get(row, 0) + 1
        shapes = [self._street_or_unit(text[start:end], in_row=per_row[row] > 1) for row, start, end in cells]
        spans: dict[tuple[int, int], float] = {}
        cue: bool | None = None  # an address word anywhere in the text; looked for on first need
        for i, (row, start, end) in enumerate(cells):
            kind = self._postcode(text[start:end], in_row=per_row[row] > 1)
            if kind is None:
                continue
            if kind in ("short", "year", "plain") and per_row[row] == 1:
                # "508 Fáskrúðsfjörður", "1981 Mistelbach", "56681 Myrtle Beach" alone on a line: a
                # postcode line where the text speaks of a postal address, a count or a year elsewhere.
                if cue is None:
                    cue = _ADDRESS_CUE.search(text) is not None
                if cue:
                    kind = "line"
            # Beside a postcode of everyday words, a street needs a word that is none ("12 Open tests").
            found = [
                j
                for j in range(max(0, i - _REACH), min(len(cells), i + _REACH + 1))
                if j != i
                and (shapes[j] or (shapes[j] is not None and kind != "plain"))
                and (cells[j][0] == row or (j < i and row - cells[j][0] <= _REACH))
            ]
            if not found and kind != "line":
                continue
            score = 0.75 if found else 0.55
            block = (i, *found)
            addressee = self._addressee(text, cells, per_row, min(block)) if found else None
            for j in block:
                key = (cells[j][1], cells[j][2])
                spans[key] = max(score, spans.get(key, 0.0))
            if addressee is not None:  # under what finds the name as a person's
                key = (cells[addressee][1], cells[addressee][2])
                spans[key] = max(_ADDRESSEE_SCORE, spans.get(key, 0.0))
        return [
            self.result("STREET_ADDRESS", start, end, score, "address block")
            for (start, end), score in spans.items()
        ]

    def _postcode(self, cell: str, *, in_row: bool) -> str | None:
        """What kind of postcode cell ``cell`` is, if any.  "line": a postcode and place words, enough
        alone; the others only with a street or unit cell beside them: "bare", a postcode alone in a
        field of a row; "short", a three-digit code (Iceland, the Faroes); "plain", a postcode and
        everyday words ("48213 Closed", or a town no list knows: "1741 Lessen")."""
        match = _POSTCODE_CELL.fullmatch(cell)
        if match is None:
            return None
        code = match.group("code") or match.group("code2") or ""
        if not any(ch.isdigit() for ch in code):
            return None
        year = _YEAR.fullmatch(code) is not None  # "1981 Mistelbach" under a street; "2024 Roadmap" alone
        words = (match.group("after") or match.group("before") or "").split()
        if not words:
            return "bare" if in_row and not year else None
        if not all(self._place_word(w, i) for i, w in enumerate(words)):
            return None  # "10115 Berlin office opens Monday", "27017 MongoDB", "250 Thinkpad X1"
        # A code of letters and digits ("CL2H 9NI", "1590 NH") or in two parts ("76135-421") says
        # postcode whatever the words; digits alone beside everyday words may be a count.
        shaped = not code.isdigit()
        if (
            not shaped
            and self.ordinary is not None
            and all(self.ordinary(w.casefold().strip(".()")) for w in words)
        ):
            return "plain"
        if year:
            return "year"
        return "short" if len(code) == 3 else "line"

    def _place_word(self, word: str, at: int) -> bool:
        """A word of a place name: capitalised, or in capitals ("SPAIN"), a particle inside it, or
        after its first word a small word that is no everyday word (a country in small letters)."""
        if _PLACE_WORD.fullmatch(word) or (word.isupper() and len(word) >= 2 and word.isalpha()):
            return True
        if not at or not word.isalpha():
            return False
        return word in _PARTICLES or (
            word.islower() and self.ordinary is not None and not self.ordinary(word.casefold())
        )

    def _addressee(
        self, text: str, cells: list[tuple[int, int, int]], per_row: dict[int, int], first: int
    ) -> int | None:
        """The cell of the line just above a block's first line when it names whom the post is for:
        one to four capitalised words on a line of their own ("Jade Mclane", "Dagmár Bank")."""
        if first == 0:
            return None
        row, start, end = cells[first - 1]
        if row != cells[first][0] - 1 or per_row[row] != 1 or per_row[cells[first][0]] != 1:
            return None
        words = text[start:end].split()
        if not 1 <= len(words) <= 4 or text[end : end + 1] == ":":
            return None
        if not all(_PLACE_WORD.fullmatch(w) or (i and w in _PARTICLES) for i, w in enumerate(words)):
            return None
        ordinary = self.ordinary
        return None if ordinary is not None and all(ordinary(w.casefold()) for w in words) else first - 1

    def _street_or_unit(self, cell: str, *, in_row: bool = False) -> bool | None:
        """None: neither a unit nor a house number beside words.  True: a unit, or that shape with a
        word that is no everyday word (a street name).  False: the shape in everyday words only
        ("12 Mill Lane", and as much "3 Install Python" in a list of steps)."""
        if _UNIT_CELL.fullmatch(cell):
            return True
        street = _STREET_CELL.fullmatch(cell) or (in_row and _ROW_STREET_CELL.fullmatch(cell))
        if not street or _YEAR.fullmatch(re.sub(r"\D", "", cell)) or cell[:1] == "0":
            return None
        words = re.findall(r"[^\W\d_]+", cell)
        return self.ordinary is None or not all(self.ordinary(w.casefold()) for w in words)
