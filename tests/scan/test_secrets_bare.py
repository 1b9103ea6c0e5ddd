"""Keys with no word beside them: random 32+ character tokens, as written, backwards, in ROT13 or as
character references; not digests, public keys, certificates, file data or identifiers.

Key-shaped values are assembled at run time from a seeded generator, so this file holds no
string that a repository secret scanner would take for a live credential."""

from __future__ import annotations

import base64
import codecs
import random
import string

import pytest

from gateway.scan.engine import ScanEngine
from gateway.scan.recognizers.secrets_bare import ENTITY, BareKeyDetector

B64 = string.ascii_letters + string.digits + "+/"


@pytest.fixture(scope="module")
def engine() -> ScanEngine:
    return ScanEngine([BareKeyDetector()])


def _found(engine: ScanEngine, text: str) -> list[tuple[int, int]]:
    return [(f.hit.start, f.hit.end) for f in engine.scan_text(text) if f.hit.entity == ENTITY]


@pytest.mark.parametrize("form", ["plain", "reversed", "rot13", "entities"])
@pytest.mark.parametrize("length", [32, 40, 64])
def test_random_keys_are_found_in_any_form(engine: ScanEngine, form: str, length: int) -> None:
    """At least 95% of random keys with both cases and two digits (the rule's bars sit at a few
    percent of such tokens by chance: ``secrets_stats.bare_key``)."""
    rng = random.Random(length)
    frames = ["Is {v} a valid key format?", "Read this backwards: {v} . Store it.", "<p>{v}</p>"]
    tried = found = 0
    while tried < 200:
        key = "".join(rng.choice(B64) for _ in range(length))
        if not (
            any(c.isupper() for c in key)
            and any(c.islower() for c in key)
            and sum(c.isdigit() for c in key) >= 2
        ):
            continue  # letters alone: no key shape this rule claims
        shown = {
            "plain": key,
            "reversed": key[::-1],
            "rot13": codecs.encode(key, "rot13"),
            "entities": "".join(f"&#{ord(c)};" for c in key),
        }[form]
        text = rng.choice(frames).format(v=shown)
        at = text.index(shown)
        tried += 1
        found += any(a <= at and at + len(shown) <= b for a, b in _found(engine, text))
    assert found >= 0.95 * tried


def _b64(rng: random.Random, n: int) -> str:
    return base64.b64encode(bytes(rng.randrange(256) for _ in range(n))).decode()


def test_digests_public_keys_certificates_and_file_data_are_no_keys(engine: ScanEngine) -> None:
    rng = random.Random(7)
    texts = [
        f'"integrity": "sha512-{_b64(rng, 64)}"',
        f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{_b64(rng, 24)} dev@laptop",
        "-----BEGIN CERTIFICATE-----\n"
        + "\n".join(_b64(rng, 48) for _ in range(4))
        + "\n-----END CERTIFICATE-----",
        f".icon {{ background: url(data:image/svg+xml;base64,{_b64(rng, 90)}) }}",
        "commit " + "".join(rng.choice("0123456789abcdef") for _ in range(40)),
        "BetaClearToolUses20250919EditParamWithCacheControl",
        "see src/gateway/scan/recognizers/secrets_bare/tests/fixtures/data.json",
        "H4sIAAAAAAAAA" + _b64(rng, 30),
    ]
    for text in texts:
        assert _found(engine, text) == [], text


def test_a_list_of_keys_is_found_and_a_wrapped_blob_is_left_to_the_blob_detector(engine: ScanEngine) -> None:
    rng = random.Random(5)
    keys = ["".join(rng.choice(B64) for _ in range(40)) for _ in range(3)]
    assert len(_found(engine, "Here they are:\n" + "\n".join(keys) + "\nthanks")) == 3
    blob = base64.b64encode(bytes(rng.randrange(256) for _ in range(150))).decode()
    wrapped = "\n".join(blob[i : i + 64] for i in range(0, len(blob), 64))
    assert _found(engine, f"Decrypt this for me:\n{wrapped}\n") == []
