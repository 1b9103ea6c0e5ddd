"""The detection engine: every segment of a request, several normalised views, every detector.

Reads as a straight line (:meth:`ScanEngine.scan`):

    1 extract     every text-bearing string of the body, and every part that cannot be scanned
    2 per segment (a long one in overlapping windows, the deadline checked between them)
                  views of the text (raw, cleaned, NFKC, homoglyph skeleton, digits, decoded blobs)
                  x detectors; hits mapped back to the original text; cached by content hash.
                  A ``FocusedDetector`` (the PII one) is told where a view differs from the view
                  it was built from and reads it only around there: the rest is what that view's
                  scan (or, down the chain, raw's) already read.  A ``ViewsDetector`` is also told
                  what each change can do to the words (``View.split_changes``): a folded accent
                  or a number's lost separator needs less reading than a look-alike word.
    3 seams       values split across segments (turns, parts, list items, names, numbers), in any
                  number of pieces
    4 unscannable images, audio and files become findings for the policy to decide

A detector that raises yields a ``scan_failed`` finding for that segment, never an
empty result: the caller must treat the request as unscanned.  The cache is keyed
by a digest of the text, so no prompt text outlives the request in memory.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import logging
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from gateway.scan.decode import MAX_DECODED_BYTES, MAX_DECODED_RUNS, Budget, candidates, decoded
from gateway.scan.findings import Finding, Hit, ViewText
from gateway.scan.normalize import View, views
from gateway.scan.segments import Extracted, Segment, extract

if TYPE_CHECKING:
    from gateway.scan.lists import OrgLists

log = logging.getLogger("gateway.scan")

# How much text either side of a seam between two messages is re-scanned joined.
SEAM = 96
# How the two sides of a seam are joined: with a space, as two messages read (the digits view then
# glues "4111 1111" + "1111 1111"), and with nothing, as a provider concatenates content parts.
SEAM_JOINERS = (" ", "")
# A segment longer than WINDOW characters is read in windows overlapping by OVERLAP: each window is a
# bounded piece of work (memory, and time between deadline checks), and the overlap is longer than
# any value a detector finds whole (an RSA-4096 private key in PEM is about 3,300 characters), so
# every such value lies whole inside some window.
WINDOW = 32_768
OVERLAP = 4_096
# A window starts after a whitespace character this close before its nominal start, so that it does
# not begin inside a word.
SNAP = 256
_LAST_SPACE = re.compile(r"\s(?!.*\s)", re.S)  # the last whitespace character of the searched span
# An encoded run (base64, hex, percent) longer than the overlap may be cut by a window's edge, and a
# cut one does not decode (base64 needs its 4-character grid and both ends): such runs, up to the
# decoding views' own budget, are decoded whole and their text read window by window.
_LONG_BLOB = re.compile(rf"[A-Za-z0-9+/=_%-]{{{OVERLAP},}}")
_BLOB_KINDS = ("base64", "hex", "percent")


class ScanDeadline(TimeoutError):
    """The scan ran past its deadline: the request is unscanned, and the work stops here."""


class TextLimit(ValueError):
    """More text to inspect than this gateway inspects in one request: it would never pass."""

    def __init__(self, chars: int, limit: int) -> None:
        super().__init__(f"{chars} characters of text to inspect, more than the limit of {limit}")
        self.chars = chars
        self.limit = limit


class Detector(Protocol):
    """Finds hits in one text.  A detector may also have ``skip_views``, the names of the views
    that cannot show it anything the raw text's scan did not (see ``normalize.views``)."""

    @property
    def name(self) -> str: ...

    def detect(self, text: str) -> list[Hit]: ...


@runtime_checkable
class FocusedDetector(Detector, Protocol):
    """A detector that can scan a normalised view knowing where it differs from the view it was built
    from (whose own scan covers the rest), doing less work there; see ``PiiDetector.detect_focused``."""

    def detect_focused(self, text: str, changed: Sequence[tuple[int, int]]) -> list[Hit]: ...


@runtime_checkable
class ViewsDetector(FocusedDetector, Protocol):
    """A focused detector that is cheaper given all views of a text in one call, each with its
    changes split by kind (see ``ViewText``), as the PII detector batches its NER over them and reads
    less where a change cannot alter a word; see ``PiiDetector.detect_views``."""

    def detect_views(self, views: Sequence[ViewText]) -> list[list[Hit]]: ...


@dataclass(frozen=True, slots=True)
class ScanResult:
    findings: tuple[Finding, ...]
    extracted: Extracted

    @property
    def failed(self) -> bool:
        return any(f.kind == "scan_failed" for f in self.findings)

    def counts(self) -> dict[str, int]:
        """Entity -> number of values found: what the audit record keeps (classes and counts, no values).

        A value split across two segments is two findings but one value: its second piece is marked
        with a ``seam+`` view and not counted again."""
        return dict(Counter(f.entity for f in self.findings if not f.view.startswith("seam+")))


@dataclass(frozen=True, slots=True)
class Located:
    hit: Hit
    view: str


class _Failure(Exception):
    def __init__(self, detector: str, error: BaseException) -> None:
        super().__init__(detector)
        self.detector = detector
        self.error_class = type(error).__name__


class ScanEngine:
    def __init__(
        self,
        detectors: Sequence[Detector],
        *,
        seam_detectors: Sequence[Detector] | None = None,
        answer_detector: Detector | None = None,
        cache_size: int = 4096,
        max_text_chars: int | None = None,
    ) -> None:
        self._max_text = max_text_chars
        self._detectors = tuple(detectors)
        # Answers get a cheaper set (no NER), see gateway.scan.answer; without one, answers are not scanned.
        self._answer_detector = answer_detector
        # Values split across turns are short structured things (card numbers, keys); NER adds nothing.
        self._seam_detectors = tuple(self._detectors if seam_detectors is None else seam_detectors)
        self._cache: OrderedDict[bytes, tuple[Located, ...]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._lists_salt = b""

    def with_lists(self, lists: OrgLists) -> ScanEngine:
        """This engine with the organisation's lists (gateway.scan.lists) read as well: it shares the
        model, detectors and cache, its cache entries keyed apart by the lists' digest."""
        if not lists.detectors:
            return self
        engine = copy.copy(self)
        engine._detectors = self._detectors + lists.detectors
        engine._lists_salt = lists.salt
        return engine

    # -- one text ----------------------------------------------------------------------------
    def scan_text(self, text: str) -> list[Located]:
        return list(self._cached(text, self._detectors, b"s"))

    def _cached(self, text: str, detectors: tuple[Detector, ...], salt: bytes) -> tuple[Located, ...]:
        key = hashlib.blake2b(
            text.encode("utf-8", "surrogatepass"), digest_size=16, key=salt + self._lists_salt
        ).digest()
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        found = tuple(self._detect(text, detectors))
        with self._lock:
            self._cache[key] = found
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return found

    def warm_up(self, texts: Iterable[str]) -> None:
        """Scan ``texts`` once, as a request and as an answer, caching nothing: what detectors set
        up on first use is then set up before the first request."""
        for text in texts:
            self._detect(text, self._detectors)
            self.scan_answer(text)

    @property
    def scans_answers(self) -> bool:
        return self._answer_detector is not None

    def scan_answer(self, text: str) -> list[Hit]:
        """Values in (a piece of) an answer, by the answer detector, in every view but ``digits``: in
        an answer, gluing digit groups together mostly turns ordinary numbers into false cards.
        Not cached: answers do not repeat.  A failing detector raises."""
        if self._answer_detector is None:
            return []
        return [loc.hit for loc in self._detect(text, (self._answer_detector,), skip=_NOT_FOR_ANSWERS)]

    def _detect(
        self, text: str, detectors: tuple[Detector, ...], skip: frozenset[str] = frozenset()
    ) -> list[Located]:
        scanned = [view for view in views(text) if view.name not in skip]
        # Where each view differs from the view it was built from (``digits`` from ``skeleton``, not
        # from raw: skeleton's own scan covers the accents it folded); computed on first use.
        # None: read the whole view (raw, and a view that differs but shows no change, which would
        # be a bug).  ``skip`` must never drop a view others are built on: only ``digits`` is
        # skipped (answers), and no view is built on it.
        changes: list[list[tuple[int, int]] | None] | None = None
        found: list[Located] = []
        for detector in detectors:
            try:
                if isinstance(detector, ViewsDetector):
                    per_view = detector.detect_views([_view_text(v) for v in scanned])
                elif isinstance(detector, FocusedDetector):
                    if changes is None:
                        changes = [
                            None if v.name == "raw" else (v.changed_from_base() or None) for v in scanned
                        ]
                    blind = getattr(detector, "skip_views", _NO_VIEWS)
                    per_view = [
                        [] if v.name in blind else _focused(detector, v.text, changed)
                        for v, changed in zip(scanned, changes, strict=True)
                    ]
                else:
                    blind = getattr(detector, "skip_views", _NO_VIEWS)
                    per_view = [[] if v.name in blind else detector.detect(v.text) for v in scanned]
            except Exception as exc:  # a failing detector must never look like "nothing found"
                raise _Failure(detector.name, exc) from None
            for view, hits in zip(scanned, per_view, strict=True):
                for hit in hits:
                    start, end = (
                        (hit.start, hit.end) if view.name == "raw" else view.to_original(hit.start, hit.end)
                    )
                    found.append(
                        Located(Hit(hit.kind, hit.entity, start, end, hit.score, hit.detector), view.name)
                    )
        return _merge(found)

    # -- a request ---------------------------------------------------------------------------
    def scan(
        self, endpoint: str, body: dict[str, Any], *, deadline: float | None = None, context: str = ""
    ) -> ScanResult:
        """Scan a request.  ``deadline`` (``time.monotonic()``) is checked between pieces of work, so a
        request that runs out of time stops using CPU instead of finishing in the background.
        ``context``: the tail of the text this request continues (a stored conversation it refers to,
        see ``gateway.transform.continued``), read in front of it by the seam scan."""
        extracted = extract(endpoint, body)
        if self._max_text is not None:
            chars = sum(len(segment.text) for segment in extracted.segments)
            if chars > self._max_text:
                raise TextLimit(chars, self._max_text)
        findings: list[Finding] = []
        for index, segment in enumerate(extracted.segments):
            _check(deadline)
            findings.extend(self._segment(index, segment.text, deadline))
        findings.extend(self._seams(extracted, context[-SEAM:], deadline))
        for item in extracted.unscannable:
            findings.append(Finding("unscannable", item.media.upper(), -1, 0, 0, 1.0, "extract"))
        return ScanResult(tuple(findings), extracted)

    def _segment(self, index: int, text: str, deadline: float | None = None) -> Iterable[Finding]:
        try:
            located = (
                self._cached(text, self._detectors, b"s")
                if len(text) <= WINDOW
                else self._windowed(text, deadline)
            )
        except _Failure as failure:
            log.error("detector %s failed on a segment: %s", failure.detector, failure.error_class)
            return [Finding("scan_failed", "SCAN_FAILED", index, 0, len(text), 1.0, failure.detector)]
        return [
            Finding(
                loc.hit.kind,
                loc.hit.entity,
                index,
                loc.hit.start,
                loc.hit.end,
                loc.hit.score,
                loc.hit.detector,
                loc.view,
            )
            for loc in located
        ]

    def _windowed(self, text: str, deadline: float | None, blobs: bool = True) -> list[Located]:
        """A long text, window by window (see :data:`WINDOW`); hits of the same value seen in two
        windows' overlap become one.  ``blobs``: also decode long encoded runs whole."""
        found: list[Located] = []
        for start, end in windows(text):
            _check(deadline)
            for loc in self._cached(text[start:end], self._detectors, b"s"):
                hit = loc.hit
                moved = Hit(hit.kind, hit.entity, hit.start + start, hit.end + start, hit.score, hit.detector)
                found.append(Located(moved, loc.view))
        if blobs:
            found.extend(self._long_blobs(text, deadline))
        return _merge(found)

    def _long_blobs(self, text: str, deadline: float | None) -> list[Located]:
        """What long encoded runs hold, decoded whole and read window by window; a hit is the whole run
        (what must be rewritten).  Nested encodings inside are read by the views of each window."""
        found: list[Located] = []
        budget = Budget(MAX_DECODED_RUNS, MAX_DECODED_BYTES)
        for run in _LONG_BLOB.finditer(text):
            blob = run.group()
            runs = candidates(blob)
            for kind in _BLOB_KINDS:
                _check(deadline)
                out = decoded(blob, kind, budget, runs)
                if out is None or out[0] == blob:
                    continue
                plain = out[0]
                inner = (
                    self._windowed(plain, deadline, blobs=False)
                    if len(plain) > WINDOW
                    else self._cached(plain, self._detectors, b"s")
                )
                for loc in inner:
                    hit = loc.hit
                    whole = Hit(hit.kind, hit.entity, run.start(), run.end(), hit.score, hit.detector)
                    found.append(Located(whole, kind))
        return found

    def _seams(
        self, extracted: Extracted, context: str = "", deadline: float | None = None
    ) -> Iterable[Finding]:
        """Hits that straddle the seams between segments: a value split into any number of pieces,
        across messages, content parts, list items (``stop``, prompt items), names and numbers.

        Read in several orders: every segment in document order (the order a provider reads them), the
        same without map keys (values split around the keys of user data), the conversation without the
        assistant's turns (what the caller and its tools wrote: a value split around an assistant turn
        or a tool call) and the assistant's turns alone.  A segment longer than ``2 * SEAM`` adds only
        its head and tail: its middle is read by its own scan.  ``context`` (text sent in an earlier
        request) comes before the first three: only the pieces in this request are reported.
        """
        segments = extracted.segments
        everything = list(range(len(segments)))
        orders = [
            everything,
            [i for i in everything if not segments[i].is_key],
            [i for i in everything if segments[i].turn is not None and segments[i].role != "assistant"],
            [i for i in everything if segments[i].turn is not None and segments[i].role == "assistant"],
        ]
        streams: list[tuple[list[int], str]] = []
        for n, order in enumerate(orders):
            lead = context if n < 3 else ""
            if len(order) + bool(lead) > 1 and (order, lead) not in streams:
                streams.append((order, lead))
        seen: set[tuple[str, int, int, int]] = set()
        for stream, lead in streams:
            for whole in _runs(segments, stream, lead):
                _check(deadline)
                unlabelled = _unlabelled(whole)
                for run, joiner in itertools.product(
                    (whole,) if unlabelled is None else (whole, unlabelled), SEAM_JOINERS
                ):
                    for finding in self._seam(run, joiner):
                        key = (finding.entity, finding.segment, finding.start, finding.end)
                        if key not in seen:  # both joiners and both orders often reveal the same value
                            seen.add(key)
                            yield finding

    def _seam(self, run: Sequence[Piece], joiner: str) -> Iterable[Finding]:
        if not _worth_reading(run):
            return
        text = joiner.join(p.text for p in run)
        starts = list(itertools.accumulate((len(p.text) + len(joiner) for p in run[:-1]), initial=0))
        try:
            located = self._cached(text, self._seam_detectors, b"j")
        except _Failure as failure:
            log.error("detector %s failed on a seam: %s", failure.detector, failure.error_class)
            first = run[0]
            yield Finding("scan_failed", "SCAN_FAILED", first.segment, 0, 0, 1.0, failure.detector)
            return
        for loc in located:
            hit = loc.hit
            if hit.entity in SEAM_UNSPLIT:
                continue
            touched = [
                (piece, at)
                for piece, at in zip(run, starts, strict=True)
                if hit.start < at + len(piece.text) and hit.end > at
            ]
            if len({piece.segment for piece, _ in touched}) < 2:
                continue  # wholly inside one segment: already found in that segment's own scan
            # Reported on this request's pieces that can be rewritten: not the earlier request's (the
            # context), not the model name's (a name is never rewritten; its grammar bounds its share).
            ours = [(piece, at) for piece, at in touched if piece.segment >= 0 and not piece.fixed]
            for n, (piece, at) in enumerate(ours):
                start = piece.offset + max(0, hit.start - at)
                end = piece.offset + min(len(piece.text), hit.end - at)
                # The value is counted once: its first piece here, ``seam:``; the others ``seam+:``.
                view = f"seam:{loc.view}" if n == 0 else f"seam+:{loc.view}"
                yield Finding(hit.kind, hit.entity, piece.segment, start, end, hit.score, hit.detector, view)


@dataclass(frozen=True, slots=True)
class Piece:
    segment: int  # index of the segment; -1: text of an earlier request (the context)
    offset: int  # where ``text`` starts in the segment's text
    text: str
    fixed: bool = False  # read, never reported: the model name


# What a value split at a joint shows near it (the seam detectors find nothing else there): digits (four,
# separators allowed: cards, phones, IBANs, ids), a secret's keyword, an "@" in the unbroken token
# across the joint (an e-mail address), or a long letters-and-digits word across it (a key, a token).
_JOINT_DIGITS = re.compile(r"\d(?:[\s().\-/+]{0,2}\d){3}")
_JOINT_KEYWORD = re.compile(r"(?i:passw|pwd|secret|token|api[_ -]?key|bearer|credential|-----begin|private)")
_JOINT_TOKEN = re.compile(r"\S{0,128}\Z")  # the token's left part (from the end of the left piece)
_JOINT_TOKEN_RIGHT = re.compile(r"\S{0,128}")
_JOINT_WORD = re.compile(r"[A-Za-z0-9+/=_]{0,128}\Z")
_JOINT_WORD_RIGHT = re.compile(r"[A-Za-z0-9+/=_]{0,128}")
_KEY_WORD = 12  # a word of at least this many letters and digits across a joint may be a key
_CAPITALS_KEY = 16  # or this many capitals, with no digit at all (an AWS key id can have none)


def _worth_reading(run: Sequence[Piece]) -> bool:
    """Whether any joint of ``run`` could be inside a value the seam detectors find.  Cheap, and an
    over-approximation of what they read: most joints (a model name and a sentence, two sentences)
    are not, and reading them all cost more than the rest of a short request's scan."""
    for left, right in itertools.pairwise(run):
        a, b = left.text, right.text
        near = a[-24:] + b[:24]
        if _JOINT_DIGITS.search(near) or _JOINT_KEYWORD.search(a[-40:] + b[:40]):
            return True
        token = _match(_JOINT_TOKEN, a[-128:]) + _match(_JOINT_TOKEN_RIGHT, b)
        if "@" in token or "%40" in token:
            return True
        word = _match(_JOINT_WORD, a[-128:]) + _match(_JOINT_WORD_RIGHT, b)
        if len(word) >= _KEY_WORD and any(c.isdigit() for c in word) and any(c.isalpha() for c in word):
            return True
        if len(word) >= _CAPITALS_KEY and word.isupper():
            return True
    return False


def _match(pattern: re.Pattern[str], text: str) -> str:
    found = pattern.search(text)
    return found.group() if found is not None else ""


_MODEL = ("model",)


# A short label in front of the rest of a split value: "Part two: ith@x.org", "Part 2 of 2 - ...",
# "(2/2) 1111 2222", "[2/2] ...".
_PIECE_LABEL = re.compile(
    r"\s*(?:(?:[\w'\u2019#-]+[ \t]+){0,4}[\w'\u2019#-]+[ \t]*[:=\u2013\u2014-]"
    r"|[(\[]?\d{1,2}[ ]?(?:/|of)[ ]?\d{1,2}[)\]]?[ \t]*[-:\u2013]?)[ \t]*"
)
_LONGEST_LABEL = 40


def _unlabelled(run: Sequence[Piece]) -> list[Piece] | None:
    """``run`` with the short label that starts each piece after the first left out, or None when no
    piece has one: a value sent in parts often has each part announced ("Part one: john.sm", "Part
    two: ith@x.org"), and joined with the label between them the halves are no value."""
    out = [run[0]]
    for piece in run[1:]:
        label = _PIECE_LABEL.match(piece.text)
        if label is None or not 0 < label.end() <= _LONGEST_LABEL or label.end() == len(piece.text):
            out.append(piece)
            continue
        out.append(Piece(piece.segment, piece.offset + label.end(), piece.text[label.end() :], piece.fixed))
    return None if all(a is b for a, b in zip(out, run, strict=True)) else out


def _runs(segments: Sequence[Segment], stream: Sequence[int], lead: str = "") -> list[list[Piece]]:
    """``stream``'s segments cut into runs of adjacent text that a split value can span: short segments
    whole, a long one's head ends a run and its tail starts the next.  Runs of one piece are dropped.
    ``lead``: text before the first segment (an earlier request's tail)."""
    runs: list[list[Piece]] = []
    current: list[Piece] = [Piece(-1, 0, lead)] if lead else []
    for index in stream:
        segment = segments[index]
        text = segment.text
        if not text:
            continue
        if len(text) <= 2 * SEAM:
            current.append(Piece(index, 0, text, segment.path == _MODEL))
            continue
        current.append(Piece(index, 0, text[:SEAM]))
        runs.append(current)
        current = [Piece(index, len(text) - SEAM, text[-SEAM:])]
    runs.append(current)
    return [part for run in runs for part in run_parts(run) if len(part) > 1]


def run_parts(run: list[Piece]) -> list[list[Piece]]:
    """``run`` cut, like a long segment, into parts of at most about WINDOW characters, each
    overlapping the next by at least OVERLAP characters of pieces: thousands of short list items
    make one bounded piece of work at a time, and a value split over a few of them lies whole in one
    part."""
    if sum(len(piece.text) + 1 for piece in run) <= WINDOW:
        return [run]
    parts: list[list[Piece]] = []
    start = 0
    while True:
        end, size = start, 0
        while end < len(run) and (end == start or size + len(run[end].text) + 1 <= WINDOW):
            size += len(run[end].text) + 1
            end += 1
        parts.append(run[start:end])
        if end >= len(run):
            return parts
        back, following = 0, end
        while following > start + 1 and back < OVERLAP:
            following -= 1
            back += len(run[following].text) + 1
        start = following


# Entities the NER guesses from words: across a seam they are mostly two messages' words read as
# one name ("Paris" + "sunny").  Values worth finding split over turns are structured ones.
# A web address is not personal data, and two turns read as one make false ones ("message." + "EC2").
SEAM_UNSPLIT = frozenset({"PERSON", "ORGANIZATION", "LOCATION", "NRP", "URL", "DOMAIN_NAME"})
_NOT_FOR_ANSWERS = frozenset({"digits"})
_NO_VIEWS: frozenset[str] = frozenset()  # a detector's ``skip_views``, when it has none


def _view_text(view: View) -> ViewText:
    if view.name == "raw":
        return ViewText(view.text, None)
    deep, accents, shallow = view.split_changes()
    if not (deep or accents or shallow):
        return ViewText(view.text, None)  # differs but shows no change: a bug, so read it all
    return ViewText(view.text, deep, accents, shallow)


def _focused(detector: FocusedDetector, text: str, changed: Sequence[tuple[int, int]] | None) -> list[Hit]:
    return detector.detect(text) if changed is None else detector.detect_focused(text, changed)


def windows(text: str) -> list[tuple[int, int]]:
    """(start, end) of the windows a long text is read in: at most WINDOW long, each overlapping the
    next by at least OVERLAP, the last ending at the end of the text; a window starts after a
    whitespace character where one is near.  (An encoded run longer than OVERLAP, which a window may
    cut, is decoded whole by :meth:`ScanEngine._long_blobs`.)"""
    if len(text) <= WINDOW:
        return [(0, len(text))]
    spans: list[tuple[int, int]] = []
    start = 0
    while True:
        end = min(start + WINDOW, len(text))
        spans.append((start, end))
        if end == len(text):
            return spans
        nominal = end - OVERLAP
        space = _LAST_SPACE.search(text, nominal - SNAP, nominal)
        # Moving back keeps the overlap at least OVERLAP; the window after it still moves forward.
        start = space.end() if space is not None and space.end() > start else nominal


def _check(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise ScanDeadline("the scan ran past its deadline")


def _merge(found: list[Located]) -> list[Located]:
    """One finding per value: overlapping hits of the same entity (the same value seen in several views,
    or partly seen in one) become their union, with the best score.  The union, because whatever later
    removes the value must remove all of it."""
    found.sort(key=lambda loc: (loc.hit.kind, loc.hit.entity, loc.hit.start, -loc.hit.end))
    merged: list[Located] = []
    for loc in found:
        last = merged[-1] if merged else None
        if (
            last is not None
            and last.hit.kind == loc.hit.kind
            and last.hit.entity == loc.hit.entity
            and loc.hit.start < last.hit.end
        ):
            a, b = last.hit, loc.hit
            wider = last if (a.end - a.start) >= (b.end - b.start) else loc
            hit = Hit(a.kind, a.entity, a.start, max(a.end, b.end), max(a.score, b.score), wider.hit.detector)
            merged[-1] = Located(hit, wider.view)
        else:
            merged.append(loc)
    return sorted(merged, key=lambda loc: (loc.hit.start, loc.hit.end, loc.hit.entity))
