"""Bounded spaCy vocabulary: the words a long-running scanner has seen are not kept for ever.

spaCy's tokenizer adds a lexeme (its strings, attributes and a cache entry) to the model's shared
vocabulary for every string it has not seen, and never drops one.  A gateway reads IDs, keys,
names, numbers and typos all day: measured with random 4-12 character tokens, the process grew by
~105 MiB per MB of never-seen text, without end (`bench/vocab_growth.py`).

spaCy 3.8's memory zones would free them, but inside a zone its tokenizer caches nothing, which made
tokenising five times slower (1.0 against 0.19 ms/KB on the benchmark's prose, measured), and a zone
is global state that only one thread may use at a time.  So the model is loaded afresh instead, once
``limit`` lexemes were added since it was loaded (about 0.2 s with its files in the page cache; the
files are verified again), and the old model goes, with everything it learnt, when the last caller
still using it lets go of it.  Then the C heap is trimmed (``gateway.heap``): without that, glibc kept
the old vocabulary's pages for later use and each reload left the process larger.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable

from spacy.language import Language

from gateway.heap import give_back

# ~700 bytes a lexeme: at most ~7 MiB of learnt words before the model is reloaded (about 0.2 s).
# At 20,000 the saw-tooth of learning and reloading was ~16 MiB in the gateway, so RSS half an hour in
# ended 3.6% or 8.3% above minute 5 depending on where in a tooth each fell (bench/RESULTS.md).
DEFAULT_LIMIT = 10_000


class ModelEpochs:
    def __init__(
        self,
        load: Callable[[], Language],
        limit: int = DEFAULT_LIMIT,
        released: Callable[[], object] = give_back,
    ) -> None:
        self._load = load
        self._limit = limit
        self._released = released
        self._reloading = threading.Lock()
        self._nlp = load()
        self._loaded_with = len(self._nlp.vocab)
        self.reloads = 0

    def current(self) -> Language:
        """The model to use for one call, reloaded first if it has learnt ``limit`` words.  A reload
        that fails (a model file changed) raises here, and again on the next call: the caller's scan
        fails closed.  Hold on to the returned model for the whole call, not longer."""
        if len(self._nlp.vocab) - self._loaded_with >= self._limit:
            with self._reloading:
                if len(self._nlp.vocab) - self._loaded_with >= self._limit:  # not reloaded meanwhile
                    fresh = self._load()
                    weakref.finalize(self._nlp, self._released)
                    self._nlp, self._loaded_with = fresh, len(fresh.vocab)
                    self.reloads += 1
        return self._nlp
