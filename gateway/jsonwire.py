"""JSON for the wire: compact UTF-8, and never a crash on text Python can hold but UTF-8 cannot.

JSON allows ``"\\ud800"`` (a lone UTF-16 surrogate); ``json.loads`` turns it into a
str that cannot be encoded as UTF-8.  Such a value is re-emitted ``\\u``-escaped, as
it arrived, instead of failing the request.
"""

from __future__ import annotations

import json
from typing import Any

_SEPARATORS = (",", ":")


def dumps_bytes(obj: Any) -> bytes:
    try:
        return json.dumps(obj, ensure_ascii=False, separators=_SEPARATORS).encode()
    except UnicodeEncodeError:
        return json.dumps(obj, ensure_ascii=True, separators=_SEPARATORS).encode()


def dumps_text(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=_SEPARATORS)
    try:
        text.encode()
    except UnicodeEncodeError:
        return json.dumps(obj, ensure_ascii=True, separators=_SEPARATORS)
    return text
