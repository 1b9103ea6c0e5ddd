"""Log probabilities in an answer: tokens that spell the answer's text, redacted consistently with it.

``logprobs`` repeats the answer text token by token (with each token's UTF-8 ``bytes`` and the
alternatives the model weighed), so a value the guard removed from the text would otherwise come back
through them.  The rule here is simple and holds by construction: **the tokens always spell exactly the
text the client receives** beside them.  Where they already do, they pass, and each alternative token
is read on its own; where the text was restored, redacted or held back, the tokens are replaced by one
token spelling what was delivered (its log probability the sum of those it replaces, no alternatives),
or by none when nothing was.  Sans-I/O: ``read`` filters one piece of text (the answer guard, restore
included) and ``delivered`` is what the text channel sent.

Shapes: chat completions and Responses (a list of ``{token, logprob, bytes, top_logprobs}``), and
text completions (``{tokens, token_logprobs, top_logprobs: [{token: logprob}], text_offset}``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Read = Callable[[str], str]


def spelled(entries: Any) -> str | None:
    """The text a list of token entries spells, or None if it is not such a list."""
    if not isinstance(entries, list):
        return None
    parts: list[str] = []
    for entry in entries:
        token = entry.get("token") if isinstance(entry, dict) else None
        if not isinstance(token, str):
            return None
        parts.append(token)
    return "".join(parts)


def align(entries: Any, delivered: str, read: Read) -> Any:
    """Token entries that spell ``delivered``: as they are when they already do (alternatives read one
    by one), else one entry that spells it (or none)."""
    if spelled(entries) == delivered:
        return [_entry_alternatives(entry, read) for entry in entries]
    if not delivered:
        return []
    total = sum(
        e["logprob"]
        for e in entries or ()
        if isinstance(e, dict) and isinstance(e.get("logprob"), int | float)
    )
    return [{"token": delivered, "logprob": total, "bytes": list(delivered.encode()), "top_logprobs": []}]


def _entry_alternatives(entry: dict[str, Any], read: Read) -> dict[str, Any]:
    entry = _other_fields(entry, read)
    alternatives = entry.get("top_logprobs")
    if not isinstance(alternatives, list) or not alternatives:
        return entry
    out = []
    for alt in alternatives:
        if not isinstance(alt, dict):
            continue
        alt = _other_fields(alt, read)
        token = alt.get("token")
        if isinstance(token, str) and (new := read(token)) != token:
            alt = {**alt, "token": new, "bytes": list(new.encode())}
        out.append(alt)
    return {**entry, "top_logprobs": out}


_ENTRY_FIELDS = frozenset({"token", "logprob", "bytes", "top_logprobs"})


def _other_fields(entry: dict[str, Any], read: Read) -> dict[str, Any]:
    """An entry's fields beyond the known ones: text read, numbers kept, anything else left out."""
    if set(entry) <= _ENTRY_FIELDS:
        return entry
    out: dict[str, Any] = {}
    for key, value in entry.items():
        if key in _ENTRY_FIELDS or value is None or isinstance(value, int | float):
            out[key] = value
        elif isinstance(value, str):
            out[key] = read(value)
    return out


def align_completions(logprobs: Any, delivered: str, read: Read) -> Any:
    """Text completions' column-wise logprobs, made to spell ``delivered`` the same way."""
    if not isinstance(logprobs, dict):
        return logprobs
    tokens = logprobs.get("tokens")
    if isinstance(tokens, list) and all(isinstance(t, str) for t in tokens) and "".join(tokens) == delivered:
        logprobs = {k: v for k, v in logprobs.items() if k in _COLUMNS} | {
            k: read(v) for k, v in logprobs.items() if k not in _COLUMNS and isinstance(v, str)
        }
        top = logprobs.get("top_logprobs")
        if isinstance(top, list):
            logprobs = {**logprobs, "top_logprobs": [_read_keys(alts, read) for alts in top]}
        return logprobs
    values = [v for v in logprobs.get("token_logprobs") or () if isinstance(v, int | float)]
    offsets = logprobs.get("text_offset")
    first = offsets[0] if isinstance(offsets, list) and offsets else 0
    if not delivered:
        return {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
    return {
        "tokens": [delivered],
        "token_logprobs": [sum(values)],
        "top_logprobs": [{}],
        "text_offset": [first],
    }


_COLUMNS = frozenset({"tokens", "token_logprobs", "top_logprobs", "text_offset"})


def _read_keys(alternatives: Any, read: Read) -> Any:
    if not isinstance(alternatives, dict):
        return alternatives
    return {
        read(token): lp if not isinstance(lp, str) else read(lp)
        for token, lp in alternatives.items()
        if lp is None or isinstance(lp, int | float | str)
    }


def filter_whole(logprobs: Any, read: Read) -> Any:
    """The ``logprobs`` of a whole answer: each list of entries made to spell its own text, filtered."""
    if isinstance(logprobs, list):
        text = spelled(logprobs)
        return align(logprobs, read(text), read) if text is not None else None
    if isinstance(logprobs, dict):
        if "tokens" in logprobs:
            tokens = logprobs.get("tokens")
            text = "".join(t for t in tokens if isinstance(t, str)) if isinstance(tokens, list) else ""
            return align_completions(logprobs, read(text), read)
        return {key: filter_whole(value, read) for key, value in logprobs.items()}
    return logprobs if logprobs is None or isinstance(logprobs, int | float | bool) else None
