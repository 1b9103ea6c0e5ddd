"""The answer stream's own cost, sans-I/O: one 342-event chat stream (3-character deltas, pseudonym
tokens split across events) through ``AnswerStream.feed`` with restore and the guard's cheap test, as
the relay runs it, without sockets or the fake provider.  Prints the minimum and median CPU time per
stream over 7 repetitions of 60 streams.

    python bench/answer_stream_speed.py new
    (cd /tmp/old16 && PYTHONPATH=/tmp/old16 python /work/main/bench/answer_stream_speed.py old)
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Sequence

from gateway.dialects.sse import SSEEvent
from gateway.scan.answer import AnswerDetector
from gateway.transform.answer import AnswerFilter
from gateway.transform.answer_guard import Replacement
from gateway.transform.answer_stream import AnswerStream

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[a-z]{2,}")
TEXT = ("Dear <PERSON_1a2b3c4d>, your order to <EMAIL_ADDRESS_99aa88bb> is on its way. " * 20)[:1020]
MAPPING = {"<PERSON_1a2b3c4d>": "Maria Garcia", "<EMAIL_ADDRESS_99aa88bb>": "maria@example.org"}
HEAD = {"id": "chatcmpl-Ab12Cd34Ef56Gh78", "object": "chat.completion.chunk", "created": 1765000000,
        "model": "gpt-4o-mini", "system_fingerprint": "fp_0a1b2c3d"}  # fmt: skip


def inspect(text: str) -> Sequence[Replacement]:
    return [Replacement(m.start(), m.end(), "[EMAIL]") for m in EMAIL.finditer(text)]


def events() -> list[SSEEvent]:
    out = [
        SSEEvent(
            json.dumps(
                {
                    **HEAD,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"content": TEXT[i : i + 3]},
                            "logprobs": None,
                            "finish_reason": None,
                        }
                    ],
                }
            )
        )
        for i in range(0, len(TEXT), 3)
    ]
    end = {**HEAD, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]}
    return [*out, SSEEvent(json.dumps(end)), SSEEvent("[DONE]")]


def main() -> None:
    stream = events()
    times = []
    for _ in range(7):
        started = time.process_time()
        for _ in range(60):
            answer = AnswerStream("chat.completions", AnswerFilter(MAPPING, inspect, AnswerDetector.worth))
            for event in stream:
                answer.feed(event)
        times.append((time.process_time() - started) * 1000 / 60)
    label = sys.argv[1] if len(sys.argv) > 1 else "this"
    print(f"{label}: min {min(times):.2f} median {sorted(times)[3]:.2f} ms per {len(stream)}-event stream")


if __name__ == "__main__":
    main()
