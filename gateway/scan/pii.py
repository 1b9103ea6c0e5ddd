"""PII detection: one presidio ``AnalyzerEngine`` over our own recognizer registry, offline, built once.

:class:`PiiDetector` is expensive to build (a verified spaCy model, ~40,000 gazetteer names, ~30
recognizers: about 2-3 s) and cheap to call; build it once at start-up and share it.  It holds no
per-request state, so one instance serves every request (run it off the event loop: it is CPU work).

What one call does (``detect_many`` batches every step over its texts):

1. tokenise each text with the model's tokenizer;
2. run the NER on the windows around capitalised tokens only (``pii_nlp.run_ner``), batched with
   ``nlp.pipe`` across all texts;
3. pick the recognizers whose cheap trigger occurs in the text (no ``@``: no e-mail recognizer; no
   run of digits: none of the number recognizers) and run presidio's ``analyze`` with the
   precomputed NLP artifacts, so presidio neither loads nor runs a model of its own;
4. drop results below the threshold of their entity, and results inside a stronger finding
   (a "phone number" inside a validated card number, a name inside an e-mail address);
5. return ``Hit(kind="pii", ...)``, each with its score and the recognizer that found it.

Entity names follow presidio's where presidio has one; see :data:`ENTITIES` for the full list.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from presidio_analyzer import EntityRecognizer, PatternRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import (
    IbanRecognizer,
    ItFiscalCodeRecognizer,
    NhsRecognizer,
    UkNinoRecognizer,
    UsItinRecognizer,
    UsSsnRecognizer,
)
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab

from gateway.scan.findings import Hit, ViewText
from gateway.scan.model_files import lemma_dictionary, load_nlp
from gateway.scan.pii_analyzer import FixedRegistry, LeanAnalyzerEngine
from gateway.scan.pii_focus import Near, reads
from gateway.scan.pii_guard import RegexTimedOut, RegexTimeoutGuard
from gateway.scan.pii_names import SOFTWARE, NameLists
from gateway.scan.pii_ner import use_numpy_gemm
from gateway.scan.pii_nlp import (
    LoadedSpacyNlpEngine,
    WordWindowContextEnhancer,
    release_tokens,
    run_ner,
)
from gateway.scan.pii_places import CLEAR, COUNTRY, Gazetteer
from gateway.scan.pii_resolve import resolve
from gateway.scan.pii_vocab import DEFAULT_LIMIT as VOCAB_LIMIT
from gateway.scan.pii_vocab import ModelEpochs
from gateway.scan.recognizers.pii_address import StreetAddressRecognizer
from gateway.scan.recognizers.pii_address_block import AddressBlockRecognizer
from gateway.scan.recognizers.pii_chat import ChatSpeakerRecognizer
from gateway.scan.recognizers.pii_columns import NameColumnRecognizer
from gateway.scan.recognizers.pii_dob import DateOfBirthRecognizer
from gateway.scan.recognizers.pii_email import OfflineEmailRecognizer
from gateway.scan.recognizers.pii_eu_ids import BeNationalNumberRecognizer, FrNirRecognizer, NlBsnRecognizer
from gateway.scan.recognizers.pii_finance import CardNumberRecognizer, IbanAnyCaseRecognizer
from gateway.scan.recognizers.pii_location import PlaceRecognizer, PostcodeRecognizer
from gateway.scan.recognizers.pii_org import OrganizationRecognizer
from gateway.scan.recognizers.pii_person import NamedEntityRecognizer
from gateway.scan.recognizers.pii_phone import InternationalPhoneRecognizer
from gateway.scan.recognizers.pii_scoped import (
    ScopedCryptoRecognizer,
    ScopedDeIdCardRecognizer,
    ScopedDeTaxIdRecognizer,
    ScopedEsNieRecognizer,
    ScopedEsNifRecognizer,
    ScopedFiPersonalIdentityCodeRecognizer,
    ScopedIpRecognizer,
    ScopedMedicalLicenseRecognizer,
    ScopedPlPeselRecognizer,
    ScopedSePersonnummerRecognizer,
    ScopedUrlRecognizer,
    ScopedUsBankRecognizer,
    ScopedUsLicenseRecognizer,
    ScopedUsPassportRecognizer,
)

LANGUAGE = "en"
DEFAULT_THRESHOLD = 0.4

# Cheap triggers: a recognizer family runs only when its trigger occurs in the text.  Each trigger
# is a necessary condition of every pattern in its family (a card, IBAN or phone number has a run
# of digits; an e-mail address has an "@"), so skipping on a miss loses nothing.
_DIGIT_RUN = r"\d[\d \t./()+-]{4,}\d"
TRIGGERS: Mapping[str, str] = {
    "EMAIL_ADDRESS": r"@",
    # A dot before the TLD's first letter (any letter: presidio matches it case-insensitively), or a
    # scheme.  This and the IP trigger are also the run triggers in ``recognizers/pii_scoped.py``.
    "URL": r"\.[^\W\d_]|://",
    # A dotted digit pair (IPv4) or a colon beside a hex digit or another colon (IPv6), any case.
    "IP_ADDRESS": r"[0-9]\.[0-9]|[0-9A-Fa-f]:|:[0-9A-Fa-f]|::",
    "CRYPTO": r"\b(?:bc1|[13])[a-zA-HJ-NP-Z0-9]{25}",
    "DATE_OF_BIRTH": r"(?i)\b(?:d\.?\s?o\.?\s?b|birth|born|b\.|geboren|geburt|n[ée]e?\s+le|naissance"
    r"|nacimiento|nascita|nat[oa]\s+il|f[öo]d)",
    "STREET_ADDRESS": r"\d|(?i:corner\s+of)|Street|Road|Avenue|Lane|Drive|Boulevard|Terrace|Crescent|"
    r"Parkway|Highway",
    "PHONE_NUMBER": _DIGIT_RUN,
    "CREDIT_CARD": _DIGIT_RUN,
    "IBAN_CODE": r"(?i)\b[a-z]{2}\d{2}",
    "US_SSN": _DIGIT_RUN,
    "US_ITIN": _DIGIT_RUN,
    "US_BANK_NUMBER": r"\d{8}",
    "US_PASSPORT": r"\d{8}",
    "US_DRIVER_LICENSE": r"\d{4}",
    "MEDICAL_LICENSE": r"\d{7}",
    "UK_NHS": _DIGIT_RUN,
    "UK_NINO": r"\d\d ?\d\d ?\d\d",
    "ES_NIF": r"\d{7}",
    "ES_NIE": r"\d{7}",
    "IT_FISCAL_CODE": r"(?i)[a-z]{6}\d{2}",
    "PL_PESEL": r"\d{11}",
    "SE_PERSONNUMMER": r"\d{6}",
    "FI_PERSONAL_IDENTITY_CODE": r"\d{6}",
    "DE_TAX_ID": r"\d{2}",
    "DE_ID_CARD": r"\d{4}",
    "FR_NIR": _DIGIT_RUN,
    "NL_BSN": _DIGIT_RUN,
    "BE_NATIONAL_NUMBER": _DIGIT_RUN,
}
# Capitalised words that never need the NER (see ``PiiDetector._explained``).
_NO_NER_WORDS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "miss",
        "dr",
        "prof",
        "sir",
        "madam",
        "street",
        "st",
        "road",
        "rd",
        "avenue",
        "ave",
        "lane",
        "ln",
        "drive",
        "dr",
        "boulevard",
        "blvd",
        "apt",
        "apartment",
        "suite",
        "ste",
        "unit",
        "floor",
        "box",
        "p.o",
        "po",
        "dear",
        "hi",
        "hello",
        "thanks",
        "regards",
    ]
)
# Always run: the NER-based entities (the NER itself is gated by ``run_ner``).
ALWAYS = ("PERSON", "ORGANIZATION", "LOCATION", "NRP")
ENTITIES = (*ALWAYS, *TRIGGERS)

# Per-entity thresholds where the default is wrong: presidio scores these weak patterns 0.01-0.1
# without context and ~0.4 with it; a bare 9-digit "passport" or 8-17 digit "bank number" is noise.
THRESHOLDS: Mapping[str, float] = {
    "ORGANIZATION": 0.5,
    "US_BANK_NUMBER": 0.5,
    "US_PASSPORT": 0.5,
    "US_DRIVER_LICENSE": 0.5,
    "NL_BSN": 0.5,
    "DE_TAX_ID": 0.5,
    "DE_ID_CARD": 0.5,
    "MEDICAL_LICENSE": 0.5,
    "URL": 0.5,
}


class PiiDetector:
    """Finds personal data in text.  Build once (seconds); ``detect`` and ``detect_many`` only read it."""

    name = "pii"

    def __init__(
        self,
        model: str | None = None,
        model_path: str | Path | None = None,
        model_hashes: Mapping[str, Any] | None = None,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        thresholds: Mapping[str, float] | None = None,
        full_ner: bool = False,
        vocab_limit: int = VOCAB_LIMIT,
    ) -> None:
        self._timeouts = RegexTimeoutGuard.install()
        load = functools.partial(_load, model=model, path=model_path, expected_hashes=model_hashes)
        self._model = ModelEpochs(load, vocab_limit)
        nlp = self._model.current()  # not kept: each detection takes the model of the moment
        self._names = NameLists.from_faker(dictionary=lemma_dictionary(nlp))
        names = self._names
        self._places = Gazetteer.build(
            common=names.common.__contains__,
            dictionary=names.is_dictionary_word,
            personal=lambda w: w in names.first or w in names.last,
            first_name=names.first.__contains__,
        )
        self._full_ner = full_ner
        self._threshold = threshold
        self._thresholds = {**THRESHOLDS, **(thresholds or {})}
        # One search per distinct trigger pattern (several entities share the digit-run trigger).
        patterns = {pattern: re.compile(pattern) for pattern in set(TRIGGERS.values())}
        self._triggers = [
            (patterns[pattern], tuple(e for e, p in TRIGGERS.items() if p == pattern)) for pattern in patterns
        ]
        self._engine = LoadedSpacyNlpEngine(nlp, LANGUAGE)
        registry = FixedRegistry(recognizers=self._recognizers(), supported_languages=[LANGUAGE])
        _precompile(registry.recognizers)
        self._analyzer = LeanAnalyzerEngine(
            registry=registry,
            nlp_engine=self._engine,
            supported_languages=[LANGUAGE],
            default_score_threshold=0.0,  # thresholds are applied per entity in ``_finish``
            context_aware_enhancer=WordWindowContextEnhancer(),
        )

    def _recognizers(self) -> list[EntityRecognizer]:
        # presidio registers its country recognizers for their own language (es, it, pl, sv, fi, de);
        # prompts arrive in English or mixed, so they are registered for the one language we analyse.
        return [
            NamedEntityRecognizer(self._names, lambda w: self._places.place(w) is not None),
            PlaceRecognizer(self._places, self._known_word),
            PostcodeRecognizer(self._places),
            OrganizationRecognizer(self._names, self._places),
            OfflineEmailRecognizer(),
            ScopedUrlRecognizer(),
            ScopedIpRecognizer(),
            ScopedCryptoRecognizer(),
            InternationalPhoneRecognizer(),
            StreetAddressRecognizer(self._names.is_dictionary_word),
            AddressBlockRecognizer(self._ordinary_not_place),
            ChatSpeakerRecognizer(self._names.is_dictionary_word, SOFTWARE),
            NameColumnRecognizer(lambda w: w in self._names.common or self._names.is_dictionary_word(w)),
            DateOfBirthRecognizer(),
            CardNumberRecognizer(),
            IbanRecognizer(),
            IbanAnyCaseRecognizer(),
            UsSsnRecognizer(),
            UsItinRecognizer(),
            ScopedUsBankRecognizer(),
            ScopedUsPassportRecognizer(),
            ScopedUsLicenseRecognizer(),
            ScopedMedicalLicenseRecognizer(),
            NhsRecognizer(),
            UkNinoRecognizer(),
            ScopedEsNifRecognizer(supported_language=LANGUAGE),
            ScopedEsNieRecognizer(supported_language=LANGUAGE),
            ItFiscalCodeRecognizer(supported_language=LANGUAGE),
            ScopedPlPeselRecognizer(supported_language=LANGUAGE),
            ScopedSePersonnummerRecognizer(supported_language=LANGUAGE),
            ScopedFiPersonalIdentityCodeRecognizer(supported_language=LANGUAGE),
            ScopedDeTaxIdRecognizer(supported_language=LANGUAGE),
            ScopedDeIdCardRecognizer(supported_language=LANGUAGE),
            FrNirRecognizer(),
            NlBsnRecognizer(),
            BeNationalNumberRecognizer(),
        ]

    def _ordinary_not_place(self, word: str) -> bool:
        """An everyday word or software name ("redis"), or an English word that is no place."""
        names = self._names
        return word in names.common or (names.is_dictionary_word(word) and self._places.place(word) is None)

    def _known_word(self, word: str) -> bool:
        names = self._names
        return word in names.common or names.is_dictionary_word(word) or word in names.first

    def _explained(self, word: str) -> bool:
        """A capitalised word that needs no NER: an unambiguous country/major place, a demonym or
        religion, a title, a street or unit word, a short acronym ("ZIP", "SSN", "NO")."""
        folded = word.casefold().rstrip(".")
        if folded in _NO_NER_WORDS or folded in STOP_WORDS or (word.isupper() and len(word) <= 3):
            return True
        place = self._places.place(folded)
        if place is not None and place[1] == CLEAR and place[0] == COUNTRY:
            return True
        return self._places.nrp_word(word)

    @property
    def names(self) -> NameLists:
        """The name lists, for detectors that read names outside the analyser."""
        return self._names

    @property
    def entities(self) -> tuple[str, ...]:
        return ENTITIES

    def detect(self, text: str) -> list[Hit]:
        return self.detect_many([text])[0]

    def detect_many(self, texts: Sequence[str], *, ner: bool = True) -> list[list[Hit]]:
        """``ner=False`` skips the statistical model: patterns and lists only (answer scanning)."""
        return self._detect(texts, ner=ner)

    def detect_focused(self, text: str, changed: Sequence[tuple[int, int]]) -> list[Hit]:
        """Findings in a normalised view of a text whose raw form is scanned too, where the view
        differs from the raw text only at ``changed`` (spans of ``text``, empty where characters were
        removed): only findings near a change, since elsewhere the view reads as the raw text, whose
        own scan finds what is there.  So only the text around the changes is analysed, and the NER
        runs only around the changes themselves: a view that folds the accents of two names in 5 KB
        of prose costs a few hundred characters' work, not another full scan."""
        return self.detect_views([ViewText(text, changed)])[0]

    def detect_views(self, views: Sequence[ViewText]) -> list[list[Hit]]:
        """Several views of one text at once: ``changed`` None as :meth:`detect`, otherwise each
        kind of change read as ``pii_focus.reads`` says.  All their NER windows go through the model in
        one batch, so the decoder's per-step cost is paid once for all of a text's views."""
        texts: list[str] = []
        nears: list[Near | None] = []
        patterns: list[bool] = []
        placed: list[tuple[int, int, Near | None]] = []  # (view index, region offset, what to keep)
        for index, view in enumerate(views):
            if view.changed is None:
                texts.append(view.text)
                nears.append(None)
                patterns.append(False)
                placed.append((index, 0, None))
                continue
            for start, end, patterns_only, near, kept in reads(view):
                texts.append(view.text[start:end])
                nears.append(near)
                patterns.append(patterns_only)
                placed.append((index, start, kept))
        found = self._detect(texts, ner=True, near=nears, patterns_only=patterns)
        out: list[list[Hit]] = [[] for _ in views]
        for (index, offset, keep), hits in zip(placed, found, strict=True):
            out[index].extend(
                Hit(h.kind, h.entity, offset + h.start, offset + h.end, h.score, h.detector)
                for h in hits
                if keep is None or keep(offset + h.start, offset + h.end)
            )
        return out

    def _detect(
        self,
        texts: Sequence[str],
        *,
        ner: bool,
        near: Sequence[Near | None] | None = None,
        patterns_only: Sequence[bool] | None = None,
    ) -> list[list[Hit]]:
        """``patterns_only[i]``: text ``i`` is searched by the pattern recognizers only, untokenised."""
        nlp = self._model.current()  # this call's model throughout: a reload swaps in a new one
        # presidio's engine never runs the model (it is handed the artifacts), but it holds it: let go
        # of a replaced one, or its vocabulary would live on.
        self._engine.nlp = {LANGUAGE: nlp}  # type: ignore[assignment]  # presidio annotates it as None
        tokenizer = nlp.tokenizer
        bare = patterns_only or [False] * len(texts)
        docs = [None if skip else tokenizer(text) for text, skip in zip(texts, bare, strict=True)]
        worded = [i for i, doc in enumerate(docs) if doc is not None]
        try:
            if ner and worded:
                ordinary = self._names.is_ordinary_word
                run_ner(
                    nlp,
                    [doc for doc in docs if doc is not None],
                    ordinary,
                    full=self._full_ner,
                    explained=self._explained,
                    near=None if near is None else [near[i] for i in worded],
                )
            return [self._analyze(text, doc, nlp.vocab) for text, doc in zip(texts, docs, strict=True)]
        finally:
            for doc in docs:
                if doc is not None:
                    release_tokens(doc)

    def _analyze(self, text: str, doc: Doc | None, vocab: Vocab) -> list[Hit]:
        triggered = (e for trigger, group in self._triggers if trigger.search(text) for e in group)
        if doc is None:  # patterns only: the word-based recognizers (and so the tokens) are not asked for
            entities = list(triggered)
            if not entities:
                return []
            artifacts = self._engine.bare_artifacts(vocab)
        else:
            entities = [*ALWAYS, *triggered]
            artifacts = self._engine.artifacts(doc)
        self._timeouts.reset()
        results: list[RecognizerResult] = self._analyzer.analyze(
            text=text, language=LANGUAGE, entities=entities, nlp_artifacts=artifacts
        )
        if self._timeouts.tripped():
            raise RegexTimedOut("a PII pattern timed out; the text was not fully scanned")
        return self._finish(results)

    def _finish(self, results: Sequence[RecognizerResult]) -> list[Hit]:
        return resolve(results, self._thresholds, self._threshold)


def _load(model: str | None, path: str | Path | None, expected_hashes: Mapping[str, Any] | None) -> Language:
    return split_fields(use_numpy_gemm(load_nlp(model=model, path=path, expected_hashes=expected_hashes)))


def split_fields(nlp: Language) -> Language:
    """Split tokens at ``;`` and ``|`` too: spaCy's English infixes leave "4821;Rashad" one token, so
    the name in a field of an export ("4821;Rashad Herring;enterprise") was never a word to the name
    rules or the NER."""
    tokenizer: Any = nlp.tokenizer
    infixes = tokenizer.infix_finditer.__self__.pattern
    tokenizer.infix_finditer = re.compile(rf"{infixes}|[;|]").finditer
    return nlp


def _precompile(recognizers: Iterable[EntityRecognizer]) -> None:
    """Compile presidio's pattern regexes now, as its ``PatternRecognizer`` would on first use, so
    that no request pays for compiling ~60 patterns (tens of milliseconds) on its first trigger."""
    compile_: Any = importlib.import_module("regex").compile  # presidio compiles with ``regex``
    for recognizer in recognizers:
        if not isinstance(recognizer, PatternRecognizer):
            continue
        flags = recognizer.global_regex_flags
        patterns: list[Any] = getattr(recognizer, "patterns", None) or []
        for pattern in patterns:
            if not pattern.compiled_regex or pattern.compiled_with_flags != flags:
                pattern.compiled_with_flags = flags
                pattern.compiled_regex = compile_(pattern.regex, flags=flags)
