"""LOCATION and NRP from gazetteers (``gateway.scan.pii_places``), and postcodes in context.

Places: every capitalised word starts a candidate; the longest sequence of up to five words (same
line, single spaces or hyphens between them) whose casefolded text is a known place is taken.  One
dict probe per candidate length: linear in the number of words.  An ambiguous name (an everyday word,
a person's name, under four letters) counts only in context: after "in", "from", "to", "near",
"visit" ... or followed by ", <known place>".  ALL-CAPS names count when they are at least four letters
long and not ambiguous ("LAPPEENRANTA", not "NO" or "US").

NRP: a capitalised demonym, religion or political group ("Icelandic", "Sikhs", "Democrats"); lower
case too for words that are not also ordinary English ("cambodian", "saudis", not "polish").

Postcodes (emitted as STREET_ADDRESS, the part of a postal address they are): a postcode-shaped
token after a cue ("zip", "postcode", "postal code", "PLZ", "CAP", "code postal"), after a US state
abbreviation ("Springfield, IL 62704"), or right after a known place ("Amsterdam 1012", "Bjert 6091").
"""

from __future__ import annotations

import re
from collections.abc import Callable

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from gateway.scan.pii_places import CLEAR, COUNTRY, MAX_WORDS, NAME, Gazetteer
from gateway.scan.recognizers.pii_base import OwnRecognizer

_WORD = re.compile(r"[^\W\d_][\w'\u2019.]*(?<![.'\u2019])")
_JOINERS = frozenset({" ", "-"})
_PLACE_CUE = re.compile(
    r"(?i)\b(?:in|from|to|near|at|of|into|via|visit(?:ed|ing)?|around|outside|across|towards?|"
    r"born|based|living|lives?|moved|travel(?:l?ed|l?ing)?|flew|fly(?:ing)?|drove|city|town|village|"
    r"capital|province|state|county|region|country|home\s*town)\s*[:,]?\s*$"
)
_STRONG_PLACE_CUE = re.compile(
    r"(?i)\b(?:in|near|visit(?:ed|ing)?|outside|(?:born|based|living|lives?|located|raised|grew\s+up)\s+(?:in|near)|"
    r"moved\s+to|flew\s+to|travel(?:l?ed|l?ing)\s+to|city\s+of|town\s+of|capital|province|county|"
    r"home\s*town)\s*[:,]?\s*$"
)
_US_STATES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "DC",
        "PR",
    ]
)
_POSTCODE = (
    r"(?:\d{5}(?:-\d{4})?|\d{4}(?:[ ]?[A-Z]{2}\b)?|\d{3}[ ]\d{2}|\d{2}-\d{3}|\d{4}-\d{3}|\d{5}-\d{3}|"
    r"[A-Z]\d[A-Z][ ]?\d[A-Z]\d|[A-Z]{1,2}\d[A-Z\d]?[ ]?\d[A-Z]{2}|\d{3,6})"
)
_POSTCODE_CUE = re.compile(
    rf"(?i)\b(?:zip(?:[ ]?code)?|post[ ]?code|postal[ ]code|plz|cap|code[ ]postal|c\.?p\.?|pin[ ]?code)"
    rf"(?:[ ](?:is|was|=))?[ ]*[:#=]?[ ]*(?P<code>{_POSTCODE})(?![\w-])"
)
_AFTER_STATE = re.compile(r"(?<![\w-])(?P<state>[A-Z]{2})[ ]+(?P<code>\d{5}(?:-\d{4})?)(?![\w-])")
_YEAR = re.compile(r"(?:19|20)\d\d")
_AFTER_PLACE = re.compile(
    rf"(?<![\w'\u2019.-])(?P<place>[^\W\d_a-z][\w'\u2019]*)[ ]+(?P<code>{_POSTCODE})(?![\w-]|[.,]\d)"
)


# Cues after which an unknown capitalised name is a place even when no list knows it ("flew to
# LEPPEN", "grew up in Khandallah"): travel and residence phrases, not a bare "in" or "at".
_TRAVEL_CUE = re.compile(
    r"(?i)\b(?:fl(?:ew|y|ying|ies)\s+(?:to|from|into)|mov(?:ed|ing|e)\s+(?:to|from)|arriv(?:ed|ing|es?)\s+(?:at|in)|"
    r"born\s+in|(?:live[sd]?|living|based|located|headquartered|settled|raised|grew\s+up|stay(?:ed|ing)?)\s+in|"
    r"trip\s+to|travel(?:l?ed|l?ing|s)?\s+to|(?:city|town|village|municipality)\s+of|relocat(?:ed|ing|e)\s+to|"
    r"visit(?:ed|ing)?|drove\s+to|road\s+trip\s+to|hometown\s+(?:is|of)|home\s+city|originally\s+from|"
    r"(?:i'?m|i\s+am|we'?re|we\s+are|currently|staying|stuck)\s+(?:in|at)|(?:return(?:ed|ing)?|coming|came|"
    r"heading|headed|going|went|commut(?:e|ed|ing))\s+(?:back\s+)?to)\s*:?\s*$"
)
_UNKNOWN_RUN = re.compile(r"[^\W\d_a-z][\w'\u2019-]*(?:[ ][^\W\d_a-z][\w'\u2019-]*){0,2}")


class PlaceRecognizer(OwnRecognizer):
    def __init__(self, gazetteer: Gazetteer, known_word: Callable[[str], bool] | None = None) -> None:
        """``known_word(casefolded)``: an everyday/dictionary word or a person's name, never taken as an
        unlisted place after a travel cue."""
        self.gazetteer = gazetteer
        self.known_word = known_word
        super().__init__(supported_entities=["LOCATION", "NRP"], name="PlaceRecognizer")

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
        results: list[RecognizerResult] = []
        g = self.gazetteer
        i, n = 0, len(words)
        while i < n:
            start, end = words[i]
            first = text[start:end]
            if not first[0].isupper():
                lower_nrp = first in g.nrp_lower_ok or (first.endswith("s") and first[:-1] in g.nrp_lower_ok)
                if lower_nrp and "NRP" in entities:
                    results.append(self.result("NRP", start, end, 0.6, "nationality or religion"))
                elif first not in g.heads:
                    pass  # no country and no place after a cue: both must be unambiguous names
                elif "LOCATION" in entities and _lower_country(g, first):
                    results.append(self.result("LOCATION", start, end, 0.6, "country name"))
                elif "LOCATION" in entities and (found_end := self._lower_place(text, words, i)) is not None:
                    results.append(
                        self.result("LOCATION", start, found_end, 0.55, "place after a travel cue")
                    )
                    while i + 1 < n and words[i + 1][0] < found_end:
                        i += 1
                i += 1
                continue
            match = self._place_at(text, words, i)
            if match is not None:
                j, score = match
                if "LOCATION" in entities:
                    results.append(self.result("LOCATION", start, words[j - 1][1], score, "place name"))
                i = j
                continue
            if (
                "NRP" in entities
                and g.nrp_word(first)
                and not (first.isupper() and len(first) <= 3)
                and not (first == "Christian" and re.match(r" [A-Z]", text[end : end + 2]))  # Christian Bale
            ):
                results.append(self.result("NRP", start, end, 0.7, "nationality or religion"))
            elif "LOCATION" in entities:
                found = self._unlisted(text, start)
                if found is not None:
                    results.append(self.result("LOCATION", start, found, 0.55, "place after a travel cue"))
                    while i + 1 < n and words[i + 1][0] < found:
                        i += 1
            i += 1
        return results

    def _place_at(self, text: str, words: list[tuple[int, int]], i: int) -> tuple[int, float] | None:
        g = self.gazetteer
        start = words[i][0]
        j_max = i + 1
        while (
            j_max < len(words)
            and j_max - i < MAX_WORDS
            and text[words[j_max - 1][1] : words[j_max][0]] in _JOINERS
        ):
            j_max += 1
        for j in range(j_max, i, -1):
            end = words[j - 1][1]
            if not text[end - 1].isalpha() and text[end - 1] != ".":
                continue
            surface = text[start:end]
            entry = g.place(surface.casefold())
            if entry is None:
                continue
            kind, ambiguity = entry
            if surface.isupper() and (len(surface) < 4 or ambiguity != CLEAR):
                return None  # "NO", "US", "ALL": codes and shouting, not places
            if ambiguity != CLEAR and not self._in_context(text, start, end, strong=ambiguity == NAME):
                return None
            if (
                ambiguity == CLEAR
                and kind != COUNTRY
                and j == i + 1
                and self.known_word is not None
                and self.known_word(surface.casefold())
                and _sentence_start(text, start)
                and not self._in_context(text, start, end, strong=False)
            ):
                return None  # "Reading the manual ...": a capitalised first word, not the town
            return j, (0.85 if kind == COUNTRY else 0.7)
        return None

    def _lower_place(self, text: str, words: list[tuple[int, int]], i: int) -> int | None:
        """End of a known place written in lower case right after a travel or residence cue ("my friend
        lives in harburg"), or None: only names no list knows as an everyday word or a person's name."""
        start, end = words[i]
        entry = self.gazetteer.place(text[start:end])
        if i + 1 < len(words) and text[end : words[i + 1][0]] in _JOINERS:
            longer = self.gazetteer.place(text[start : words[i + 1][1]])
            if longer is not None and longer[1] == CLEAR:
                entry, end = longer, words[i + 1][1]
        if entry is None or entry[1] != CLEAR or len(text[start:end]) < 4:
            return None
        if self.known_word is not None and self.known_word(text[start:end]):
            return None
        if not (
            _TRAVEL_CUE.search(text, max(0, start - 30), start)
            or _STRONG_PLACE_CUE.search(text, max(0, start - 25), start)
        ):
            return None
        return end

    def _unlisted(self, text: str, start: int) -> int | None:
        """End of an unlisted place name at ``start`` after a travel cue, or None."""
        if self.known_word is None or not _TRAVEL_CUE.search(text, max(0, start - 30), start):
            return None
        match = _UNKNOWN_RUN.match(text, start)
        if match is None:
            return None
        words = match.group().split(" ")
        if any(self.known_word(w.casefold()) for w in words) or (len(words) == 1 and len(words[0]) < 3):
            return None
        return match.end()

    def _in_context(self, text: str, start: int, end: int, *, strong: bool) -> bool:
        if (_STRONG_PLACE_CUE if strong else _PLACE_CUE).search(text, max(0, start - 25), start):
            return True
        # "Florence, Italy", "Reading, UK", "Springfield, IL"
        following = re.match(r",[ ]*([^\W\d_][\w.'-]*(?:[ ][^\W\d_][\w.'-]*){0,2})", text[end : end + 40])
        if following is None:
            return False
        tail = following.group(1)
        if tail in _US_STATES or tail in ("UK", "USA", "US", "UAE"):
            return True
        entry = self.gazetteer.place(tail.casefold())
        return entry is not None and entry[1] == CLEAR


# Country names that are also lower-case English words or names ("turkey", "china", "jordan").
_LOWER_COUNTRY_WORDS = frozenset(
    ["turkey", "china", "chile", "jordan", "georgia", "guinea", "niger", "jersey", "japan", "chad", "wales"]
)


def _lower_country(g: Gazetteer, word: str) -> bool:
    """A country written in lower case, as chat users do ("i live in switzerland")."""
    if len(word) < 5 or word in _LOWER_COUNTRY_WORDS:
        return False
    entry = g.place(word)
    return entry is not None and entry[0] == COUNTRY and entry[1] == CLEAR


def _sentence_start(text: str, start: int) -> bool:
    before = text[max(0, start - 3) : start].rstrip(" \t\"'(*>-")
    return not before or before[-1] in ".!?:\n"


# The last lines of a postal address: "   Wrocław\n   53-320", "FAUSKE 8200", "Estonia 62031": an
# optional town or country (one to four words), then a postcode, alone on its line.
_POSTCODE_LINE = re.compile(
    rf"(?m)^[ \t>]*(?:[^\W\d_][\w'\u2019.()-]*(?:[ ][^\W\d_][\w'\u2019.()-]*){{0,3}}[ ,]+)?"
    rf"(?P<code>{_POSTCODE})[ \t]*$"
)
# A street line above it: a house number next to a word ("Skogstien 106", "31401 ul. Słowicza 10").
_STREET_NUMBER_LINE = re.compile(r"(?m)^.{0,80}?(?:\d+[ ][^\W\d_]|[^\W\d_][ ]\d+).{0,80}$")


def _block_postcodes(text: str) -> list[tuple[int, int]]:
    """Postcodes on the closing line of an address block: within three lines below a street line."""
    out = []
    for match in _POSTCODE_LINE.finditer(text):
        code = match.group("code")
        if not code[0].isdigit() or _YEAR.fullmatch(code):
            continue
        line_start = text.rfind("\n", 0, match.start("code")) + 1
        above = text[max(0, line_start - 200) : line_start].split("\n")[-4:-1]
        if any(len(line) <= 80 and _STREET_NUMBER_LINE.match(line) for line in above):
            out.append((match.start("code"), match.end("code")))
    return out


class PostcodeRecognizer(OwnRecognizer):
    def __init__(self, gazetteer: Gazetteer) -> None:
        self.gazetteer = gazetteer
        super().__init__(supported_entities=["STREET_ADDRESS"], name="PostcodeRecognizer")

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = []
        for match in _POSTCODE_CUE.finditer(text):
            results.append(
                self.result("STREET_ADDRESS", match.start("code"), match.end("code"), 0.7, "postcode")
            )
        for match in _AFTER_STATE.finditer(text):
            if match.group("state") in _US_STATES:
                results.append(self.result("STREET_ADDRESS", match.start(), match.end(), 0.6, "postcode"))
        if "\n" in text:
            for start, end in _block_postcodes(text):
                results.append(self.result("STREET_ADDRESS", start, end, 0.5, "postcode of an address block"))
        for follow in _AFTER_PLACE.finditer(text):
            if not follow.group("code")[0].isdigit():
                continue
            entry = self.gazetteer.place(follow.group("place").casefold())
            code = follow.group("code")
            if (
                entry is not None
                and entry[1] == CLEAR
                and entry[0] != COUNTRY
                and len(code) >= 4
                and not _YEAR.fullmatch(code)
            ):
                results.append(
                    self.result("STREET_ADDRESS", follow.start("code"), follow.end("code"), 0.5, "postcode")
                )
        return results
