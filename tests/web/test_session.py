from __future__ import annotations

import time

from gateway.web.session import SessionSigner


def test_a_signed_session_round_trips() -> None:
    signer = SessionSigner(b"s" * 32)
    session = signer.verify(signer.sign("abc123"))
    assert session is not None and session.key_id == "abc123"
    assert session.expires > time.time() + signer.lifetime_s - 5


def test_forged_tampered_and_expired_sessions_are_refused() -> None:
    signer = SessionSigner(b"s" * 32)
    value = signer.sign("abc123")
    payload, mac = value.split(".")
    assert signer.verify(payload + "." + mac[:-2] + ("AA" if mac[-2:] != "AA" else "BB")) is None
    assert signer.verify(SessionSigner(b"t" * 32).sign("abc123")) is None
    assert signer.verify(signer.sign("abc123", now=time.time() - signer.lifetime_s - 1)) is None
    for junk in ("", ".", "abc", "a.b", "é.é", value + "x", "." + mac):
        assert signer.verify(junk) is None


def test_the_payload_cannot_be_swapped() -> None:
    signer = SessionSigner(b"s" * 32)
    mine = signer.sign("mine")
    other = signer.sign("other")
    assert signer.verify(other.split(".")[0] + "." + mine.split(".")[1]) is None
