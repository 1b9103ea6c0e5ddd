"""Presidio's NLP engine around an already loaded spaCy model, with the NER run only where it can matter.

Presidio's ``SpacyNlpEngine.load`` takes a model *name* and calls ``spacy.cli.download`` when it is
not installed; :class:`LoadedSpacyNlpEngine` is handed a ``spacy.Language`` that
``gateway.scan.model_files`` verified and loaded, so presidio never sees a name and never loads.

The NER is the costliest stage: on entity-dense text, where it reads about 70% of the tokens, it
takes about 46% of the detector's time (``bench/scan_stages.py``); over every token of ordinary
prose it would cost more than everything else together.  Names, organisations and places are
capitalised in the text we see (lower-case names are the gazetteer's job,
``recognizers/pii_person.py``), so :func:`ner_windows` picks the capitalised tokens that are not
just sentence-initial common words and the NER runs on those tokens plus ``WINDOW`` tokens either
side (the model's receptive field is 4 tokens each side), never on long runs of lower-case prose,
code or numbers.  On entity-dense text the windows cover most of the text; ``bench/detect_eval.py
--full-ner`` measures what reading only the windows loses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language
from spacy.tokens import Doc, Span, Token
from spacy.vocab import Vocab

from gateway.scan.pii_ner import pipe_components

# Tokens of context either side of a candidate token.  The CNN NER sees 4 tokens either side
# (4 layers of window-1 convolutions); 6 keeps a margin for the transition system's lookahead.
WINDOW = 6
# Windows closer than this are merged: one doc of N tokens is cheaper than two docs of N/2.
MERGE_GAP = 4

# spaCy's labels -> presidio's entity names; everything else (DATE, CARDINAL, MONEY...) is dropped
# because pattern recognizers cover what matters of those with far better precision.
NER_LABELS = {
    "PERSON": "PERSON",
    "PER": "PERSON",
    "ORG": "ORGANIZATION",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
    "NORP": "NRP",
}
_SENTENCE_END = frozenset(".!?:;\"'\u201c\u201d\u2018\u2019()[]{}>*-•|#")


class ScanArtifacts(NlpArtifacts):
    """presidio's artifacts of one ``analyze`` call, with room for what its recognizers compute
    alike from the same text (``shared``, keyed by whoever computes it): made per call, so nothing
    of one text outlives its analysis."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shared: dict[Hashable, Any] = {}


class LoadedSpacyNlpEngine(SpacyNlpEngine):
    """A ``SpacyNlpEngine`` whose model is given, not named: ``load()`` never runs (nor downloads)."""

    def __init__(self, nlp: Language, language: str = "en") -> None:
        super().__init__(
            models=[{"lang_code": language, "model_name": "(preloaded)"}],
            ner_model_configuration=NerModelConfiguration(
                model_to_presidio_entity_mapping=dict(NER_LABELS),
                labels_to_ignore=[],
                low_score_entity_names=[],
            ),
        )
        # Presidio keeps one model per language in ``self.nlp``; setting it marks the engine loaded.
        self.nlp = {language: nlp}  # type: ignore[assignment]  # presidio annotates it as None

    @property
    def _default_score(self) -> float:
        score = self.ner_model_configuration.default_score
        return 0.85 if score is None else float(score)

    def load(self) -> None:
        """Already loaded in ``__init__``; overridden so that nothing can ever trigger a download."""

    def _doc_to_nlp_artifact(self, doc: Doc, language: str) -> NlpArtifacts:
        # The lemmatizer is excluded for speed; presidio's context enhancer compares lower-cased
        # lemmas to its context words, and the lower-cased token text is a close stand-in.
        lemmas = [token.lower_ for token in doc]
        entities = [ent for ent in doc.ents if ent.label_ in NER_LABELS]
        return ScanArtifacts(
            entities=entities,
            tokens=doc,
            tokens_indices=[token.idx for token in doc],
            lemmas=lemmas,
            nlp_engine=self,
            language=language,
            scores=[self._default_score] * len(entities),
        )

    def bare_artifacts(self, vocab: Vocab, language: str = "en") -> NlpArtifacts:
        """An empty doc and no entities, for an analysis that asks only pattern recognizers."""
        empty = Doc(vocab)
        return ScanArtifacts(
            entities=[], tokens=empty, tokens_indices=[], lemmas=[], nlp_engine=None, language=language
        )

    def artifacts(self, doc: Doc, language: str = "en") -> NlpArtifacts:
        """Entities and the doc only: :class:`WordWindowContextEnhancer` reads context from the text,
        so the per-token lemma, offset and keyword lists presidio would build are not needed."""
        entities = [ent for ent in doc.ents if ent.label_ in NER_LABELS]
        return ScanArtifacts(
            entities=entities,
            tokens=doc,
            tokens_indices=[],
            lemmas=[],
            nlp_engine=None,
            language=language,
            scores=[self._default_score] * len(entities),
        )


_WORD = re.compile(r"[\w'-]+")


class WordWindowContextEnhancer(ContextAwareEnhancer):
    """presidio's lemma context rule, read straight from the text.

    Same rule as ``LemmaContextAwareEnhancer`` with its defaults: if one of a recognizer's context
    words is a substring of one of the 5 non-stop-words before a result, the score rises by 0.35 to at
    least 0.4.  presidio's version deep-copies every result and scans the token list from the start
    once per result (quadratic in text length: a third of the time on a 4 KB prompt); this one looks
    only at the ~100 characters before each result.
    """

    def __init__(self) -> None:
        super().__init__(
            context_similarity_factor=0.35,
            min_score_with_context_similarity=0.4,
            context_prefix_count=5,
            context_suffix_count=0,
        )

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts | None,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        by_id = {recognizer.id: recognizer for recognizer in recognizers}
        extra = [word.lower() for word in context or []]
        for result in raw_results:
            metadata = result.recognition_metadata or {}
            recognizer = by_id.get(metadata.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY))
            if recognizer is None or not recognizer.context:
                continue
            if metadata.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY):
                continue
            words = [w.lower() for w in _WORD.findall(text, max(0, result.start - 100), result.start)]
            words = [w for w in words if w not in STOP_WORDS][-self.context_prefix_count :] + extra
            if any(cue.lower() in word for cue in recognizer.context for word in words):
                result.score = min(
                    ContextAwareEnhancer.MAX_SCORE,
                    max(
                        result.score + self.context_similarity_factor, self.min_score_with_context_similarity
                    ),
                )
        return raw_results


def _is_candidate(
    doc: list[Token], i: int, ordinary: Callable[[str], bool], explained: Callable[[str], bool] | None = None
) -> bool:
    token = doc[i]
    text = token.text
    first = text[0]
    if not first.isupper() or not any(ch.isalpha() for ch in text) or text == "I":
        return False
    if explained is not None and explained(text):
        return False
    if _sentence_initial(doc, i):
        # "Summarise the notes", "Please ...": a capitalised first word that is an ordinary word.
        return not ordinary(token.lower_)
    return True


def _sentence_initial(doc: list[Token], i: int) -> bool:
    if i == 0:
        return True
    previous = doc[i - 1]
    return "\n" in previous.whitespace_ or previous.is_space or previous.text[-1] in _SENTENCE_END


_TOKENS = "gateway.tokens"


def token_list(doc: Doc) -> list[Token]:
    """The doc's tokens as one list, shared by every recognizer that walks them.

    spaCy builds a new ``Token`` object on each iteration and each ``doc[i]``; with four walkers per
    doc that was a third of the scan time on prose.  Call :func:`release_tokens` when done: the list
    and the doc refer to each other."""
    tokens: list[Token] | None = doc.user_data.get(_TOKENS)
    if tokens is None:
        tokens = doc.user_data[_TOKENS] = list(doc)
    return tokens


_TEXTS = "gateway.texts"


def token_texts(doc: Doc) -> list[str]:
    """Each token's text, in one list shared like :func:`token_list`: ``Token.text`` builds a new
    string from the vocabulary on every access (~0.2 us), and the walkers ask for it many times per
    token, while most tokens are dismissed on their text alone (not capitalised, not a comma)."""
    texts: list[str] | None = doc.user_data.get(_TEXTS)
    if texts is None:
        texts = doc.user_data[_TEXTS] = [token.text for token in token_list(doc)]
    return texts


def release_tokens(doc: Doc) -> None:
    doc.user_data.pop(_TOKENS, None)
    doc.user_data.pop(_TEXTS, None)


def ner_windows(
    doc: Doc,
    ordinary: Callable[[str], bool],
    explained: Callable[[str], bool] | None = None,
    near: Callable[[int, int], bool] | None = None,
) -> list[tuple[int, int]]:
    """Token ranges [start, end) worth running the NER on, merged and sorted.

    ``explained(word)``: a capitalised word the gazetteers and patterns already account for (a
    country, a demonym, "Street", "Mr", an acronym), which needs no NER of its own.
    ``near(start_char, end_char)``: only candidates it accepts count (see ``PiiDetector.detect_focused``)."""
    windows: list[tuple[int, int]] = []
    tokens = token_list(doc)
    texts = token_texts(doc)
    n = len(tokens)
    for i in range(n):
        # ``_is_candidate``'s first test, on the plain text: most tokens end here.
        if not texts[i][0].isupper() or not _is_candidate(tokens, i, ordinary, explained):
            continue
        if near is not None and not near(tokens[i].idx, tokens[i].idx + len(tokens[i])):
            continue
        start, end = max(0, i - WINDOW), min(n, i + WINDOW + 1)
        if windows and start <= windows[-1][1] + MERGE_GAP:
            windows[-1] = (windows[-1][0], max(end, windows[-1][1]))
        else:
            windows.append((start, end))
    return windows


def run_ner(
    nlp: Language,
    docs: Sequence[Doc],
    ordinary: Callable[[str], bool],
    *,
    full: bool = False,
    explained: Callable[[str], bool] | None = None,
    near: Sequence[Callable[[int, int], bool] | None] | None = None,
) -> list[Doc]:
    """Set ``doc.ents`` on tokenised docs, running the NER on their candidate windows only
    (``near[i]``, when given, narrows doc ``i``'s candidates, as in :func:`ner_windows`).

    Window docs of all inputs are decoded together (batches of ``GREEDY_BATCH_TOKENS``, see
    ``pii_ner.pipe_components``), then their entities are mapped back onto the full docs.
    """
    if full:
        return list(pipe_components(nlp, docs))
    pieces: list[tuple[int, int, Doc]] = []
    for index, doc in enumerate(docs):
        for start, end in ner_windows(doc, ordinary, explained, None if near is None else near[index]):
            pieces.append((index, start, _window_doc(doc, start, end)))
    entities: list[list[Span]] = [[] for _ in docs]
    for (index, start, _), window in zip(pieces, pipe_components(nlp, [p[2] for p in pieces]), strict=True):
        doc = docs[index]
        for ent in window.ents:
            entities[index].append(Span(doc, start + ent.start, start + ent.end, label=ent.label_))
    for doc, ents in zip(docs, entities, strict=True):
        # Windows overlap only after merging, so spans never conflict; sort for spaCy's invariant.
        doc.ents = sorted(ents, key=lambda span: span.start)
    return list(docs)


def _window_doc(doc: Doc, start: int, end: int) -> Doc:
    """``doc[start:end].as_doc()`` for a tokenised-only doc, ~15x faster: a window needs only its
    words, spaces and token norms (the NER's one token-level feature; the rest are lexeme features)."""
    tokens = token_list(doc)[start:end]
    window = Doc(doc.vocab, words=[t.text for t in tokens], spaces=[bool(t.whitespace_) for t in tokens])
    for token, copy in zip(tokens, window, strict=True):
        if token.norm != copy.norm:  # tokenizer exceptions: "n't" -> "not"
            copy.norm_ = token.norm_
    return window
