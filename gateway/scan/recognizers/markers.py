"""Confidentiality, privilege and classification markings ("CONFIDENTIAL", "TLP:RED", ...).

A marking is strong when it is *used as a marking*: written in capitals, or standing on its own
as a header, footer or label value ("**Confidential**", "Acme Corp Confidential - Page 3",
"Classification: Restricted").  The same word inside a sentence is usually just a word, so each
rule carries three scores and the strongest context that applies wins:

* ``caps``   - the phrase is written in capitals anywhere ("THIS DECK IS CONFIDENTIAL");
* ``banner`` - the phrase is the whole of its line segment, perhaps after a label or a company
  name, perhaps followed by further capitalised marking words ("CONFIDENTIAL DRAFT");
* ``prose``  - anywhere else, any case; ``None`` means running text never fires.

Decisions where the brief left room: ordinary words fire only as markings - "secret",
"restricted", "proprietary", "private" never fire in running text ("the secret to good bread",
"Secret Santa", "restricted parking", "a proprietary format"); "SECRET" and "RESTRICTED" need
capitals *and* a banner position.  Lowercase "confidential" in a sentence is a weak signal
(0.3, under the 0.5 a policy would normally act on); a sentence that asserts confidentiality
("this email is confidential", "keep this confidential between us") scores 0.55-0.85.
"Confidential Computing" and similar product names are excluded.  TLP:GREEN scores 0.5;
TLP:CLEAR/WHITE and "UNCLASSIFIED" do not fire.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.scan.findings import Hit

CONFIDENTIALITY = "CONFIDENTIALITY_MARKER"
PRIVILEGE = "PRIVILEGE_MARKER"
CLASSIFICATION = "CLASSIFICATION_BANNER"
STRONG = 0.5  # the score at and above which a hit is a marking rather than a word in a sentence


@dataclass(frozen=True, slots=True)
class MarkerRule:
    entity: str
    pattern: str  # case-insensitive, between word boundaries; "%DASH%" is any hyphen, dash or space
    caps: float | None = None  # written in capitals anywhere
    banner: float | None = None  # alone in its line segment (header, footer, label value)
    prose: float | None = None  # in running text, any case; None never fires
    caps_only: bool = False  # the banner must be in capitals as well (SECRET, RESTRICTED, NDA)
    company: bool = False  # a company name may precede the banner ("Acme Confidential")


_DASH = r"[\s\-\u2010-\u2015]+"  # hyphens, en and em dashes (U+2010..U+2015) or spaces
_CAVEATS = r"(?:\s*//\s*[A-Z][A-Z0-9 ,/-]{0,40})"  # "//NOFORN", "//SI//REL TO USA, FVEY"
_NOT_A_MARKING = (
    r"(?!\s+(?:computing|vms?|virtual\s+machines?|containers?|space|ledger|transactions?|informants?|"
    r"inference|gke|nodes?|ai\b|clients?\b|sources?\b|voting|hotline|counsel(?:l?ing)?))"
)
_KIND_OF_TEXT = (
    r"(?:e-?mail|message|document|communication|information|memo(?:randum)?|report|file|presentation|deck|"
    r"attachment|material|content|data|transmission|page|slide|spreadsheet|note|call|conversation|thread)s?"
)
# Most specific first: at one position the first branch that matches wins.
RULES: tuple[MarkerRule, ...] = (
    # privilege
    MarkerRule(
        PRIVILEGE,
        r"attorney%DASH%client\s+privilege[ds]?(?:\s+(?:and|&)\s+confidential)?(?:\s+communications?)?",
        0.95,
        0.95,
        0.75,
    ),
    MarkerRule(PRIVILEGE, r"privileged\s+(?:and|&)\s+confidential", 0.95, 0.95, 0.8),
    MarkerRule(PRIVILEGE, r"(?:attorney|lawyer)s?'?\s+work%DASH%product", 0.95, 0.95, 0.7),
    MarkerRule(
        PRIVILEGE,
        r"legally\s+privileged|subject\s+to\s+(?:legal|attorney%DASH%client|litigation)\s+privilege|"
        r"protected\s+by\s+(?:the\s+)?(?:attorney%DASH%client|legal)\s+privilege|privileged\s+communication",
        0.9,
        0.9,
        0.7,
    ),
    # classification banners
    MarkerRule(CLASSIFICATION, r"TLP\s*:\s*(?:RED|AMBER(?:\s*\+\s*STRICT)?)", 0.95, 0.95, 0.9),
    MarkerRule(CLASSIFICATION, r"TLP\s*:\s*GREEN", 0.5, 0.5, 0.5),
    MarkerRule(
        CLASSIFICATION,
        r"(?:(?:data|document|information|security|sensitivity)\s+)?(?:classification|sensitivity"
        r"(?:\s+label)?|protective\s+marking|security\s+marking)\s*:\s*(?:top\s+secret|secret|"
        r"(?:strictly\s+|highly\s+)?confidential|restricted|internal(?:\s+only)?|official(?:%DASH%sensitive)?|"
        r"sensitive|private|proprietary|cui|tlp\s*:\s*(?:red|amber))",
        0.95,
        0.95,
        0.9,
    ),
    MarkerRule(
        CLASSIFICATION,
        r"VS\s*-\s*(?:NUR\s+F(?:Ü|UE)R\s+DEN\s+DIENSTGEBRAUCH|VERTRAULICH|GEHEIM)|STRENG\s+GEHEIM|"
        r"SECRET\s+D[ÉE]FENSE|TR[ÈE]S\s+SECRET|DIFFUSION\s+RESTREINTE",
        0.9,
        0.9,
        0.6,
    ),
    MarkerRule(CLASSIFICATION, r"TOP\s+SECRET" + _CAVEATS + "?", 0.95, 0.95, 0.3),
    MarkerRule(CLASSIFICATION, r"(?:NATO\s+)?SECRET" + _CAVEATS, 0.95, 0.95, None, caps_only=True),
    MarkerRule(CLASSIFICATION, r"(?:NATO\s+)?SECRET", None, 0.9, None, caps_only=True),
    MarkerRule(CLASSIFICATION, r"\((?:TS|S|C|CUI)//[A-Z0-9 /,-]{1,30}\)", 0.85, 0.85, None, caps_only=True),
    MarkerRule(
        CLASSIFICATION,
        r"//\s*(?:NOFORN|ORCON|FVEY|SCI|PROPIN|RELIDO|REL\s+TO\s+[A-Z, ]{3,30})",
        0.9,
        0.9,
        None,
        caps_only=True,
    ),
    MarkerRule(CLASSIFICATION, r"NOFORN|FOUO", 0.9, 0.9, None, caps_only=True),
    MarkerRule(CLASSIFICATION, r"for\s+official\s+use\s+only", 0.85, 0.85, 0.6),
    MarkerRule(CLASSIFICATION, r"official%DASH%sensitive", 0.9, 0.9, 0.5),
    MarkerRule(CLASSIFICATION, r"controlled\s+unclassified\s+information", 0.8, 0.8, 0.5),
    MarkerRule(CLASSIFICATION, r"CUI" + _CAVEATS + "?", None, 0.8, None, caps_only=True),
    MarkerRule(CLASSIFICATION, r"RESTRICTED", None, 0.85, None, caps_only=True),
    MarkerRule(CLASSIFICATION, r"GEHEIM", None, 0.85, None, caps_only=True),
    # confidentiality
    MarkerRule(
        CONFIDENTIALITY,
        r"(?:confidential\s+(?:and|&)\s+proprietary|proprietary\s+(?:and|&)\s+confidential|"
        r"(?:private|personal)\s+(?:and|&)\s+confidential)",
        0.95,
        0.95,
        0.7,
    ),
    MarkerRule(
        CONFIDENTIALITY,
        r"(?:strictly|highly|company|business|commercially)\s+confidential|streng\s+vertraulich|"
        r"strictement\s+confidentiel(?:le)?|estrictamente\s+confidencial|strettamente\s+riservato|"
        r"strikt\s+vertrouwelijk",
        0.9,
        0.9,
        0.7,
    ),
    MarkerRule(CONFIDENTIALITY, r"confidential\s+information\s+of(?=\s+\w)", 0.9, 0.9, 0.85),
    MarkerRule(
        CONFIDENTIALITY,
        r"(?:this|the|these|such|our|my|your)\s+"
        + _KIND_OF_TEXT
        + r"(?:\s*\(?(?:and|including)\s+(?:any\s+)?"
        r"(?:of\s+its\s+)?attachments?\)?)?\s+(?:is|are|contains?|may\s+contain|might\s+contain)\s+"
        r"(?:strictly\s+|highly\s+)?(?:confidential|privileged|proprietary)|contains?\s+(?:confidential|"
        r"proprietary)(?:\s+(?:and|&)\s+(?:confidential|proprietary))?\s+information|contains?\s+trade\s+secrets?",
        0.85,
        0.85,
        0.8,
    ),
    MarkerRule(
        CONFIDENTIALITY,
        r"keep\s+(?:this|it|that|these|everything|them|all\s+of\s+this)\s+(?:strictly\s+)?(?:confidential)?"
        r"(?:\s*between\s+(?:us|you\s+and\s+me|ourselves))?(?<=[a-z])",
        0.6,
        0.6,
        0.55,
    ),
    MarkerRule(
        CONFIDENTIALITY,
        r"(?:for\s+)?internal\s+(?:use\s+)?only|internal\s+distribution\s+only|"
        r"not\s+for\s+external\s+(?:use|distribution|circulation)",
        0.85,
        0.85,
        0.7,
    ),
    MarkerRule(CONFIDENTIALITY, r"for\s+internal\s+use", 0.8, 0.8, 0.35),
    MarkerRule(
        CONFIDENTIALITY,
        r"do\s+not\s+(?:distribute|circulate|disclose|reproduce)|not\s+for\s+(?:distribution|circulation|"
        r"public\s+release|publication|external\s+distribution)",
        0.85,
        0.85,
        0.6,
    ),
    MarkerRule(CONFIDENTIALITY, r"do\s+not\s+(?:forward|copy|share)", 0.85, 0.85, None),
    MarkerRule(CONFIDENTIALITY, r"trade\s+secrets?", 0.85, 0.85, 0.4),
    MarkerRule(CONFIDENTIALITY, r"(?:[A-Z]{2,12}'?\s+)?eyes\s+only", 0.85, 0.85, 0.4),
    MarkerRule(
        CONFIDENTIALITY,
        r"(?:under|covered\s+by|subject\s+to|bound\s+by|per)\s+(?:(?:the|an|our|a|my|their|your)\s+)?"
        r"(?-i:NDAs?)|(?-i:NDA)[\s-]+(?:protected|only|required|restricted)",
        0.8,
        0.8,
        0.8,
    ),
    MarkerRule(CONFIDENTIALITY, r"(?-i:NDA)", None, 0.8, 0.35, caps_only=True),
    MarkerRule(
        CONFIDENTIALITY,
        r"nur\s+f(?:ü|ue)r\s+den\s+(?:internen\s+gebrauch|dienstgebrauch)|interner\s+gebrauch|"
        r"nicht\s+zur\s+weitergabe|(?:document\s+)?(?:à|a)\s+usage\s+interne|usage\s+interne(?:\s+"
        r"(?:uniquement|seulement))?|ne\s+pas\s+diffuser|(?:solo\s+)?(?:para\s+)?uso\s+interno|no\s+distribuir",
        0.85,
        0.85,
        0.6,
    ),
    MarkerRule(
        CONFIDENTIALITY,
        r"confidential" + _NOT_A_MARKING + r"|vertraulich|confidentiel(?:le)?|confidencial|riservato|"
        r"vertrouwelijk|confidenziale",
        0.85,
        0.85,
        0.3,
        company=True,
    ),
    MarkerRule(CONFIDENTIALITY, r"proprietary", None, 0.75, None, company=True),
    MarkerRule(CONFIDENTIALITY, r"(?:commercially|business|price|market)\s+sensitive", 0.8, 0.8, 0.45),
    MarkerRule(CONFIDENTIALITY, r"embargoed", 0.7, 0.7, None, caps_only=True),
)

# A line is cut into segments at these separators: "CONFIDENTIAL - DO NOT FORWARD" has two.
_SEGMENT = r"\s*(?:\||//|\s[-\u2013\u2014\u2022\u00b7]\s|\t|\s{3,})\s*"
_DECORATION = " \t*_#=~-\u2013\u2014|[](){}<>/\\:.,;'\"`\u2022\u00b7"
_LABEL = (
    r"(?:(?:data|document|information|security|e-?mail|file)\s+)?(?:classification|sensitivity(?:\s+label)?|"
    r"protective\s+marking|marking|label|status|handling|distribution)\s*:?"
)
_COMPANY = r"(?:[A-Z][\w&.'-]*)(?:\s+(?:[A-Z][\w&.'-]*|&|and|of)){0,4}"
# Capitalised words that may follow a banner word in the same header: "CONFIDENTIAL DRAFT".
_BANNER_TAIL = (
    r"(?:DRAFT|INFORMATION|DOCUMENT|MATERIALS?|DATA|COMMUNICATIONS?|REPORT|MEMO(?:RANDUM)?|AND|&|ONLY|"
    r"INTERNAL|DO\s+NOT|NOT\s+FOR|PROPRIETARY|PRIVILEGED|CONFIDENTIAL|EYES\s+ONLY|REL\b|NOFORN|USE)\b"
)
_MAX_BANNER_LINE = 160
# Substrings of which every rule's match contains at least one: lowercase ones are looked for in
# the lowercased text, others as written ("NDA", not the "nda" of "Monday").  Python's ``re`` tries
# each of the ~45 branches at every position, so the full pattern runs only on the lines around
# an anchor, found with ``str.find`` (prose without one costs a few microseconds per KB).
ANCHORS = (
    "confiden", "secret", "restr", "propriet", "privilege", "product", "tlp", "classif", "sensitiv",
    "marking", "noforn", "fouo", "orcon", "fvey", "propin", "relido", "rel to", "//sci", "// sci",
    "(ts//", "(s//", "(c//", "(cui//", "official", "cui", "unclassified", "intern", "extern", "distribu",
    "circulat", "disclos", "reproduc", "forward", "copy", "share", "publication", "release", "eyes", "NDA",
    "vertrau", "riservat", "gebrauch", "weitergabe", "diffuse", "embargo", "geheim", "between",
)  # fmt: skip


class ConfidentialityMarkerDetector:
    """Finds markings; kind ``marker``, entities ``CONFIDENTIALITY_MARKER``, ``PRIVILEGE_MARKER``
    and ``CLASSIFICATION_BANNER``.  Hits below ``min_score`` are dropped (default: keep all)."""

    skip_views = frozenset({"digits"})  # numbers glued together make no marking

    def __init__(
        self,
        name: str = "markers",
        *,
        rules: Sequence[MarkerRule] = RULES,
        anchors: Sequence[str] = ANCHORS,
        min_score: float = 0.0,
    ) -> None:
        """``anchors``: substrings, one of which every match of ``rules`` contains (see ``ANCHORS``)."""
        self.name = name
        self.min_score = min_score
        self._rules = tuple(rules)
        branches = (
            f"(?P<r{i}>{rule.pattern.replace('%DASH%', _DASH)})" for i, rule in enumerate(self._rules)
        )
        self._pattern = re.compile(r"(?<!\w)(?:" + "|".join(branches) + r")(?!\w)", re.IGNORECASE)
        self._segment = re.compile(_SEGMENT)
        self._label = re.compile(_LABEL, re.IGNORECASE)
        self._company = re.compile(_COMPANY)
        self._tail = re.compile(_BANNER_TAIL)
        self._anchors = tuple(anchors)

    def detect(self, text: str) -> list[Hit]:
        hits: list[Hit] = []
        for lo, hi in self._windows(text):
            for m in self._pattern.finditer(text, lo, hi):
                if m.lastgroup is None:  # pragma: no cover - every branch is a named group
                    continue
                rule = self._rules[int(m.lastgroup[1:])]
                score = self._score(rule, text, m.start(), m.end())
                if score is not None and score >= self.min_score:
                    hits.append(Hit("marker", rule.entity, m.start(), m.end(), score, self.name))
        return hits

    def _windows(self, text: str) -> list[tuple[int, int]]:
        """Merged stretches of whole lines (the line of an anchor and its neighbours) to match in.

        Whole lines, because the pattern's ``(?!\\w)`` takes a window's end for the text's end."""
        lowered = text.lower()
        if len(lowered) != len(text):  # a few characters lowercase to two ("İ"): offsets would drift
            return [(0, len(text))]
        starts: set[int] = set()
        for anchor in self._anchors:
            haystack = lowered if anchor.islower() else text
            at = haystack.find(anchor)
            while at >= 0:
                starts.add(at)
                at = haystack.find(anchor, at + 1)
        windows: list[tuple[int, int]] = []
        for at in sorted(starts):
            if windows and at < windows[-1][1]:
                continue
            line_start = text.rfind("\n", 0, at)
            lo = text.rfind("\n", 0, line_start) + 1 if line_start > 0 else 0
            line_end = text.find("\n", at)
            hi = len(text) if line_end < 0 else text.find("\n", line_end + 1)
            hi = len(text) if hi < 0 else hi
            if windows and lo <= windows[-1][1]:
                windows[-1] = (windows[-1][0], hi)
            else:
                windows.append((lo, hi))
        return windows

    def _score(self, rule: MarkerRule, text: str, start: int, end: int) -> float | None:
        phrase = text[start:end]
        caps = not any(c.islower() for c in phrase) and sum(c.isalpha() for c in phrase) >= 2
        scores = [s for s in (rule.prose, rule.caps if caps else None) if s is not None]
        if (
            rule.banner is not None
            and (caps or not rule.caps_only)
            and self._is_banner(rule, text, start, end)
        ):
            scores.append(rule.banner)
        return max(scores) if scores else None

    def _is_banner(self, rule: MarkerRule, text: str, start: int, end: int) -> bool:
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", end)
        line_end = len(text) if line_end < 0 else line_end
        if line_end - line_start > _MAX_BANNER_LINE:
            return False
        # The segment of the line that holds the match, between separators or the line ends.
        seg_start, seg_end = line_start, line_end
        for sep in self._segment.finditer(text, line_start, line_end):
            if sep.end() <= start:
                seg_start = sep.end()
            elif sep.start() >= end:
                seg_end = sep.start()
                break
        before = text[seg_start:start].strip(_DECORATION)
        after = text[end:seg_end].strip(_DECORATION)
        if before and not (
            self._label.fullmatch(before) or (rule.company and self._company.fullmatch(before))
        ):
            return False
        return not after or (after.isupper() and self._tail.match(after) is not None)
