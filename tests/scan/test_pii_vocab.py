"""The model is reloaded once it has learnt too many words, so a long-running scanner stays bounded."""

from __future__ import annotations

import random
import string
import threading
import time

import pytest
import spacy
from spacy.language import Language

from gateway.scan.pii import PiiDetector
from gateway.scan.pii_vocab import ModelEpochs


def random_words(rng: random.Random, n: int) -> str:
    return " ".join("".join(rng.choices(string.ascii_letters + string.digits, k=8)) for _ in range(n))


def test_model_is_reloaded_after_learning_the_limit() -> None:
    loads: list[Language] = []

    def load() -> Language:
        loads.append(spacy.blank("en"))
        return loads[-1]

    epochs = ModelEpochs(load, limit=100)
    rng = random.Random(1)
    epochs.current().tokenizer(random_words(rng, 60))  # 60 new words: under the limit
    held = epochs.current()
    assert held is loads[0]
    held.tokenizer(random_words(rng, 60))  # 120 now
    fresh = epochs.current()
    assert fresh is loads[1] and epochs.reloads == 1
    assert len(fresh.vocab) < len(loads[0].vocab)  # the words learnt went with the old model
    assert held.tokenizer("still usable by the call that held it").text.startswith("still")
    assert epochs.current() is fresh


def test_failed_reload_raises_every_time_and_keeps_nothing_half_loaded() -> None:
    calls = 0

    def load() -> Language:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise RuntimeError("model file changed")
        return spacy.blank("en")

    epochs = ModelEpochs(load, limit=10)
    first = epochs.current()
    first.tokenizer(random_words(random.Random(2), 20))
    for _ in range(2):  # fail closed: the next call tries again rather than carry on growing
        with pytest.raises(RuntimeError):
            epochs.current()
    assert calls == 3


def test_concurrent_callers_reload_once() -> None:
    loads = 0

    def load() -> Language:
        nonlocal loads
        loads += 1
        time.sleep(0.05)  # long enough for every thread to find the model over its limit
        return spacy.blank("en")

    epochs = ModelEpochs(load, limit=10)
    epochs.current().tokenizer(random_words(random.Random(4), 20))
    got: list[Language] = []
    threads = [threading.Thread(target=lambda: got.append(epochs.current())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loads == 2 and epochs.reloads == 1
    assert len({id(nlp) for nlp in got}) == 1


def test_detector_reloads_its_model_and_finds_the_same() -> None:
    detector = PiiDetector(vocab_limit=2_000)
    rng = random.Random(3)
    probe = "Ask Maria Gonzalez at maria.g@example.com or +44 20 7946 0958 about card 4111 1111 1111 1111."
    before = detector.detect(probe)
    for _ in range(30):  # 30 x 170 never-seen words: past the limit twice
        detector.detect(random_words(rng, 170))
    assert detector._model.reloads >= 2
    assert detector.detect(probe) == before
    assert {h.entity for h in before} >= {"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD"}


def test_heap_is_given_back_once_the_last_holder_lets_go_of_the_old_model() -> None:
    given_back: list[int] = []
    epochs = ModelEpochs(lambda: spacy.blank("en"), limit=10, released=lambda: given_back.append(1))
    held = epochs.current()
    held.tokenizer(random_words(random.Random(5), 20))
    fresh = epochs.current()
    assert fresh is not held and given_back == []  # a call still holds the old model
    del held
    assert given_back == [1]
    fresh.tokenizer(random_words(random.Random(6), 20))
    del fresh
    epochs.current()
    assert given_back == [1, 1]
