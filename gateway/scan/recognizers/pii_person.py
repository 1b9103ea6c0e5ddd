"""PERSON (and the NER's ORGANIZATION, LOCATION, NRP): spaCy NER combined with name lists and context.

The small English model finds ~64% of person names in chat-like text on its own and often calls an
unfamiliar name an ORG or GPE.  Names are found here from runs of capitalised tokens (initials and
particles such as "van", "de", "ten" included; never across a line break or punctuation), scored on
evidence that holds in real prompts, not in one data set's templates:

* a title before the run ("Mr.", "Dr.", "Mme") or a cue ("my name is", "Dear", "Hi", "Regards,",
  "Name:", "signed", "says"...);
* its first token is a known first name (``NameLists``, from faker's locale data) that is not an
  everyday word; its later tokens are known surnames or carry surname morphology (-ov, -ska, -ić,
  -sson, -dóttir, -shvili, ...); a middle initial ("Vanessa P. Hertzog");
* the NER said PERSON; an NER ORG/GPE over a run with first-name evidence is re-labelled PERSON
  (the NER's most common mistake on foreign names), and the ORG/GPE is dropped;
* a run ending in an organisation or street word ("Inc", "Ltd", "University", "Street") is not a person.

Lower-case names ("patricia desrosiers") are found when a known first name is followed by a known
surname, or follows a cue.  Each hit keeps its score; ``gateway.scan.pii`` applies the threshold.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.tokens import Doc, Span, Token

from gateway.scan.pii_names import SOFTWARE, NameLists
from gateway.scan.pii_nlp import NER_LABELS, token_list, token_texts
from gateway.scan.recognizers.pii_base import OwnRecognizer, context_after, context_before
from gateway.scan.recognizers.pii_person_runs import (
    Run,
    is_initial,
    is_word,
    line_start,
    runs,
    sentence_initial,
)

NER_ENTITIES = ("PERSON", "ORGANIZATION", "LOCATION", "NRP")
NER_SCORES = {"PERSON": 0.85, "ORGANIZATION": 0.6, "LOCATION": 0.7, "NRP": 0.7}

_NOT_PERSON_END_TEXT = """
inc ltd llc llp plc corp co company group gmbh ag sa spa bv nv oy ab as kft sro university college
school hospital clinic bank institute foundation association society church ministry department
agency council committee club hotel restaurant cafe airport station museum library center centre
street st road rd avenue ave lane drive boulevard way square park bridge river lake mountain island
city county state republic kingdom province district region valley beach bay coast
"""
_NOT_PERSON_END = frozenset(_NOT_PERSON_END_TEXT.split())
# Verbs that agree with a plural subject: a single word before one is no person.
_PLURAL_VERBS = frozenset({"are", "were", "have", "do", "don't", "aren't", "weren't"})
_SURNAME_SHAPE = re.compile(
    r"(?:ov|ova|ev|eva|ovich|ovna|evich|evna|sky|ski|ska|skaya|skiy|wicz|vić|vič|ić|ič|enko|chuk|dze|"
    r"shvili|yan|oglu|oğlu|escu|poulos|opoulos|akis|idis|adis|oglou|akos|opoulou|sson|dóttir|dottir|ová|ová|ecki|icki|owski|"
    r"ewski|ak|czyk|iak|uk|ko|ovsky|berg|stein|mann|sen|son|ez|ini|elli|etti|ucci|otti|ali|ani|oku|ura|"
    r"moto|mura|kawa|yama|ta|da)$"
)
_CUE_BEFORE = re.compile(
    r"(?i)(?:\b(?:my\s+name\s+is|name\s*(?:is|:)|names?\s*[:=]|i\s+am|i'm|im|this\s+is|it's|dear|hi|hello|"
    r"hey|thanks|thank\s+you|regards|sincerely|cheers|best|yours|from|to|cc|attn|signed|contact|ask|tell|"
    r"told|met|meet|meeting\s+with|with|by|says|said|asked|wrote|called|named|patient|client|customer|"
    r"employee|candidate|applicant|tenant|colleague|manager|boss|wife|husband|son|daughter|mother|father|"
    r"brother|sister|friend|starring|directed\s+by|according\s+to|spoke\s+to|speak\s+to|talk\s+to|"
    r"about|for|and|or|of|was|is|calls\s+me|call\s+me|goes\s+by)\s*[,:]?\s*|[>•\-*]\s*)$"
)
_STRONG_CUE = re.compile(
    r"(?i)\b(?:my\s+name\s+is|name\s*(?:is|:)|names?\s*[:=]|i\s+am|i'm|dear|hi|hello|hey|regards|"
    r"sincerely|signed|calls\s+me|call\s+me|goes\s+by|says|said|asked|wrote|starring|directed\s+by|"
    r"spoke\s+to|patient|attn|(?:last|first|given|family|maiden|middle)\s+name(?:\s+is)?\??|surname(?:\s+is)?\??|"
    r"people\s+call\s+me|known\s+as|mr|mrs|ms|dr)\s*[,:.]?\s*$"
)
# Handing something to somebody: "forward the revised contract to Faulhaber", "ask Kuter", "cc Bek".
_HANDOFF_CUE = re.compile(
    r"(?i)\b(?:forward|send|sent|e-?mail|mail|pass|give|hand|introduce|reply|write|copy|cc|bcc|ask|tell|"
    r"remind|thank|invite|assign|ping|call)\w*\s+(?:(?:it|this|that|them|these|the\s+\w+(?:\s+\w+)?|"
    r"a\s+\w+(?:\s+\w+)?)\s+)?(?:to\s+|over\s+to\s+)?$"
)
# Somebody who did something to a ticket or a document: "opened by Nouh Meredink" (the small NER
# calls an unfamiliar name there a firm as often as a place).
_AGENT_CUE = re.compile(
    r"(?i)\b(?:opened|created|reported|raised|filed|submitted|assigned|requested|approved|reviewed|"
    r"signed|escalated|closed|updated|edited|written)\s+(?:to|by)\s*:?\s*$"
)
# A role in credits, tickets and sign-offs, before a name: "Design: Agapeto Corsentino", "Assignee: ...".
_ROLE_LABEL = re.compile(
    r"(?i)\b(?:design(?:ed)?|test(?:ing|ed)?|written|illustrat\w*|photo\w*|edit(?:or|ed|ing)|produc\w*|"
    r"translat\w*|review(?:er|ed)?|author|credits?|lead|owner|assignee|reporter|approver|requester)"
    r"(?:\s+by)?\s*:\s*$"
)
# A verb or possessive after a single capitalised word that makes it a person ("Walker said", "Asya's kid").
_PERSON_AFTER = re.compile(
    r"(?i)(?:'s?\s+(?:kid|son|daughter|wife|husband|mother|mom|mum|father|dad|brother|sister|friend|partner|"
    r"boss|colleague|family|parents|children|baby|phone|email|address|birthday)\b|,?\s+(?:is|was|has|had|"
    r"said|says|told|asked|spent|began|lives|lived|works|worked|wrote|writes|thinks|thought|wants|wanted|"
    r"replied|answered|smiled|laughed|feels|felt|will\s+be|would|joined|left|called|emailed|texted|"
    r"will\s+(?:start|join|report|replace)|starts|is\s+joining|has\s+joined)\b)"
)
# Of those, what people do with words: a firm "said" or "asked" in the news, but a single word
# nobody knows that asks whether an invoice can be split is somebody writing in.
_SPEECH_AFTER = re.compile(r"(?i),?\s+(?:asked|told|replied|answered|emailed|texted|wrote|wants|wanted)\b")
# Cues strong enough to take lower-case words as a name ("my name is vitoria"); "I'm" is not ("I'm glad").
_NAME_CUE = re.compile(
    r"(?i)\b(?:my\s+name\s+is|name\s*(?:is|:)|names?\s*[:=]|call\s+me|calls\s+me|known\s+as|goes\s+by|"
    r"(?:last|first|given|family|maiden|middle)\s+name(?:\s+is)?\??|surname(?:\s+is)?\??)\s*[,:.]?\s*$"
)
_LINE_LABEL = re.compile(r"(?im)^[ \t>]*(?:name|full\s+name|contact|from|to|signed|patient|author)\s*:\s*$")
# Prefilters, exact supersets: every ``_NAME_CUE`` match contains one of these words (its end is within
# the match), and every ``_LINE_LABEL`` match starts with this (``_line_label`` matches from a line start).
_NAME_CUE_WORD = re.compile(r"(?i)name|call|known|goes")
_LINE_LABEL_HEAD = re.compile(r"(?im)^[ \t>]*(?:name|full\s+name|contact|from|to|signed|patient|author)\s*:")


class NamedEntityRecognizer(OwnRecognizer):
    """Emits PERSON from names + NER, and the NER's ORGANIZATION, LOCATION and NRP."""

    def __init__(self, names: NameLists, is_place: Callable[[str], bool] | None = None) -> None:
        """``is_place(casefolded)``: a place the gazetteer knows, never taken for a stranger's name."""
        self.names = names
        self.is_place = is_place
        super().__init__(supported_entities=list(NER_ENTITIES), name="NamedEntityRecognizer")

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if nlp_artifacts is None or nlp_artifacts.tokens is None:
            return []
        doc: Doc = nlp_artifacts.tokens
        ner = [
            (ent.start, ent.end, NER_LABELS[ent.label_])
            for ent in nlp_artifacts.entities
            if ent.label_ in NER_LABELS
        ]
        persons: list[tuple[int, int, float]] = []  # char offsets
        claimed: set[int] = set()  # token indices taken by a PERSON
        for run in runs(doc):
            found = self._score_run(doc, text, run, ner)
            if found is not None:
                start_tok, end_tok, score = found
                persons.append((doc[start_tok].idx, doc[end_tok - 1].idx + len(doc[end_tok - 1]), score))
                claimed.update(range(start_tok, end_tok))
        persons.extend(self._lowercase_names(doc, text, claimed))
        persons.extend(_name_lists(doc, claimed, self.names))
        persons.extend(_coordinated(doc, persons, claimed, self.names))
        results = [self.result("PERSON", s, e, score, "name") for s, e, score in persons]
        for start, end, label in ner:
            if label == "PERSON":
                span = doc[start:end]
                if all(t.lower_ in SOFTWARE or not t.text[:1].isupper() for t in span):
                    continue  # "the Haskell programming language", "MySQL versus Kubernetes"
                if end - start == 1 and end < len(doc) and doc[end].lower_ in _PLURAL_VERBS:
                    continue  # "Tuples are containers": one person is not "are"
                if not claimed.intersection(range(start, end)) and not self._title_like(span):
                    results.append(self.result("PERSON", span.start_char, span.end_char, 0.6, "spaCy NER"))
                continue
            if claimed.intersection(range(start, end)):
                continue  # re-labelled as a person above
            span = doc[start:end]
            if any(ch.isdigit() for ch in span.text):
                continue  # "GB02RVXB0127..." as a GPE: identifiers are the pattern recognizers' job
            if label == "ORGANIZATION" and _unlikely_organisation(span.text, names=self.names):
                continue
            if label == "NRP" and (span.text.isupper() or self._title_like(span)):
                continue  # "Pedestrians", "LEPPEN": demonyms and religions are the gazetteer's (pii_location)
            results.append(self.result(label, span.start_char, span.end_char, NER_SCORES[label], "spaCy NER"))
        return results

    def _score_run(
        self, doc: Doc, text: str, run: Run, ner: list[tuple[int, int, str]]
    ) -> tuple[int, int, float] | None:
        names = self.names
        all_tokens = token_list(doc)
        tokens = all_tokens[run.start : run.end]
        words = [t for t in tokens if is_word(t)]
        if not words:
            return None
        if words[-1].lower_.rstrip(".") in _NOT_PERSON_END and not run.title:
            return None
        if len(words) == 1 and not run.title and run.end < len(doc) and doc[run.end].lower_ in _PLURAL_VERBS:
            return None  # "Tuples are containers": one person is not "are"
        start, end = run.start, run.end
        first = words[0].lower_
        initial_position = sentence_initial(doc, run.start)
        # A sentence-initial everyday word is not part of the name ("Have Tomomi ...", "Please ...").
        while not run.title and words and words[0].lower_ in names.common:
            if len(words) == 1:
                return None
            start = words[1].i
            words = words[1:]
            first = words[0].lower_
            initial_position = False
        labels = {label for s, e, label in ner if s < end and e > start}
        ner_person = "PERSON" in labels
        is_first = first in names.first and first not in names.common
        later = words[1:]
        surname_evidence = any(
            (w.lower_ in names.last and w.lower_ not in names.common) or _SURNAME_SHAPE.search(w.lower_)
            for w in later
        )
        has_initial = any(is_initial(t) for t in all_tokens[start:end])
        char_start = all_tokens[start].idx
        cue = context_before(text, char_start, _CUE_BEFORE, 40) or _line_label(text, char_start)
        strong_cue = (
            run.title or context_before(text, char_start, _STRONG_CUE, 30) or _line_label(text, char_start)
        )
        single = len(words) == 1
        # The small NER calls many unfamiliar first names GPE; only well-known places stay places.
        lone_place = single and first in names.places and not strong_cue
        verb_after = single and context_after(text, doc[end - 1].idx + len(doc[end - 1]), _PERSON_AFTER, 40)
        known = first in names.first or first in names.last or bool(_SURNAME_SHAPE.search(first))

        # A run inside a larger NER ORG ("Davis, Reynolds and Williamson", "Fritz-Armstrong") with no
        # first name is a firm named after people.
        # ORG spans that reach beyond the run ("and", ",", "-", "Inc"), on one line.
        firm = any(
            label == "ORGANIZATION"
            and (s < start or e > end)
            and "\n" not in doc[s:e].text
            and not (s >= start and e == end + 1 and doc[end].text in ("'s", "\u2019s", "'"))
            for s, e, label in ner
            if s < end and e > start
        )
        organisation = firm and not (is_first or run.title or strong_cue)
        dialogue = (
            single
            and line_start(doc, start)
            and end < len(doc)
            and doc[end].text == ":"
            and not names.is_dictionary_word(first)
        )
        alone_on_line = (
            2 <= len(words) <= 3
            and line_start(doc, start)
            and (end == len(doc) or doc[end].is_space or doc[end].text in (",", ":"))
            and not any(names.is_dictionary_word(w.lower_) or w.lower_ in names.common for w in words)
        )
        all_dictionary = all(
            names.is_dictionary_word(w.lower_) and w.lower_ not in names.first and w.lower_ not in names.last
            for w in words
        )
        handed = single and context_before(text, char_start, _HANDOFF_CUE, 50)
        score = 0.0
        if run.title or strong_cue:
            score = 0.9
        elif ner_person and all_dictionary:
            return None  # "Guilty Pleasures", "Princess Royal": the small NER's titles-as-names
        elif ner_person or (is_first and not single):
            score = 0.85
        elif is_first and not lone_place:
            score = 0.7 if (not initial_position or cue) else 0.6
        elif (
            not single
            and (surname_evidence or has_initial)
            and first not in names.common
            and not organisation
        ):
            score = 0.65 if (first in names.first or first in names.last or cue) else 0.5
        elif (
            single
            and cue
            and (first in names.last or _SURNAME_SHAPE.search(first))
            and (not labels or (labels <= {"LOCATION", "ORGANIZATION"} and handed))
            and not lone_place
        ):
            score = 0.5
        elif (
            single
            and not known
            and not initial_position
            and labels <= {"LOCATION", "ORGANIZATION"}
            and first not in names.places
            and not names.is_dictionary_word(first)
            and handed
        ):
            score = 0.5  # a word no list knows, handed something: a surname the lists lack
        elif (
            single
            and not known
            and labels <= {"LOCATION", "ORGANIZATION"}
            and first not in names.places
            and not names.is_dictionary_word(first)
            and not _unlikely_organisation(first, names=names)
            and context_after(text, doc[end - 1].idx + len(doc[end - 1]), _SPEECH_AFTER, 20)
        ):
            score = 0.5  # a word no list knows that asks or writes: a given name the lists lack
        elif self._stranger(
            text,
            words,
            labels,
            (initial_position or line_start(doc, start))
            and not context_before(text, char_start, _ROLE_LABEL, 30),
        ):
            score = 0.5
        elif dialogue:
            score = 0.7 if known else 0.5
        elif alone_on_line:
            score = 0.65 if (known or surname_evidence) else 0.5
        elif (
            verb_after
            and not lone_place
            # The small NER calls unfamiliar first names places, and firms; a known name that asks
            # or says something is a person.
            and (labels <= {"LOCATION"} or (labels <= {"LOCATION", "ORGANIZATION"} and known))
            and (not labels or first not in names.places)
            and (known or not names.is_dictionary_word(first))
        ):
            score = 0.6 if known else 0.45
        if score == 0.0:
            return None
        if single and words[0].is_upper and len(words[0]) <= 4 and not (run.title or strong_cue):
            return None  # "DOB:", "NINO", "DC": acronyms, not names
        if words[0].is_upper and len(words[0]) > 3 and not (run.title or strong_cue):
            score -= 0.2  # ALL-CAPS runs are headings and place names more often than people
        return start, end, score

    def _stranger(self, text: str, words: list[Token], labels: set[str], initial: bool) -> bool:
        """Two or three capitalised words inside a sentence that no list knows: not names, not
        everyday words, not a place.  The small NER calls such names places ("confirming that Natashia
        Burks will start": LOCATION); a name from outside the lists is more often a person there."""
        last = words[-1]
        agent = (
            context_before(text, words[0].idx, _AGENT_CUE, 30)
            or context_before(text, words[0].idx, _ROLE_LABEL, 30)
            or context_before(text, words[0].idx, _HANDOFF_CUE, 50)
            or context_after(text, last.idx + len(last), _PERSON_AFTER, 40)
        )
        firm_ok = {"LOCATION", "ORGANIZATION"} if agent else {"LOCATION"}
        if not 2 <= len(words) <= 3 or initial or not labels <= firm_ok:
            return False
        names = self.names
        # One word may be a dictionary word by its stem alone ("Burks": "burk" + "s"), not more.
        stemmed = 0
        for w in words:
            low = w.lower_
            if low in names.common or low in names.places or low in names.dictionary or len(low) < 3:
                return False
            if self.is_place is not None and self.is_place(low):
                return False
            stemmed += names.is_dictionary_word(low)
        if stemmed > 1 or stemmed == len(words):
            return False
        whole = text[words[0].idx : words[-1].idx + len(words[-1])].casefold()
        return self.is_place is None or not self.is_place(whole)

    def _title_like(self, span: Span) -> bool:
        names = self.names
        words = [t.lower_ for t in span if t.is_alpha]
        return all(
            names.is_dictionary_word(w) and w not in names.first and w not in names.last for w in words
        )

    def _lowercase_names(self, doc: Doc, text: str, claimed: set[int]) -> list[tuple[int, int, float]]:
        """``patricia desrosiers``: a known first name then a known surname, both lower-case."""
        names = self.names
        found = []
        tokens = token_list(doc)
        # spaCy's ``is_lower``, ``is_alpha`` and ``lower_`` are ``str.islower``, ``str.isalpha`` and
        # ``str.lower`` of the text, so a lower-case token's text is its own lower form.
        texts = token_texts(doc)
        lower = [t.islower() for t in texts]
        for i in range(len(tokens) - 1):
            if i in claimed or not lower[i] or not lower[i + 1]:
                continue
            first, last = texts[i], texts[i + 1]
            if first not in names.first or first in names.common or len(first) <= 2:
                continue
            token, following = tokens[i], tokens[i + 1]
            if token.whitespace_ != " ":
                continue
            if (
                (last in names.last or _SURNAME_SHAPE.search(last))
                and last not in names.common
                and len(last) > 2
            ):
                cue = context_before(text, token.idx, _STRONG_CUE, 30) or _line_label(text, token.idx)
                found.append((token.idx, following.idx + len(following), 0.8 if cue else 0.55))
                claimed.update((i, i + 1))
        # "my name is vitoria", "name: hyuuma t. maida": lower-case words right after a strong cue.
        # Every cue contains one of ``_NAME_CUE_WORD`` and every line label one of ``_LINE_LABEL_HEAD``,
        # so a token with no such keyword in the 30 characters before it (and no label line) has no cue.
        keywords = [m.end() for m in _NAME_CUE_WORD.finditer(text)]
        labels = _LINE_LABEL_HEAD.search(text) is not None
        if not keywords and not labels:
            return found
        for i, token in enumerate(tokens):
            if i in claimed or not lower[i] or not texts[i].isalpha() or texts[i] in names.common:
                continue
            idx = token.idx
            near = bisect.bisect_right(keywords, idx)
            has_keyword = near > 0 and keywords[near - 1] > idx - 30
            if not (
                (has_keyword and context_before(text, idx, _NAME_CUE, 30))
                or (labels and _line_label(text, idx))
            ):
                continue
            end = i + 1
            while end < len(tokens) and end - i < 4 and "\n" not in tokens[end - 1].whitespace_:
                nxt = tokens[end]
                if (
                    not (nxt.is_lower and (nxt.is_alpha or _is_lower_initial(nxt)))
                    or nxt.lower_ in names.common
                ):
                    break
                end += 1
            final = tokens[end - 1]
            found.append((idx, final.idx + len(final), 0.75))
            claimed.update(range(i, end))
        return found


def _is_lower_initial(token: Token) -> bool:
    text = token.text
    return (len(text) == 1 and text.isalpha()) or (len(text) == 2 and text[0].isalpha() and text[1] == ".")


_FIRM_BEFORE = re.compile(r"(?i)\b(?:from|at|of|for|join(?:ed)?|by)\s*$")


def _name_lists(doc: Doc, claimed: set[int], names: NameLists) -> list[tuple[int, int, float]]:
    """Lists of single names: "Kónya, Becker and Vasquez", "silvana, adam and caleb".

    Every member is a single word, not an everyday or dictionary word, and most are known names
    (surnames for capitalised lists, first names for lower-case ones).  A list right after "from",
    "at", "of" is a firm ("from Hawkins, Richardson and Santana") and left to the NER.
    """
    found: list[tuple[int, int, float]] = []
    all_tokens = token_list(doc)
    texts = token_texts(doc)
    i, n = 0, len(all_tokens)
    # A list starts just before a joiner; from anywhere else the walk below finds one member only.
    for head in [k - 1 for k in range(1, n - 1) if texts[k] in (",", "and", "&")]:
        if head < i:
            continue  # inside the list just read
        i = head
        members = [i]
        j = i
        while j + 2 < n and texts[j + 1] in (",", "and", "&"):
            k = j + 2
            if texts[j + 1] == "," and texts[k] in ("and", "&") and k + 1 < n:
                k += 1
            members.append(k)
            j = k
        i = j + 1
        tokens = [all_tokens[m] for m in members]
        if len(tokens) < 2 or any(t.i in claimed for t in tokens):
            continue
        lower = all(t.is_lower and t.is_alpha for t in tokens)
        capital = all(is_word(t) for t in tokens)
        if not (lower or capital):
            continue
        words = [t.lower_ for t in tokens]
        if any(w in names.common or w in names.places for w in words):
            continue
        known_words = [
            w for w in words if (w in names.first if lower else (w in names.last or w in names.first))
        ]
        known = len(known_words)
        # Dictionary words pass only as known names, and one member must be no dictionary word at all
        # ("Marrero and Murphy" yes; "Brown and White" no).
        if any(names.is_dictionary_word(w) and w not in known_words for w in words) or all(
            names.is_dictionary_word(w) for w in words
        ):
            continue
        if 2 * known < len(words) or (lower and len(words) < 3):
            continue
        if _FIRM_BEFORE.search(doc.text, max(0, tokens[0].idx - 12), tokens[0].idx):
            continue
        for t in tokens:
            found.append((t.idx, t.idx + len(t), 0.55))
            claimed.add(t.i)
    return found


def _coordinated(
    doc: Doc, persons: list[tuple[int, int, float]], claimed: set[int], names: NameLists
) -> list[tuple[int, int, float]]:
    """List members next to a found person are persons: "Marrero and Murphy", "Eklund, Michael and Hodge"."""
    found: list[tuple[int, int, float]] = []
    starts = {doc.char_span(s, e, alignment_mode="expand") for s, e, score in persons if score >= 0.6}
    spans = [span for span in starts if span is not None]
    frontier = list(spans)
    while frontier:
        span = frontier.pop()
        for step in (-1, 1):
            i = span.start - 1 if step < 0 else span.end
            if not 0 <= i < len(doc) or doc[i].text not in (",", "and", "&", "or"):
                continue
            j = i + step
            if 0 <= j < len(doc) and doc[j].text in ("and", "&", "or") and doc[i].text == ",":
                j += step
            if not 0 <= j < len(doc) or j in claimed:
                continue
            token = doc[j]
            if (
                is_word(token)
                and token.lower_ not in names.common
                and token.lower_ not in names.places
                and not (
                    token.ent_type_
                    and token.ent_type_ not in ("PERSON", "PER")
                    and token.lower_ not in names.last
                    and token.lower_ not in names.first
                )
            ):
                found.append((token.idx, token.idx + len(token), 0.55))
                claimed.add(j)
                frontier.append(doc[j : j + 1])
    return found


def _unlikely_organisation(text: str, names: NameLists) -> bool:
    """The small model's commonest ORG mistakes: acronyms of form fields ("SSN", "DOB"), numbers, words."""
    return (
        any(ch.isdigit() for ch in text)
        or (text.isupper() and len(text) <= 4)
        or text.casefold() in names.common
    )


def _line_label(text: str, start: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    return (
        _LINE_LABEL.match(text, line_start, start) is not None
        or _LINE_LABEL.match(text, text.rfind("\n", 0, max(0, line_start - 1)) + 1, max(0, line_start - 1))
        is not None
    )
