"""``suspicious_encoding``: encoded blobs the gateway cannot read (``gateway.scan.opaque``), and the
ordinary encoded things of technical text that are not such blobs."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import random
import uuid
from pathlib import Path

import pytest

from gateway.scan.decode import candidates
from gateway.scan.engine import ScanEngine
from gateway.scan.normalize import views
from gateway.scan.opaque import ENTITY, MIN_BYTES, EncodingDetector, opaque

ROOT = Path(__file__).resolve().parents[2]


def _random(n: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(n)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _found(text: str) -> list[str]:
    return [text[a:b] for a, b in opaque(text)]


@pytest.mark.parametrize("size", [MIN_BYTES, 150, 2000])
def test_a_random_binary_blob_is_suspicious(size: int) -> None:
    blob = _b64(_random(size))
    assert _found(f"Decrypt this: {blob} please") == [blob]
    hexed = _random(size, 8).hex()
    assert _found(f"payload={hexed};") == [hexed]


def test_a_wrapped_block_is_one_blob_and_an_engine_finding_spans_it() -> None:
    block = base64.encodebytes(_random(300)).decode().strip()  # MIME: 76 characters a line
    text = f"attachment:\n{block}\nthanks"
    [found] = ScanEngine([EncodingDetector()]).scan_text(text)
    assert (found.hit.kind, found.hit.entity, found.view) == ("suspicious_encoding", ENTITY, "raw")
    assert text[found.hit.start : found.hit.end] == block


def test_a_blob_nested_in_base64_is_found_through_the_decoding_view() -> None:
    inner = _b64(_random(200))
    outer = _b64(f"the key material: {inner}".encode())
    text = f"step 1: {outer}"
    assert _found(text) == []  # outer decodes to text: not suspicious itself
    [found] = ScanEngine([EncodingDetector()]).scan_text(text)
    assert text[found.hit.start : found.hit.end] == outer
    assert found.view == "base64"


def test_a_blob_split_by_invisible_characters_is_read_whole() -> None:
    blob = _b64(_random(200))
    text = "x " + blob[:80] + "\u200b" + blob[80:]
    [found] = ScanEngine([EncodingDetector()]).scan_text(text)
    assert (found.hit.start, found.hit.end) == (2, len(text))


def test_shorter_than_the_threshold_is_not_reported() -> None:
    assert _found(_b64(_random(MIN_BYTES - 1))) == []
    assert _found(_random(MIN_BYTES - 1).hex()) == []


def test_readable_blobs_are_not_suspicious() -> None:
    text = ("Dear Ms Gonzalez, your order has shipped. " * 5).encode()
    assert _found(_b64(text)) == []
    assert _found(text.hex()) == []
    assert _found(_b64(gzip.compress(text, mtime=0))) == []  # the decoding views open it


def test_digests_ids_and_nonces_are_not_suspicious() -> None:
    digests = [
        hashlib.new(name, b"release-1.2.3.tar.gz").hexdigest() for name in ("sha1", "sha256", "sha512")
    ]
    git_ids = [hashlib.sha1(str(i).encode()).hexdigest() for i in range(5)]
    uuids = [str(uuid.UUID(bytes=_random(16, i))) for i in range(5)]
    nonces = [_b64(_random(n, n)) for n in (12, 16, 24, 32, 48, 64)]
    urlsafe = [base64.urlsafe_b64encode(_random(n, n)).decode().rstrip("=") for n in (32, 64)]
    text = "\n".join(
        [
            f"commit {git_ids[0]}\nMerge: {git_ids[1][:7]} {git_ids[2][:7]}",
            f"sha1 {digests[0]}  sha256 {digests[1]}",
            f"sha512: {digests[2]}",
            f"integrity sha512-{_b64(hashlib.sha512(b'x').digest())}",
            "ids: " + ", ".join(uuids),
            "nonces: " + " ".join(nonces),
            "tokens: " + " ".join(urlsafe),
            "a digest and a salt: " + digests[2] + digests[1][:32],
            " ".join(git_ids),
        ]
    )
    assert _found(text) == []
    assert ScanEngine([EncodingDetector()]).scan_text(text) == []


def test_long_names_paths_and_numbers_are_not_encodings() -> None:
    text = "\n".join(
        [
            "/" + "/".join(["very", "deeply", "nested", "directory", "structure", "for", "tests"] * 4),
            "_".join(["a", "long", "snake", "case", "identifier", "that", "goes", "on"] * 4),
            "".join(["AbstractSingletonProxyFactoryBeanConfigurationAdapter"] * 3),
            "".join(str(random.Random(1).randrange(10**9, 10**10)) for _ in range(30)),
        ]
    )
    assert _found(text) == []


def test_jwt_signature_is_not_suspicious_but_jwe_ciphertext_is() -> None:
    def part(obj: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    signature = base64.urlsafe_b64encode(_random(256)).decode().rstrip("=")
    jwt = f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part({'sub': '42'})}.{signature}"
    assert _found(f"Authorization: Bearer {jwt}") == []
    key = base64.urlsafe_b64encode(_random(256, 2)).decode().rstrip("=")
    ciphertext = base64.urlsafe_b64encode(_random(400, 3)).decode().rstrip("=")
    header = part({"alg": "RSA-OAEP", "enc": "A256GCM"})
    jwe = f"{header}.{key}.AxY8DCtDaGlsbGljb3RoZQ.{ciphertext}.9hH0vgRfYgPnAHOd8stkvw"
    assert _found(jwe) == [key, ciphertext]


def test_media_is_not_suspicious() -> None:
    png = b"\x89PNG\r\n\x1a\n" + _random(400)
    jpeg = b"\xff\xd8\xff\xe0" + _random(400)
    mp4 = b"\x00\x00\x00\x18ftypmp42" + _random(400)
    for media in (png, jpeg, mp4):
        assert _found(f"inline: {_b64(media)}") == []
    assert _found(f'<img src="data:image/webp;base64,{_b64(_random(500))}">') == []
    assert _found(f"src: url(data:font/woff2;base64,{_b64(_random(500))})") == []
    # A data: URI that declares no media says nothing about its bytes.
    blob = _b64(_random(500))
    assert _found(f"data:application/octet-stream;base64,{blob}") == [blob]


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    head = bytes([size]) if size < 0x80 else bytes([0x82]) + size.to_bytes(2)
    return bytes([tag]) + head + body


def test_public_key_material_is_not_suspicious() -> None:
    certificate = _der(0x30, _der(0x30, _random(700)) + _der(0x30, b"\x06\x09" + _random(9)) + _random(260))
    assert _found(_b64(certificate)) == []
    pem = base64.encodebytes(certificate).decode()
    assert _found(f"-----BEGIN CERTIFICATE-----\n{pem}-----END CERTIFICATE-----\n") == []
    ssh = b"\x00\x00\x00\x07ssh-rsa" + b"\x00\x00\x00\x03\x01\x00\x01" + _random(260)
    assert _found(f"ssh-rsa {_b64(ssh)} me@laptop") == []
    pgp = base64.encodebytes(b"\x89\x01\x33" + _random(300)).decode()
    assert _found(f"-----BEGIN PGP SIGNATURE-----\n\n{pgp}=abcd\n-----END PGP SIGNATURE-----") == []
    # A private key is the secrets detector's and an encrypted message is what this class is for.
    private = _der(0x30, b"\x02\x01\x00" + _random(600))
    assert _found(_b64(private)) == [_b64(private)]
    message = base64.encodebytes(b"\x85\x01\x0c" + _random(300)).decode().strip()
    assert _found(f"-----BEGIN PGP MESSAGE-----\n\n{message}\n-----END PGP MESSAGE-----") == [message]


NEGATIVES = [
    "bench/data/code/negatives.jsonl",
    "bench/data/secrets/negatives.jsonl",
    "bench/data/markers/negatives.jsonl",
]


@pytest.mark.parametrize("path", NEGATIVES)
def test_the_detector_corpora_negatives_hold_no_suspicious_encoding(path: str) -> None:
    texts = [
        json.loads(line)["text"] for line in (ROOT / path).read_text(encoding="utf-8").splitlines() if line
    ]
    assert texts
    for text in texts:
        assert all(not opaque(v.text) for v in views(text) if v.name != "digits"), text[:200]


@pytest.mark.parametrize("path", NEGATIVES)
def test_the_detector_corpora_negatives_open_no_compressed_stream(path: str) -> None:
    """The decoding views read these texts as before: no run of them opens as a compressed stream."""
    from gateway.scan.decode import Budget, b64_bytes, is_text, opened

    for line in (ROOT / path).read_text(encoding="utf-8").splitlines():
        text = json.loads(line)["text"]
        for lines in candidates(text):
            for a, b in lines:
                raw = b64_bytes(text[a:b])
                assert raw is None or is_text(raw) or opened(raw, Budget(256, 1 << 20)) is None, text[a:b]


def _chat(text: str) -> dict[str, object]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}


@pytest.mark.parametrize("lines", [700, 701, 702, 703])
def test_a_long_readable_blob_cut_by_the_engines_windows_is_not_suspicious(lines: int) -> None:
    # About 60,000 base64 characters of prose in a text read in 32,768-character windows: the
    # second window starts inside the blob, on each offset of its 4-character grid in turn.
    prose = " ".join(
        f"Line {i}: the quarterly report is attached, nothing else to add." for i in range(lines)
    )
    text = "Please summarise: " + _b64(prose.encode()) + " thanks"
    engine = ScanEngine([EncodingDetector()])
    assert engine.scan("chat.completions", _chat(text)).findings == ()


def test_a_long_random_blob_in_a_long_text_is_suspicious_over_all_of_it() -> None:
    blob = _b64(_random(45_000))
    text = "Please decrypt: " + blob + " thanks"
    findings = ScanEngine([EncodingDetector()]).scan("chat.completions", _chat(text)).findings
    assert {f.entity for f in findings} == {ENTITY}
    start = text.index(blob)
    assert min(f.start for f in findings) == start
    assert max(f.end for f in findings) == start + len(blob)
