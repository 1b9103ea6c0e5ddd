"""The decoding views' parts (``gateway.scan.decode``), with literal inputs; ``test_normalize.py``
covers them through ``views``."""

from __future__ import annotations

import base64

import pytest

from gateway.scan.decode import Budget, NormalizationLimit, candidates, decoded, json_values


def test_a_decoded_run_maps_back_to_all_of_its_encoding() -> None:
    secret = "password=hunter22"
    encoded = base64.b64encode(secret.encode()).decode()
    text = f"see {encoded} there"
    out = decoded(text, "base64", Budget(10, 1000), candidates(text))
    assert out is not None
    view, mapping = out
    assert view == f"see {secret} there"
    start = view.index(secret)
    assert mapping.span(start, start + len(secret)) == (4, 4 + len(encoded))


def test_hex_and_percent_runs() -> None:
    hex_text = "id " + b"maria@example.org".hex()
    hex_out = decoded(hex_text, "hex", Budget(10, 1000), candidates(hex_text))
    assert hex_out is not None and hex_out[0] == "id maria@example.org"
    pct_out = decoded("to=maria%40example.org", "percent", Budget(10, 1000), [])
    assert pct_out is not None and pct_out[0] == "to=maria@example.org"
    assert decoded("nothing encoded here", "percent", Budget(10, 1000), []) is None


def test_the_budget_fails_closed() -> None:
    runs = " ".join(base64.b64encode(f"value number {i:04d}".encode()).decode() for i in range(5))
    with pytest.raises(NormalizationLimit):
        decoded(runs, "base64", Budget(4, 10_000), candidates(runs))


def test_json_values_unescape_with_each_escape_mapped_to_its_characters() -> None:
    text = '{"to": "maria\\u0040example.org", "n": 1}'
    out = json_values(text)
    assert out is not None
    view, mapping = out
    assert view == "to\nmaria@example.org\nn"  # every string literal, keys too, one per line
    at = view.index("@")
    assert text[slice(*mapping.span(at, at + 1))] == "\\u0040"
    assert json_values('{"plain": "no escapes"}') is None
