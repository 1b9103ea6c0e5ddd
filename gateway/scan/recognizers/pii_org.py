"""ORGANIZATION from company-name shapes and context, where the small NER is weakest (~40% recall).

* A capitalised run ending in a legal form ("Aunt Bertha Inc", "Shepherd Ltd.", "Siemens AG",
  "Microbilt Corporation"): taken whatever the run.
* A capitalised run ending in a business word ("Loveland Technologies", "Russell Investments",
  "Allstate Insurance Group", "Otc Markets"): taken when some word of the run is not an everyday or
  dictionary word (so "Customer Services" and "Financial Markets" are not companies).
* "University/Bank/Institute of X" and "X University/Hospital/Bank".
* Firms named after people: "Davis, Reynolds and Williamson", "Weeks-Rivas", "Ernst & Young": two or
  three surnames joined by ",", "and", "&" or a hyphen, after an employer cue ("at", "from", "for",
  "joined", "works at") or before a business word.
* After an employer cue ("I work at", "employed by", "joined", "my employer", "company called"): a
  capitalised name of one to three words that is not a person's first name or a known place.
"""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from gateway.scan.pii_names import NameLists
from gateway.scan.pii_places import Gazetteer
from gateway.scan.recognizers.pii_base import OwnRecognizer

_LEGAL_TEXT = """
inc incorporated llc llp lp ltd limited plc corp corporation co gmbh ag kg ohg ug sa sas sarl spa srl
bv nv oy oyj ab asa a/s aps kft zrt sro s.r.o pty pvt ptc se sl slu sapi ltda cia kk
"""
_LEGAL = frozenset(_LEGAL_TEXT.split())
_BUSINESS_TEXT = """
company group holdings holding partners associates technologies technology tech systems solutions
software labs laboratories bank bancorp insurance investments investment capital markets global media
ventures enterprises industries consulting consultants networks pharmaceuticals pharma therapeutics
analytics airlines airways motors brands studios studio entertainment communications telecom energy
logistics services international trust fund financial finance securities advisors realty properties
foods beverages retail stores hospital hospitals university college institute foundation agency
publishing press records productions games robotics dynamics biosciences biotech health healthcare
medical clinic clinics law legal attorneys architects engineering construction manufacturing
electronics semiconductor semiconductors data digital interactive innovations apps cloud ai
orchestra society association federation council club
"""
_BUSINESS = frozenset(_BUSINESS_TEXT.split())
_INSTITUTION_OF = re.compile(
    r"\b(?:University|Bank|Institute|College|Academy|Ministry|Department|Museum|School|Hospital|Church)"
    r"[ ]of[ ](?:the[ ])?[A-Z][\w'-]+(?:[ ][A-Z][\w'-]+){0,3}"
)
# One word boundary up front (then a first-letter check) lets the scan skip the inside of words fast.
_EMPLOYER_CUE = re.compile(
    r"(?i)\b(?=[acdefhijmostvw])(?:(?:work(?:s|ed|ing)?|intern(?:s|ed|ing)?|volunteer(?:s|ed|ing)?)\s+(?:at|for|with)|"
    r"employed\s+(?:at|by)|employer(?:\s+is)?\s*:?|join(?:s|ed|ing)?|hired\s+by|"
    r"(?:company|firm|startup|employer|organi[sz]ation|client|vendor|supplier)\s+(?:called|named|is|:)|"
    r"(?:ceo|cto|cfo|coo|founder|co-founder|director|head|vp|president|chairman|manager|engineer)\s+(?:of|at)|"
    r"spent\s+(?:a|one|two|three|\d+)\s+years?\s+at|contract(?:ed)?\s+with|acquired\s+by|"
    r"support|(?:address|headquarters|head[ ]office|offices|website|customers?|clients?|shareholders?|"
    r"employees?|staff|subsidiary|competitors?)[ ]of)[ \t]+"
)
_FIRM_CUE = re.compile(r"(?:(?i:\b(?:at|from|for|of|by|with|join(?:s|ed)?|support))|\bThe)\s*$")
# After a single unfamiliar capitalised word, what makes it a company: "Zillow's headquarters",
# "Transunion announced", "Verdafero is the brainchild of ...".
_COMPANY_AFTER = re.compile(
    r"(?:'s)?[ ](?:office|offices|headquarters|hq|is[ ]headquartered|shares|stock|invested|announced|"
    r"acquired|launched|raised|reported|was[ ]founded|went[ ]public|filed[ ]for|"
    r"(?:is|was)[ ]the[ ]brainchild|"
    r"(?:is|was)[ ]an?[ ](?:[\w-]+[ ]){0,3}(?:company|startup|firm|corporation|multinational|non-?profit|"
    r"charity|brand|manufacturer|provider|retailer|bank|insurer|publisher|agency|platform|app|website|"
    r"501\(c\)))\b|'s[ ](?:ceo|cfo|cto|founders?|website|customers|clients|employees|shareholders|board)\b",
    re.IGNORECASE,
)
# Saying outright what it is: "Berkshire Hathaway is a design agency", "X is an American multinational
# investment bank".  Any capitalised name that is not a person's or a place's.
_IS_A_COMPANY = re.compile(
    r"[ ](?:is|was)[ ]an?[ ](?:[\w-]+[ ]){0,3}(?:company|startup|firm|corporation|multinational|"
    r"non-?profit|charity|manufacturer|retailer|bank|insurer|publisher|agency|consultancy|conglomerate)\b",
    re.IGNORECASE,
)
# "according to the Roadify Transit website", "on the Zillow app".
_THE_X_SITE = re.compile(
    r"\b[Tt]he[ ](?P<name>[A-Z][\w'\u2019&-]*(?:[ ][A-Z][\w'\u2019&-]*){0,2})[ ]"
    r"(?:website|web[ ]site|homepage|app|web[ ]app|online[ ]store|customer[ ]portal)\b"
)
# "Thomas and Sons", "Warner Bros.", "Smith & Partners".
_AND_SONS = re.compile(
    r"\b[A-Z][\w'\u2019-]+(?:[ ][A-Z][\w'\u2019-]+)?[ ](?:and|&)[ ]"
    r"(?:Sons|Brothers|Daughters|Bros\.?)(?![\w])"
)
_SINGLE = re.compile(
    r"(?<![\w.-])[A-Z][a-z]+[A-Z]?[a-z]*(?:-[A-Z][a-z]+)?(?:[ ](?:And[ ]|&[ ])?[A-Z][a-z]+){0,2}(?![\w-])"
)
# "Abby Holloway of Opencounter": a person's full name, "of", then their organisation.
_PERSON_OF = re.compile(
    r"\b[A-Z][\w'\u2019-]+[ ](?:[A-Z]\.[ ])?[A-Z][\w'\u2019-]+[ ](?:of|from)[ ]"
    r"(?P<org>[A-Z][\w'\u2019&-]*(?:[ ][A-Z][\w'\u2019&-]*){0,2})"
)
# Signature and address blocks: a person's name line, then a short line, then an address line.
_LINE_PREFIX = re.compile(r"^[ \t>*?•-]*")
_NAME_LINE = re.compile(r"^(?:[A-Z][\w'\u2019.-]*|[a-z][\w'\u2019.-]*)(?:[ ][\w'\u2019.-]+){1,3}$")
# A company line: one to six words, commas, "&" and hyphens allowed ("Owens, Duran and Oneal").
_ORG_LINE = re.compile(r"^[^\W\d_][\w'\u2019.&-]*(?:,?[ ][\w'\u2019.&-]+){0,5}$")
_TITLE_LINE = re.compile(r"^[^\W\d_][\w'\u2019.-]*(?:[ ][\w'\u2019.-]+){0,4}$")
# A street line: words, then a house number at the end ("Ul. Miła 53", "Koskikatu 25 B").
_STREET_LINE = re.compile(r"^[^\W\d_][\w'\u2019. -]{2,40}[ ]\d{1,4}[a-zA-Z]?\.?$")
_ADDRESS_LINE = re.compile(
    r"(?i)^(?:\d|p\.?\s?o\.?\s?box|psc\b|unit\s\d|usns\b|usnv\b|uss\b|uscgc\b|apo\b|fpo\b|dpo\b|the\s+corner)"
)
# A capitalised word; "&" and "and"/"of" may join words inside a run.
_CAPWORD = r"(?:[A-Z][\w'\u2019-]*\.?|[A-Z]{2,}|&)"
_RUN = re.compile(rf"{_CAPWORD}(?:[ ](?:and[ ]|of[ ]|&[ ])?{_CAPWORD}){{0,5}}")
_SURNAME_FIRM = re.compile(
    r"(?P<firm>[A-Z][a-z'\u2019]+(?:-[A-Z][a-z'\u2019]+)+"
    r"|[A-Z][a-z'\u2019]+(?:,[ ][A-Z][a-z'\u2019]+)*,?[ ](?:and|&)[ ][A-Z][a-z'\u2019]+)"
)
_AFTER_CUE = re.compile(r"[ ]*(?P<name>[A-Z][\w'\u2019.&-]*(?:[ ][A-Z][\w'\u2019.&-]*){0,2})")


class OrganizationRecognizer(OwnRecognizer):
    def __init__(self, names: NameLists, places: Gazetteer) -> None:
        self.names = names
        self.places = places
        super().__init__(supported_entities=["ORGANIZATION"], name="OrganizationRecognizer")

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        spans: list[tuple[int, int, float, str]] = []
        for match in _RUN.finditer(text):
            spans.extend(self._suffixed(match.group(), match.start()))
        for match in _INSTITUTION_OF.finditer(text):
            spans.append((match.start(), match.end(), 0.75, "institution"))
        for match in _SURNAME_FIRM.finditer(text):
            found = self._firm(text, match.start(), match.end())
            if found is not None:
                spans.append(found)
        for match in _EMPLOYER_CUE.finditer(text):
            found = self._after_cue(text, match.end())
            if found is not None:
                spans.append(found)
        for match in _SINGLE.finditer(text):
            if _IS_A_COMPANY.match(text, match.end()):
                found = self._said_company(match.group(), match.start())
                if found is not None:
                    spans.append(found)
                    continue
            if not _COMPANY_AFTER.match(text, match.end()):
                continue
            parts = [p for p in re.split(r"[ -]", match.group()) if p not in ("And", "&")]
            whole = self.places.place(match.group().casefold()) is not None
            if not whole and (
                all(self._unfamiliar(p) for p in parts)
                or (len(parts) > 1 and any(self._unfamiliar(p) for p in parts))
            ):
                spans.append((match.start(), match.end(), 0.6, "company in context"))
        for match in _PERSON_OF.finditer(text):
            org = (
                match.group("org").rstrip("'\u2019s")
                if match.group("org").endswith(("'s", "\u2019s"))
                else match.group("org")
            )
            parts = org.split(" ")
            if self.places.place(org.casefold()) is None and any(self._unfamiliar(p) for p in parts):
                spans.append(
                    (match.start("org"), match.start("org") + len(org), 0.55, "organisation of a person")
                )
        for match in _THE_X_SITE.finditer(text):
            name = match.group("name")
            words = [w.casefold() for w in name.split(" ")]
            if (
                self.places.place(name.casefold()) is None
                and not all(w in self.names.common for w in words)
                and not any(self.places.nrp_word(w) for w in words)
            ):
                spans.append((match.start("name"), match.end("name"), 0.6, "company's website"))
        for match in _AND_SONS.finditer(text):
            spans.append((match.start(), match.end(), 0.75, "family firm"))
        if "\n" in text:
            spans.extend(self._block_lines(text))
        return [self.result("ORGANIZATION", s, e, score, why) for s, e, score, why in _merge(spans)]

    def _suffixed(self, run: str, offset: int) -> list[tuple[int, int, float, str]]:
        words = run.split(" ")
        # The run may hold several names; find each legal-form or business word and take the
        # capitalised words before it (up to four, not across "and").
        out = []
        for k, word in enumerate(words):
            bare = word.rstrip(".").replace(",", "").casefold()
            legal = bare in _LEGAL and (word[0].isupper() or bare == "&")
            business = bare in _BUSINESS
            if k == 0 or not (legal or business):
                continue
            first = k
            while (
                first > 0
                and k - first < 4
                and words[first - 1] not in ("and",)
                and words[first - 1][:1].isupper()
            ):
                first -= 1
            body = [w.rstrip(".").casefold() for w in words[first:k] if w not in ("&", "of")]
            body = [w for w in body if w]
            while body and body[0] in ("the", "a", "an") and first < k:
                first += 1
                body = body[1:]
            if not body:
                continue
            if not legal and all(self._ordinary(w) for w in body):
                continue  # "Customer Services", "Financial Markets"
            if not legal and len(body) == 1 and body[0] in self.names.common:
                continue
            start = offset + len(" ".join(words[:first])) + (1 if first else 0)
            end = offset + len(" ".join(words[: k + 1]))
            out.append((start, end, 0.85 if legal else 0.7, "company name"))
        return out

    def _said_company(self, name: str, start: int) -> tuple[int, int, float, str] | None:
        """A capitalised name the text calls a company: not a person's name, a place or a common word."""
        words = [w for w in re.split(r"[ -]", name) if w not in ("And", "&")]
        folded = [w.casefold() for w in words]
        if self.places.place(name.casefold()) is not None or folded[0] in ("the", "a", "an", "it", "this"):
            return None
        if folded[0] in self.names.first or all(w in self.names.common for w in folded):
            return None
        if len(words) == 1 and not self._unfamiliar(words[0]):
            return None
        return start, start + len(name), 0.65, "named as a company"

    def _firm(self, text: str, start: int, end: int) -> tuple[int, int, float, str] | None:
        members = [
            m for m in re.split(r",[ ]|[ ](?:and|&)[ ]|-|,", text[start:end]) if m and m not in ("and", "&")
        ]
        if len(members) < 2 or all(self.names.is_ordinary_word(m.casefold()) for m in members):
            return None
        if any(
            self.names.is_ordinary_word(m.casefold()) and m.casefold() not in self.names.last for m in members
        ):
            return None
        known = sum(m.casefold() in self.names.last for m in members)
        if 2 * known < len(members):
            return None
        before = _FIRM_CUE.search(text, max(0, start - 15), start) is not None
        after = re.match(r"[ ](?:[A-Z][\w-]*[ ])?([A-Z][a-z]+)", text[end : end + 30])
        business = after is not None and after.group(1).casefold() in _BUSINESS | _LEGAL
        if not (before or business or _COMPANY_AFTER.match(text, end)):
            return None
        return start, end, 0.7, "firm name"

    def _after_cue(self, text: str, end: int) -> tuple[int, int, float, str] | None:
        match = _AFTER_CUE.match(text, end)
        if match is None:
            return None
        name = match.group("name").rstrip(".")
        words = name.split(" ")
        folded = [w.casefold() for w in words]
        if folded[0] in self.names.common or folded[0] in ("the", "a", "an"):
            return None
        if folded[0] in self.names.first and len(words) > 1:
            return None  # "joined Maria Lopez": a person
        if self.places.place(name.casefold()) is not None:
            return None
        acronym = len(words) == 1 and words[0].isupper() and len(words[0]) >= 3  # "work for NATO"
        if len(words) == 1 and not acronym and (folded[0] in self.names.first or self._ordinary(folded[0])):
            return None
        start = match.start("name")
        return start, start + len(name), 0.6, "employer in context"

    def _block_lines(self, text: str) -> list[tuple[int, int, float, str]]:
        """The company line of a signature or address block: between a name line and an address line."""
        out: list[tuple[int, int, float, str]] = []
        lines: list[tuple[int, str]] = []
        offset = 0
        for raw in text.split("\n"):
            prefix = _LINE_PREFIX.match(raw)
            skip = prefix.end() if prefix else 0
            lines.append((offset + skip, raw[skip:].rstrip()))
            offset += len(raw) + 1
        for k in range(1, len(lines) - 1):
            start, line = lines[k]
            if not line or not _ORG_LINE.match(line) or len(line) > 60:
                continue
            previous, following = lines[k - 1][1], lines[k + 1][1]
            if not _NAME_LINE.match(previous) and not _TITLE_LINE.match(previous):
                continue
            if not (_ADDRESS_LINE.match(following) or _STREET_LINE.match(following)):
                # "Name / Company / Name / address": the name line repeated after the company
                repeated = following == previous and k + 2 < len(lines)
                if not (repeated and _ADDRESS_LINE.match(lines[k + 2][1])):
                    continue
            words = [w.strip(".,").casefold() for w in line.replace(",", " ").split(" ") if w]
            before = lines[k - 2][1].casefold() if k >= 2 else ""
            if (
                line.casefold() in (previous.casefold(), before)
                or self.places.place(line.casefold()) is not None
            ):
                continue
            if words[0] in self.names.first and len(words) > 1:
                continue  # another person's name
            if all(self._ordinary(w) and w not in _BUSINESS and w not in _LEGAL for w in words):
                continue  # a job title ("Echocardiographer", "Account Manager")
            if len(words) == 1 and not self._unfamiliar(words[0]) and words[0] not in self.names.last:
                continue
            out.append((start, start + len(line), 0.55, "company line of a signature block"))
        return out

    def _unfamiliar(self, word: str) -> bool:
        """Not an everyday word, a first name or a known place: "Zillow", "Evidera"."""
        folded = word.casefold()
        return (
            not self._ordinary(folded)
            and folded not in self.names.first
            and self.places.place(folded) is None
        )

    def _ordinary(self, word: str) -> bool:
        names = self.names
        return word in names.common or (names.is_dictionary_word(word) and word not in names.last)


def _merge(spans: list[tuple[int, int, float, str]]) -> list[tuple[int, int, float, str]]:
    merged: list[tuple[int, int, float, str]] = []
    for span in sorted(spans, key=lambda s: (s[0], -s[1])):
        if merged and span[0] < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], span[1]), max(last[2], span[2]), last[3])
        else:
            merged.append(span)
    return merged
