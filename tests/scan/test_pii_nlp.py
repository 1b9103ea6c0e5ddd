"""The token lists the PII walkers share (``pii_nlp.token_list``, ``token_texts``)."""

from __future__ import annotations

import spacy

from gateway.scan.pii_nlp import release_tokens, token_list, token_texts


def test_token_texts_are_the_tokens_texts_computed_once_until_released() -> None:
    doc = spacy.blank("en")("Dr. Ana  O'Neil-Smith, call 555-0100 (don't).\n\nThanks")
    texts = token_texts(doc)
    assert texts == [token.text for token in doc]
    assert token_texts(doc) is texts and token_list(doc) is token_list(doc)
    release_tokens(doc)  # the lists and the doc refer to each other: let go of both
    assert token_texts(doc) is not texts and token_texts(doc) == texts
    release_tokens(doc)
    assert not doc.user_data
