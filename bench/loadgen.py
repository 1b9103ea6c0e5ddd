"""A small keep-alive HTTP/1.1 load generator on raw asyncio streams.

Lean on purpose: on a 2-core machine the load generator competes with the system
under test, so it does no more than write a prepared request and parse the
status line, headers and (chunked or sized) body.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)  # seconds, request sent -> body complete
    ttfb: list[float] = field(default_factory=list)  # seconds, request sent -> first body bytes
    errors: int = 0
    reconnects: int = 0  # connections the server closed after an answer (see run_load)
    elapsed: float = 0.0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0


def build_request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = [
        f"POST {path} HTTP/1.1",
        "host: bench",
        "content-type: application/json",
        f"content-length: {len(body)}",
    ]
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader, t0: float) -> tuple[int, float]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    first: float | None = None
    if b"transfer-encoding: chunked" in lower:
        while True:
            size_line = await reader.readline()
            size = int(size_line.strip().split(b";")[0], 16)
            if size == 0:
                await reader.readline()
                break
            await reader.readexactly(size + 2)
            if first is None:
                first = time.perf_counter() - t0
    else:
        start = lower.index(b"content-length:") + 15
        length = int(lower[start : lower.index(b"\r\n", start)])
        await reader.readexactly(length)
    now = time.perf_counter() - t0
    return status, first if first is not None else now


async def run_load(
    host: str, port: int, request: bytes | list[bytes], total: int, concurrency: int
) -> Result:
    """Send ``total`` requests over ``concurrency`` keep-alive connections.  A list of requests is
    used round-robin (e.g. distinct prompts, so a gateway cannot answer from a cache)."""
    result = Result()
    remaining = total
    requests = request if isinstance(request, list) else [request]
    sent = 0

    async def worker() -> None:
        nonlocal remaining, sent
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while remaining > 0:
                remaining -= 1
                payload = requests[sent % len(requests)]
                sent += 1
                t0 = time.perf_counter()
                writer.write(payload)
                try:
                    status, first = await _read_response(reader, t0)
                except asyncio.IncompleteReadError as exc:
                    if exc.partial:
                        raise
                    # The server closed the idle connection without a word (llama.cpp's server does so
                    # after every streamed answer): reconnect and send again, timed from the resend.
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    result.reconnects += 1
                    t0 = time.perf_counter()
                    writer.write(payload)
                    status, first = await _read_response(reader, t0)
                latency = time.perf_counter() - t0
                if status != 200:
                    result.errors += 1
                    continue
                result.latencies.append(latency)
                result.ttfb.append(first)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - started
    return result
