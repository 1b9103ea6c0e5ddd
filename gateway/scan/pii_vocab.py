"""Bounded spaCy vocabulary: the words a long-running scanner has seen are not kept for ever.

spaCy's tokenizer adds a lexeme (its strings, attributes and a cache entry) to the model's shared
vocabulary for every string it has not seen, and never drops one.  A gateway reads IDs, keys,
names, numbers and typos all day: measured with random 4-12 character tokens, the process grew by
~110 MiB per MB of never-seen text, without end.

spaCy 3.8's memory zones would free them, but inside a zone its tokenizer caches nothing, which made
tokenising five times slower (1.0 against 0.19 ms/KB on the benchmark's prose, measured).  So the
model is loaded afresh instead, once ``limit`` lexemes were added since it was loaded (about 0.2 s
with its files already verified once and in the page cache; the files are verified again), and the
old model goes with everything it learnt.  Every use of the model must happen inside
:meth:`ModelEpochs.use`, one caller at a time, and no ``Doc`` may be kept past it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from spacy.language import Language

# ~700 bytes a lexeme: at most ~70 MiB of learnt words before the model is reloaded.
DEFAULT_LIMIT = 100_000


class ModelEpochs:
    def __init__(self, load: Callable[[], Language], limit: int = DEFAULT_LIMIT) -> None:
        self._load = load
        self._limit = limit
        self._lock = threading.Lock()
        self.nlp = load()
        self._loaded_with = len(self.nlp.vocab)
        self.reloads = 0

    @contextmanager
    def use(self) -> Iterator[Language]:
        """The model, to this caller alone; reloaded first if it has learnt ``limit`` words.  A
        reload that fails (a model file changed) raises here, and again on the next call."""
        with self._lock:
            if len(self.nlp.vocab) - self._loaded_with >= self._limit:
                fresh = self._load()
                self.nlp, self._loaded_with = fresh, len(fresh.vocab)
                self.reloads += 1
            yield self.nlp
