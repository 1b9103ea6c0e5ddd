"""STREET_ADDRESS: postal addresses in US, UK and European formats, including multi-line blocks.

Presidio has no address recognizer (its evaluation maps addresses to spaCy's LOCATION, which finds
the city and misses the street).  An address is found from an *anchor* and then grown:

Anchors
  * number + street name with a street word: "14 Crown Street", "1659 Hoog St", "742 Evergreen Terrace";
  * street word + name + number, continental style: "Rue de Piétrain 371", "Via Roma 131",
    "ul. Słowicza 10", "Avda. Rio Nalon 58";
  * a word ending in a street suffix + number: "Friedhofstrasse 33", "Kiannonkatu 98",
    "Hammarvägen 15", "Populierenstraat 374", "hegyalja út 98";
  * number + capitalised words + number ("6750 Koskikatu 25"): house and building number around a name;
  * post boxes and military mail: "P.O. Box 104", "Postbox 53", "PSC 7951, Box 9972", "APO AA 69974";
  * after an address cue ("my address is", "lives at", "ship to", "Address:"), a short line with a number.

Growth: the anchor is extended over a house number just before it, then over the following
comma- or line-separated parts while they look like address parts (unit "Apt. 864", a place name of
up to four capitalised words, a state code, a postcode, a country), at most six parts.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from gateway.scan.recognizers.pii_base import OwnRecognizer

_W = r"[^\W\d_]"  # a letter, any script
_CAP = r"[^\W\d_a-zß-ÿ]"  # an upper-case letter (approximately: any letter that is not lower-case Latin)
# A word of a street name; never a function word, so "1421 in its mission" is not "<number> <name> <type>".
_FUNCTION_WORDS = r"in|its|the|a|an|of|to|and|for|on|at|is|was|my|our|your|his|her|their|this|that"
_NAME_WORD = rf"(?:(?!(?:{_FUNCTION_WORDS})\b){_W}[\w'\u2019.-]*)"
_NUM = r"\d{1,5}(?:[-/]\d{1,4})?[a-zA-Z]?\b"

# USPS Publication 28 street suffixes (the common ones, with plurals) and British street words.
_STREET_TYPES = (
    r"streets?|st|str|roads?|rd|avenue|ave|av|boulevard|blvd|lanes?|ln|drives?|dr|courts?|ct|place|pl|squares?|"
    r"sq|terrace|ter|ways?|close|crescent|cres|highway|hwy|parkways?|pkwy|circles?|cir|trail|trl|row|mews|"
    r"gardens?|groves?|parks?|walks?|hills?|heights|alley|path|pike|plaza|points?|ridges?|route|rte|run|"
    r"views?|vista|wharf|greens?|flats?|fields?|village|junction|loop|estates?|broadway|quay|parade|"
    r"esplanade|bridge|brooks?|bypass|camp|canyon|cape|causeway|cent(?:er|re)s?|cliffs?|club|common|"
    r"corners?|cove|creek|crest|crossing|dale|dam|divide|expressway|falls?|ferry|fords?|forests?|forges?|"
    r"forks?|fort|freeway|gateway|glens?|harbou?rs?|haven|hollow|inlet|islands?|isle|keys?|knolls?|lakes?|"
    r"landing|light|locks?|lodge|mall|manors?|meadows?|mills?|motorway|mount|mountains?|neck|"
    r"orchard|oval|overpass|pass|passage|pines?|plains?|ports?|prairie|ranch|rapids?|rest|river|shoals?|"
    r"shores?|skyway|springs?|spurs?|station|stream|summit|trace|track|tunnel|turnpike|underpass|unions?|"
    r"valleys?|viaduct|ville|wells?|wynd|chase|rise|end|yard|"
    r"maantee|tänav|põik|puiestee|väljak|nábrežie|námestie|nábřeží|třída|k[oöó]shesi|dangyly|oramy"
)
_STREET_PREFIXES = (
    r"rue|avenue|av\.|avda\.?|avenida|boulevard|bd\.?|chemin|impasse|allée|place|quai|via|viale|piazza|"
    r"piazzale|corso|largo|vicolo|calle|c/|carrer|plaza|paseo|camino|carretera|rua|travessa|largo|"
    r"ul\.|ulica|ulice|al\.|aleja|os\.|osiedle|str\.|strada|bulevardul|calea|trg|ulitsa|prospekt|"
    r"λ\.|οδός|leoforos|"
    # Ukrainian, Russian and Kazakh in Latin letters; Mexican street kinds
    r"vul\.|vulytsia|vulytsya|vulitsa|prosp\.|provulok|bulvar|bulv\.|ploshcha|pereulok|"
    r"shosse|proezd|naberezhna|naberezhnaya|alleya|k[oöó]shesi|dangyly|oramy|calzada|callej[oó]n|"
    r"privada|cerrada|prolongaci[oó]n|andador|circuito|retorno"
)
_STREET_SUFFIXES = (
    r"stra(?:ss|ß)e|str\.|weg|gasse|platz|allee|damm|ufer|steig|laan|straat|gracht|dijk|plein|kade|"
    r"singel|steeg|katu|tie|kuja|polku|väylä|rinne|gatan|vägen|väg|gata|gränd|gade|vej|veien|"
    r"vegen|gate|veg|braut|stræde|stígur|vegur|gata|utca|út|tér|u\.|körút|cesta|ulica|ulice|náměstí|"
    r"sokak|sokağ\u0131|caddesi|bulvar\u0131|straße|strasse|terrasse|straeti|brücke|"
    # Estonian, Slovak, Czech, Kazakh and Russian street words that follow the name as words of their own
    r"maantee|tänav|põik|puiestee|väljak|nábrežie|námestie|nábřeží|třída|k[oöó]shesi|dangyly|"
    r"oramy|ulitsa|pereulok|shosse|naberezhnaya"
)
_STREET_WORD = re.compile(rf"(?i)^(?:{_STREET_TYPES})\.?$")

# What the ``suffix`` anchor needs ahead of it (at most a name word and a word, then a number), cheap
# to test first: without it, every word start of a digit window tried each suffix at every letter of
# the next word, three quarters of this regex's time on entity-dense text.
SUFFIX_AHEAD = r"(?=(?:[\w'\u2019.-]+[ ]+)?[\w.]+[ ]+\d)"
_ANCHORS = re.compile(
    rf"""(?ix)
    (?P<number_first>(?<![\w.,-]){_NUM}[ ]+(?:{_NAME_WORD}[ ]+){{0,4}}(?:{_STREET_TYPES})\b\.?
                     (?:[ ](?:N|S|E|W|NE|NW|SE|SW)\b\.?)?)
    | (?P<number_prefix>(?<![\w.,-]){_NUM}[ ]+(?:{_STREET_PREFIXES})[ ]+{_NAME_WORD}
                        (?:[ ]+{_NAME_WORD}){{0,4}}(?:[ ]+{_NUM})?)
    | (?P<prefix>(?<!\w)(?:{_STREET_PREFIXES})[ ]+(?:{_NAME_WORD},?[ ]+){{0,5}}?{_NUM})
    | (?P<suffix>(?<!\w){SUFFIX_AHEAD}(?:{_NAME_WORD}[ ]+)?{_W}*(?:{_STREET_SUFFIXES})[ ]+{_NUM}\.?)
    | (?P<box>(?<!\w)(?:p\.?[ ]?o\.?[ ]?box|post[ ]?box|postbus|postfach|boîte[ ]postale|bp|
              psc[ ]\d{{1,5}},?[ ]box|unit[ ]\d{{1,5}}[ ]box|box)[ ]\d{{1,6}}\b)
    | (?P<military>(?<!\w)(?:apo|fpo|dpo)[ ](?:aa|ae|ap)[ ]\d{{5}}\b)
    | (?P<ship>(?<!\w)(?:usns|usnv|uss|usnsc|uscgc)[ ](?-i:{_CAP})\w+)
    """
)
# "6750 Koskikatu 25": house number, capitalised name (no street word), building number.
_NUMBER_NAME_NUMBER = re.compile(
    rf"(?<![\w.,:/-]){_NUM}[ ]+(?:{_CAP}[\w'\u2019.-]*[ ]+){{1,4}}{_NUM}(?![\w/-]|[.:,]\d)"
)
# After an address cue: "lives at 9816 214 Pavlou Drandaki", "is on Pod Floriánem 1677", "moved to
# Bulevardi 1340" (capitalised words with a number before or after them, up to the end of the clause;
# not everyday words: "is on Windows 11").
_CUED_NUMBER_NAME = re.compile(
    rf"(?P<address>(?:{_NUM}[ ]+){{1,2}}(?P<words>{_CAP}[\w'\u2019.-]*(?:[ ]{_CAP}[\w'\u2019.-]*){{0,3}})"
    rf"|(?P<words2>{_CAP}[\w'\u2019-]*(?:[ ]{_CAP}[\w'\u2019-]*){{0,3}})[ ]+{_NUM})"
    r"(?=[ ]*(?:$|[\n,;!?)]|\.(?:[ ]|$)))",
    re.MULTILINE,
)
_STRONG_CUE = re.compile(
    r"(?i)\b(?:address(?:\s+is)?|live[sd]?\s+(?:at|on)|living\s+(?:at|on)|located\s+(?:at|on)|resides?\s+at|"
    r"ship(?:ped)?\s+to|deliver(?:ed|y)?\s+to|send\s+(?:it\s+|this\s+|them\s+)?to|sent\s+to|moved\s+to|"
    r"mail(?:ed)?\s+to|is\s+(?:at|on)|enter\s+(?:at|on)|meet\s+(?:me\s+)?at|drops?\s+(?:you\s+)?off\s+at)\s*:?\s*$"
)
_CUE = re.compile(
    r"(?i)\b(?:address(?:es)?|addr\.?|live[sd]?\s+(?:at|in|on)|living\s+(?:at|on)|located\s+(?:at|on)|"
    r"resides?\s+at|ship(?:ped)?\s+to|deliver(?:ed|y)?\s+to|send\s+(?:it\s+|this\s+|them\s+)?to|"
    r"sent\s+to|moved\s+to|mail(?:ed)?\s+to|return\s+to|meet\s+(?:me\s+)?at|is\s+(?:at|on)|at|on)\s*[:\-]?\s*$"
)

_CALENDAR = re.compile(
    r"(?i)^(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|mon(?:day)?|tue(?:sday)?|wed(?:nesday)?|thu(?:rsday)?|"
    r"fri(?:day)?|sat(?:urday)?|sun(?:day)?|[ap]\.?m\.?|q[1-4]|fy|version|v|page|chapter|section|step)\.?,?$"
)
_UNIT = (
    r"(?i:apt\.?|apartment|suite|ste\.?|unit|flat|floor|fl\.?|room|rm\.?|bldg\.?|building|\#)"
    r"[ ]?\#?\d{1,5}[a-zA-Z]?"
)
_POSTCODE = (
    r"\d{4,6}(?:-\d{3,4})?|\d{3}[ ]\d{2}|\d{2}-\d{3}|\d{4}[ ][A-Z]{2}|[A-Z]\d[A-Z][ ]?\d[A-Z]\d|"
    r"[A-Z]{1,2}\d[A-Z\d]?[ ]?\d[A-Z]{2}"
)
_PLACE_PARTICLES = r"de|del|la|le|les|sur|an|am|im|in|nad|pod|na|of|upon|do|da|di"
_PLACE = rf"(?:{_CAP}(?:[\w'\u2019()-]|\.(?=\w))*|(?:{_PLACE_PARTICLES})\b)"
_PART = re.compile(
    rf"""(?x)
    (?:{_UNIT}
     | (?:{_POSTCODE})(?:[ ]+{_PLACE}(?:[ ]+{_PLACE}){{0,3}})?
     | {_PLACE}(?:[ ]+{_PLACE}){{0,3}}(?:,?[ ]+(?:{_POSTCODE}|[A-Z]{{2,3}}(?:[ ]+(?:{_POSTCODE}))?|{_UNIT}))?
     | [A-Z]{{2,3}}(?:[ ]+(?:{_POSTCODE}))?
    )[ ]*"""
)
# Between parts: a comma or a line break, with the quote or bullet marks chat clients add ("> ").
_SEPARATOR = re.compile(
    r"[ ]*(?:,[ ]*\n?|\n(?:[ >]*\n)?)[ >?*-]*|[ ]+(?=(?:apt\.?|suite|unit|ste\.?|flat)[ ]?#?\d)",
    re.IGNORECASE,
)
_SENTENCE_WORDS = re.compile(
    r"(?i)^(?:and|or|but|the|a|an|i|we|you|he|she|they|it|please|thanks|thank|can|could|would|will|is|are|"
    r"was|my|our|your|this|that|if|so|then|also|for|to|in|at|on|with|from|by)\b"
)
_MAX_PARTS = 6


class StreetAddressRecognizer(OwnRecognizer):
    def __init__(self, ordinary: Callable[[str], bool] | None = None) -> None:
        """``ordinary(casefolded)``: an English dictionary word; a cued name made only of such words
        ("is on Windows Server 10") is not a street."""
        self.ordinary = ordinary
        super().__init__(supported_entities=["STREET_ADDRESS"], name="StreetAddressRecognizer")

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        spans: list[tuple[int, int, float]] = []
        for lo, hi in _digit_windows(text):
            spans.extend(self._anchors(text, lo, hi, self.ordinary))
        results = []
        spans.extend(_corners(text))
        spans.extend(_named_streets(text))
        for start, end, score in _merge(spans):
            start = _grow_back(text, start)
            end = _tail(text, end)
            end, parts = _grow(text, end)
            score = min(1.0, score + 0.05 * parts)
            results.append(self.result("STREET_ADDRESS", start, end, score, "street address"))
        return results

    @staticmethod
    def _anchors(
        text: str, lo: int, hi: int, ordinary: Callable[[str], bool] | None = None
    ) -> list[tuple[int, int, float]]:
        spans: list[tuple[int, int, float]] = []
        for match in _ANCHORS.finditer(text, lo, hi):
            kind = match.lastgroup or ""
            score = 0.6 if kind == "box" and match.group().lower().startswith("box") else 0.85
            spans.append((match.start(), match.end(), score))
        for match in _CUED_NUMBER_NAME.finditer(text, lo, hi):
            words = (match.group("words") or match.group("words2") or "").split()
            if any(_CALENDAR.match(word) for word in words):
                continue
            if ordinary is not None and all(ordinary(word.casefold().strip(".")) for word in words):
                continue
            if _STRONG_CUE.search(text, max(0, match.start() - 40), match.start()):
                spans.append((match.start("address"), match.end(), 0.6))
        for match in _NUMBER_NAME_NUMBER.finditer(text, lo, hi):
            words = match.group().split()[1:-1]
            if any(_CALENDAR.match(word) for word in words):
                continue  # "on 14 March 2024": a date, not a house number, a name and a number
            cue = _CUE.search(text, max(0, match.start() - 40), match.start()) is not None
            if cue or any(_STREET_WORD.match(word) for word in words):
                spans.append((match.start(), match.end(), 0.75))
            elif len(words) <= 2:
                spans.append((match.start(), match.end(), 0.45))
        return spans


_DIGITS = re.compile(r"\d+")
_LONG = 64
_LONG_TOKEN = re.compile(rf"\S{{{_LONG},}}")
# Every anchor holds a number within this many characters of either end, so the anchor regexes only
# run on windows around digits: prose without numbers costs one scan for a digit.
_REACH_BEFORE, _REACH_AFTER = 90, 40


def _digit_windows(text: str) -> list[tuple[int, int]]:
    windows: list[tuple[int, int]] = []
    # Digits inside one long unbroken token (a base64 or hex blob, a hash) are no house number; read
    # around them, the anchors would run over the whole blob, seconds for a few tens of KB.
    long_tokens = [m.span() for m in _LONG_TOKEN.finditer(text)] if len(text) > _LONG else []
    token = 0
    for match in _DIGITS.finditer(text):
        while token < len(long_tokens) and long_tokens[token][1] <= match.start():
            token += 1
        if token < len(long_tokens) and long_tokens[token][0] <= match.start():
            continue
        lo, hi = max(0, match.start() - _REACH_BEFORE), min(len(text), match.end() + _REACH_AFTER)
        if windows and lo <= windows[-1][1]:
            windows[-1] = (windows[-1][0], hi)
        else:
            windows.append((lo, hi))
    # Start each window at a line or word boundary so that look-behinds see the true preceding text.
    return windows


def _merge(spans: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    merged: list[tuple[int, int, float]] = []
    for start, end, score in sorted(spans):
        if merged and start <= merged[-1][1] + 1:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), max(last[2], score))
        else:
            merged.append((start, end, score))
    return merged


_HOUSE_NUMBER_BEFORE = re.compile(rf"(?<![\w.,:/-])(?:{_UNIT}[ ]+)?{_NUM}[ ]+$|(?<!\w){_UNIT}[ ]+$")

# The rest of the anchor's line when it still reads as an address: "31 Zezig Streets", "Dr Reuquén
# Extensions", "du Golf Arabe Suite 910", "94 Apt. 615 Moosleerau Switzerland": capitalised words,
# particles, numbers and units, up to the end of the line or a comma (no sentence words).
_TAIL_TOKEN = rf"(?:{_UNIT}|{_PLACE}\.?|{_NUM}\.?|(?:{_STREET_TYPES})\.?)"
_TAIL = re.compile(rf"(?:[ ]{_TAIL_TOKEN}){{1,8}}(?=[ ]*(?:$|[\n,;!?)]|\.(?:[ ]|$)))", re.MULTILINE)

# "the corner of 5th Avenue and Main St.", "corner of Dalbraut 99 and Frederikke Coves".
_CORNER_PART = r"(?:(?!(?:and|or|to|for|in|at|on|with|from|then|where|because)\b)[\w'\u2019./-]+)"
_CORNER = re.compile(
    rf"(?i:(?:the[ ])?corner[ ]of[ ])({_CORNER_PART}(?:[ ]{_CORNER_PART}){{0,5}})[ ](?:and|&)[ ]"
    rf"({_CORNER_PART}(?:[ ]{_CORNER_PART}){{0,5}})"
)


# A named street without a number after a place preposition: "lives on Baker Street", "shows on Isaac
# Lodge Street".  Full street words only ("St" is also "Saint").
_NAMED_STREET = re.compile(
    rf"\b(?:on|at|off|along|down|up|near|in)[ ](?P<street>(?:{_CAP}[\w'\u2019-]*[ ]){{1,3}}"
    r"(?:Street|Road|Avenue|Lane|Drive|Boulevard|Terrace|Crescent|Parkway|Highway)s?)\b"
)
_STREET_WORDS = (
    "Street",
    "Road",
    "Avenue",
    "Lane",
    "Drive",
    "Boulevard",
    "Terrace",
    "Crescent",
    "Parkway",
    "Highway",
)


def _named_streets(text: str) -> list[tuple[int, int, float]]:
    if not any(word in text for word in _STREET_WORDS):
        return []
    return [(m.start("street"), m.end("street"), 0.6) for m in _NAMED_STREET.finditer(text)]


def _corners(text: str) -> list[tuple[int, int, float]]:
    out: list[tuple[int, int, float]] = []
    if "orner of" not in text and "ORNER OF" not in text:
        return out  # one substring test instead of a regex scan of every prompt
    for match in _CORNER.finditer(text):
        end = match.end()
        while end > match.start(2) and text[end - 1] in ".,":
            end -= 1
        # "St." keeps its dot
        if text[end : end + 1] == "." and re.search(r"(?i)\b(?:st|rd|ave|dr|ln|blvd|ct|str)$", text[:end]):
            end += 1
        out.append((match.start(), end, 0.8))
    return out


def _tail(text: str, end: int) -> int:
    match = _TAIL.match(text, end)
    if match is None or _SENTENCE_WORDS.match(match.group().strip()):
        return end
    return match.end()


def _grow_back(text: str, start: int) -> int:
    match = _HOUSE_NUMBER_BEFORE.search(text, max(0, start - 12), start)
    return match.start() if match else start


def _grow(text: str, end: int) -> tuple[int, int]:
    """Extend over following address parts; returns the new end and how many parts were added."""
    parts = 0
    while parts < _MAX_PARTS:
        separator = _SEPARATOR.match(text, end)
        if separator is None or separator.group().count("\n") > 2:
            break
        part = _PART.match(text, separator.end())
        if part is None or not part.group().strip():
            break
        part_end = separator.end() + len(part.group().rstrip())
        following = text[part_end : part_end + 1]
        if _SENTENCE_WORDS.match(part.group()) or (
            following and following not in "\n,.;?!)" and following != ""
        ):
            break
        end = part_end
        parts += 1
    return end, parts
