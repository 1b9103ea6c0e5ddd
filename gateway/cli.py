"""Command line: ``gateway serve``, ``gateway keys create``.

Every command takes ``--config PATH`` (default ``$GATEWAY_CONFIG`` or
``./gateway.yaml``, else built-in defaults).  A bad config exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from gateway.settings import ConfigError, Settings, load_settings

EXIT_CONFIG = 2
EXIT_FOUND = 1
EXIT_SCAN_FAILED = 3
ENDPOINT_NAMES = (
    "chat.completions",
    "completions",
    "embeddings",
    "responses",
    "messages",
    "messages.count_tokens",
)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", metavar="PATH", help="config file (default: $GATEWAY_CONFIG or ./gateway.yaml)"
    )

    parser = argparse.ArgumentParser(
        prog="gateway", description="Data-governance gateway for hosted LLM APIs."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", parents=[common], help="run the proxy")
    serve.add_argument("--host", help="address to listen on (default from config: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default from config: 8080)")

    scan = commands.add_parser(
        "scan",
        parents=[common],
        help="scan text or a request body offline and print the findings",
        description="Exit status: 0 nothing found, 1 findings, 3 the scan failed, 2 bad config.",
    )
    scan.add_argument("file", nargs="?", default="-", help="file to scan (text or request JSON); - for stdin")
    scan.add_argument("--json", action="store_true", help="print one JSON object")
    scan.add_argument("--endpoint", choices=ENDPOINT_NAMES, help="how to read a JSON body (default: guessed)")
    scan.add_argument(
        "--show-values", action="store_true", help="print matched values instead of masking them"
    )

    fingerprints = commands.add_parser("fingerprints", help="protected-document fingerprints")
    fp_commands = fingerprints.add_subparsers(dest="fingerprints_command", required=True)
    fp_build = fp_commands.add_parser(
        "build", help="index .txt/.md documents (hashes only, no text) for the scan.fingerprints setting"
    )
    fp_build.add_argument("paths", nargs="+", help="files or folders of protected documents")
    fp_build.add_argument("--out", required=True, help="index file to write")

    keys = commands.add_parser("keys", help="manage gateway keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", parents=[common], help="create a key; printed once")
    create.add_argument("--user", required=True)
    create.add_argument("--team")
    create.add_argument("--role", choices=("user", "auditor", "admin"), default="user")
    key_commands.add_parser("list", parents=[common], help="list keys (ids and owners, never secrets)")
    revoke = key_commands.add_parser("revoke", parents=[common], help="revoke a key by its id")
    revoke.add_argument("key_id")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "fingerprints":
        return _fingerprints(args)
    try:
        settings = load_settings(args.config)
        if args.command == "serve":
            return _serve(settings, args.host, args.port)
        if args.command == "keys":
            return _keys(settings, args)
        if args.command == "scan":
            return _scan(settings, args)
    except ConfigError as exc:
        print(f"gateway: config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return 1


def _serve(settings: Settings, host: str | None, port: int | None) -> int:
    import uvicorn

    from gateway.app import create_app

    level = settings.file.log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every upstream URL at INFO; our own request line already says where each request went.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    config = uvicorn.Config(
        create_app(settings),
        host=host or settings.server.host,
        port=settings.server.port if port is None else port,
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        http="httptools",
        lifespan="on",
        # Our own request log line replaces uvicorn's, which would print query strings.
        access_log=False,
        log_level=settings.file.log_level,
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1


def _keys(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.auth import create_key, list_keys, revoke_key
    from gateway.database import create_db_engine, metadata

    engine = create_db_engine(settings.database_url)
    try:
        metadata.create_all(engine)
        if args.keys_command == "create":
            new = create_key(engine, user=args.user, team=args.team, role=args.role)
            who = f"user {args.user!r} (role {args.role})"
            print(f"created key {new.principal.key_id} for {who}; it is shown only once:")
            print(new.key)
            return 0
        if args.keys_command == "list":
            for row in list_keys(engine):
                state = f"revoked {row['revoked_at']:%Y-%m-%d}" if row["revoked_at"] else "active"
                team = row["team"] or "-"
                print(f"{row['key_id']}  {row['user']}  team={team}  role={row['role']}  {state}")
            return 0
        if revoke_key(engine, args.key_id):
            print(f"revoked key {args.key_id}; running gateways stop accepting it within 30 seconds")
            return 0
        print(f"gateway: no active key with id {args.key_id}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()


def _scan(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.scan.build import build_engine
    from gateway.scan.report import as_request, to_json, to_text

    try:
        raw = sys.stdin.read() if args.file == "-" else open(args.file, encoding="utf-8").read()  # noqa: SIM115
    except OSError as exc:
        print(f"gateway: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return EXIT_CONFIG
    endpoint, body = as_request(raw, args.endpoint)
    result = build_engine(settings.file.scan, source=settings.source).scan(endpoint, body)
    if args.json:
        print(json.dumps(to_json(endpoint, result, show_values=args.show_values)))
    else:
        print(to_text(endpoint, result, show_values=args.show_values))
    if result.failed:
        return EXIT_SCAN_FAILED
    return EXIT_FOUND if result.findings else 0


def _fingerprints(args: argparse.Namespace) -> int:
    from gateway.scan.recognizers.fingerprints import FingerprintIndex

    try:
        index = FingerprintIndex.build(args.paths)
        index.save(args.out)
    except (OSError, ValueError) as exc:
        print(f"gateway: cannot build the fingerprint index: {exc}", file=sys.stderr)
        return 1
    print(f"indexed {len(index.documents)} documents into {args.out} (hashes only)")
    return 0
