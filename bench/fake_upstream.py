"""A lean OpenAI-compatible upstream for benchmarks: fixed answers, no per-request work.

Run: ``python -m bench.fake_upstream PORT``.  ``/v1/chat/completions`` answers with a
fixed completion, or with ``STREAM_EVENTS`` 3-character deltas (one ASGI send each,
the per-event worst case for a proxy) when ``stream`` is true.  For the model
``gpt-echo`` the stream is the last message's text in 3-character deltas instead, so
pseudonym tokens in the prompt come back split across events, as a model would
repeat them, and the gateway has to restore them.  ``GET /received`` answers the
number of POST bodies received so far (``bench/soak.py`` compares it with the audit
trail).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import uvicorn

STREAM_EVENTS = 340
COMPLETION = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-bench",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "pong " * 20}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 200, "completion_tokens": 20, "total_tokens": 220},
    }
).encode()


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    payload = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "gpt-bench",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


FIRST = _chunk({"role": "assistant", "content": ""})
DELTA = _chunk({"content": "abc"})
LAST = _chunk({}, "stop")
USAGE = (
    b"data: "
    + json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "gpt-bench",
            "choices": [],
            "usage": {"prompt_tokens": 200, "completion_tokens": STREAM_EVENTS, "total_tokens": 540},
        }
    ).encode()
    + b"\n\n"
)
DONE = b"data: [DONE]\n\n"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    stream = b'"stream": true' in body or b'"stream":true' in body
    if not stream:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(COMPLETION)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": COMPLETION})
        return
    usage = b'"include_usage": true' in body or b'"include_usage":true' in body
    deltas = [DELTA] * STREAM_EVENTS
    if b'"gpt-echo"' in body:
        text = json.loads(body)["messages"][-1]["content"]
        deltas = [_chunk({"content": text[i : i + 3]}) for i in range(0, len(text), 3)]
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]}
    )
    await send({"type": "http.response.body", "body": FIRST, "more_body": True})
    for delta in deltas:
        await send({"type": "http.response.body", "body": delta, "more_body": True})
    await send({"type": "http.response.body", "body": LAST, "more_body": True})
    if usage:
        await send({"type": "http.response.body", "body": USAGE, "more_body": True})
    await send({"type": "http.response.body", "body": DONE, "more_body": False})


class Counting:
    """``app``, counting the POST bodies it receives; ``GET /received`` answers the count."""

    def __init__(self) -> None:
        self.received = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == "/received":
            body = str(self.received).encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] == "http" and scope["method"] == "POST":
            self.received += 1
        await app(scope, receive, send)


if __name__ == "__main__":
    uvicorn.run(
        Counting(),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        lifespan="off",
    )
