"""The embedded engine's process: llama.cpp's server (from the ``xllamacpp`` wheel) on loopback.

Run by :mod:`gateway.local.engine` as ``python -m gateway.local.engine_child``, never by hand.  It
is a separate process so that a crash in native code (or a kill) takes down the engine, not the
gateway, and so that the gateway can restart it.

Protocol over the pipes, one JSON line each way:

* stdin, first line: ``{"model": path, "context": n, "parallel": n, "threads": n|null,
  "api_key": key, "alias": name, "port": n}``.  The key travels here, not in argv, where any local
  user could read it with ``ps``.
* stdout: ``{"address": "http://127.0.0.1:PORT"}`` once the server listens, or ``{"error": text}``.

The process then waits for stdin to close: when the gateway exits or dies, its end of the pipe
closes and the engine follows, so no orphan keeps a port and gigabytes of memory.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def serve(config: dict[str, Any]) -> Any:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = config["model"]
    params.model_alias = {config["alias"]}
    params.n_ctx = int(config["context"])
    params.n_parallel = int(config["parallel"])
    if config.get("threads"):
        params.cpuparams.n_threads = int(config["threads"])
        params.cpuparams_batch.n_threads = int(config["threads"])
    params.hostnames = ["127.0.0.1"]
    params.port = int(config.get("port") or 0)
    # Only the gateway may use the engine: other local users and browser pages cannot.
    params.api_keys = [config["api_key"]]
    params.cors_origins = ""
    params.ui = False
    # Request bodies never reach a log: at this level llama.cpp logs errors only.
    params.verbosity = 1
    return xllamacpp.Server(params)


def main() -> int:
    try:
        config = json.loads(sys.stdin.readline())
        server = serve(config)
        address = server.listening_address
    except Exception as exc:  # reported to the parent by class and message: no request content here
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"[:500]}), flush=True)
        return 1
    print(json.dumps({"address": address}), flush=True)
    while sys.stdin.readline():  # EOF: the gateway is gone or wants us gone
        pass
    del server
    return 0


if __name__ == "__main__":
    sys.exit(main())
