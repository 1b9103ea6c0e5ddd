"""The token lists the PII walkers share, and the NER's matrix products in numpy (``pii_nlp``)."""

from __future__ import annotations

import spacy
from threadpoolctl import threadpool_info

from gateway.scan.model_files import load_nlp
from gateway.scan.pii_nlp import release_tokens, token_list, token_texts, use_numpy_gemm


def test_token_texts_are_the_tokens_texts_computed_once_until_released() -> None:
    doc = spacy.blank("en")("Dr. Ana  O'Neil-Smith, call 555-0100 (don't).\n\nThanks")
    texts = token_texts(doc)
    assert texts == [token.text for token in doc]
    assert token_texts(doc) is texts and token_list(doc) is token_list(doc)
    release_tokens(doc)  # the lists and the doc refer to each other: let go of both
    assert token_texts(doc) is not texts and token_texts(doc) == texts
    release_tokens(doc)
    assert not doc.user_data


def test_numpy_gemm_reads_the_same_entities_with_one_blas_thread() -> None:
    texts = [
        "Maria Lopez flew from Lisbon to Boston to meet the Acme Corporation team.",
        "Contact Dr. Henrik Larsen at Novo Nordisk in Copenhagen, or his assistant Aiko Tanaka.",
        "Jean-Pierre Dubois of Paris visited the European Central Bank in Frankfurt with Ana Silva.",
    ]
    blis = load_nlp()
    numpy_backed = use_numpy_gemm(load_nlp())
    assert not any(node.ops.use_blis for node in numpy_backed.get_pipe("ner").model.walk())
    for text in texts:
        expected = [(e.start, e.end, e.label_) for e in blis(text).ents]
        assert [(e.start, e.end, e.label_) for e in numpy_backed(text).ents] == expected
        assert expected  # the texts hold entities
    assert {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"} == {1}
