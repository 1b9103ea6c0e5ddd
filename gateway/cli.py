"""Command line: ``gateway serve``, ``gateway scan``, ``gateway policy check|test``, ``gateway keys ...``,
``gateway audit export|verify|prune``, ``gateway secret export``, ``gateway init``.

Every command takes ``--config PATH`` (default ``$GATEWAY_CONFIG`` or
``./gateway.yaml``, else built-in defaults).  A bad config exits with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from gateway.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from gateway.rules import Rules

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
    serve.add_argument(
        "--workers", type=int, metavar="N", help="worker processes on the port (default from config: 1)"
    )
    # A worker of `--workers N`, started by the supervisor: its index, and the workers' shared directory.
    serve.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    serve.add_argument("--worker-dir", type=Path, help=argparse.SUPPRESS)
    serve.add_argument(
        "--dev",
        action="store_true",
        help="development mode (server.dev_mode): start without a secret, keeping one in the database",
    )

    init = commands.add_parser(
        "init", help="write a commented gateway.yaml and an owner-only secret file (never overwriting)"
    )
    init.add_argument("--dir", type=Path, default=Path("."), help="where to write them (default: here)")

    secret = commands.add_parser("secret", help="the server secret")
    secret_commands = secret.add_subparsers(dest="secret_command", required=True)
    export_secret = secret_commands.add_parser(
        "export",
        parents=[common],
        help="move the secret a development-mode gateway kept in the database out to a new file",
        description="Writes FILE (owner-only, never overwritten) with the secret unchanged, reads it back, "
        "then deletes it from the database; point GATEWAY_SECRET_FILE at FILE. Stop the gateway first.",
    )
    export_secret.add_argument("--to", metavar="FILE", required=True, type=Path)

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
    scan.add_argument(
        "--destination",
        metavar="NAME",
        help="decide for this configured destination (default: the one the model maps to, else the first)",
    )
    scan.add_argument("--model", help="the requested model (default: the request's model)")
    scan.add_argument("--user", help="the sender, for principal conditions (default: cli)")
    scan.add_argument("--team", help="the sender's team")
    scan.add_argument("--role", choices=("user", "auditor", "admin"), default="user")

    policy = commands.add_parser("policy", help="validate and test policy files")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    check = policy_commands.add_parser(
        "check",
        parents=[common],
        help="validate policy files",
        description="Exit status: 0 valid, 1 problems (printed as file:line: message), 2 bad config.",
    )
    check.add_argument(
        "files", nargs="*", metavar="FILE", help="policy files (default: the config's policies)"
    )
    test = policy_commands.add_parser(
        "test",
        parents=[common],
        help="run the examples embedded in policy files",
        description="Each file's examples are decided by the combined policy of all the files given. "
        "Exit status: 0 all passed, 1 a failure or an invalid file, 2 bad config.",
    )
    test.add_argument(
        "files", nargs="*", metavar="FILE", help="policy files (default: the config's policies)"
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
    _audit_parser(commands, common)
    return parser


def _audit_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    from gateway.audit.export import FORMATS
    from gateway.policy.schema import Action

    audit = commands.add_parser("audit", help="review the audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    export = audit_commands.add_parser(
        "export",
        parents=[common],
        help="write audit records to stdout",
        description="One record per request (an unfinished one has status 'incomplete'), newest first; "
        "gateway events are left out. Dates are ISO 8601 in UTC unless they carry an offset; a bare "
        "--until date includes that day.",
    )
    export.add_argument("--format", choices=FORMATS, default="jsonl")
    export.add_argument("--since", metavar="WHEN", help="records at or after this date or time")
    export.add_argument("--until", metavar="WHEN", help="records before this time (or up to this date)")
    export.add_argument("--user")
    export.add_argument("--team")
    export.add_argument("--destination", metavar="NAME")
    export.add_argument("--jurisdiction", metavar="CODE")
    export.add_argument("--action", choices=get_args(Action))
    export.add_argument(
        "--data-class", metavar="NAME", help="an entity (EMAIL_ADDRESS) or data class (personal_data)"
    )
    export.add_argument("--status", help="ok, error, incomplete, or an HTTP status code")
    verify = audit_commands.add_parser(
        "verify",
        parents=[common],
        help="check the hash chains; exit 0 when intact, 1 naming the first bad record",
        description="With anchors (audit.anchor.file by default, or --anchors: anchor files, syslog "
        "extracts, or heads printed by an earlier verify), also fails on a trail shorter than they say.",
    )
    verify.add_argument(
        "--anchors",
        metavar="FILE",
        action="append",
        type=Path,
        help="chain heads kept outside the database (repeatable; default: audit.anchor.file)",
    )
    prune = audit_commands.add_parser(
        "prune",
        parents=[common],
        help="delete records older than DAYS, leaving a tombstone the rest verifies from",
    )
    prune.add_argument("--older-than", metavar="DAYS", type=float, required=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "fingerprints":
        return _fingerprints(args)
    if args.command == "init":
        return _init(args.dir)
    try:
        if args.command == "policy":
            return _policy(args)
        settings = load_settings(args.config)
        if args.command == "serve":
            return _serve(settings.in_dev_mode() if args.dev else settings, args)
        if args.command == "secret":
            return _secret_export(settings, args.to)
        if args.command == "keys":
            return _keys(settings, args)
        if args.command == "scan":
            return _scan(settings, args)
        if args.command == "audit":
            return _audit(settings, args)
    except ConfigError as exc:
        print(f"gateway: config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return 1


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from dataclasses import replace

    from gateway.app import create_app
    from gateway.heap import limit_arenas
    from gateway.serving import GatewayServer, server_config
    from gateway.workers import Supervisor, listen_socket

    host: str = args.host or settings.server.host
    port: int = settings.server.port if args.port is None else args.port
    workers: int = settings.server.workers if args.workers is None else args.workers
    if workers > 1 and port == 0:
        raise ConfigError("--workers: several workers need a fixed port, not 0")
    # Uvicorn reports a failed start-up as exit 3 with a traceback-like line; a bad policy is a
    # config mistake, so it gets the config exit status and one `file:line: message` per problem.
    rules = _load_rules(settings.file.policies, settings)
    if rules is None:
        return EXIT_CONFIG
    level = settings.file.log_level.upper()
    who = f"[worker {args.worker}]" if args.worker is not None else ""
    logging.basicConfig(level=level, format=f"%(asctime)s %(levelname)s %(name)s{who}: %(message)s")
    # httpx logs every upstream URL at INFO; our own request line already says where each request went.
    # Alembic's INFO lines (plugins, each migration) are noise next to the start-up summary.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if args.worker is None:
        from gateway.summary import startup_summary, warnings

        _check_secret(settings)  # no secret is a config error (exit 2), not a failed start-up
        for line in startup_summary(settings, rules, host=host, port=port, workers=workers):
            print(f"gateway: {line}", file=sys.stderr)
        for line in warnings(settings):
            print(f"gateway: WARNING: {line}", file=sys.stderr)
    if args.worker is None and workers > 1:
        # The supervisor: no engine, no threads; each worker is a whole `gateway serve` of its own.
        passed = ["--host", host, "--port", str(port), "--workers", str(workers)]
        passed += ["--config", args.config] if args.config else []
        passed += ["--dev"] if settings.server.dev_mode else []
        return Supervisor(workers, passed).run()
    limit_arenas(settings.server.malloc_arenas)  # before the scan threads and the model exist
    sockets = None
    if args.worker is not None:
        settings = replace(settings, worker_dir=args.worker_dir, worker_count=workers)
        try:
            sockets = [listen_socket(host, port)]
        except OSError as exc:
            print(
                f"gateway: worker {args.worker}: cannot listen on {host}:{port}: {exc.strerror}",
                file=sys.stderr,
            )
            return 1
    app = create_app(settings)
    config = server_config(app, settings.server, host, port, settings.file.log_level, app.client_cut)
    server = GatewayServer(config, app.request_drain)
    server.run(sockets=sockets)
    return 0 if server.started else 1


def _init(directory: Path) -> int:
    from gateway.scaffold import ScaffoldError, write_starter

    try:
        config, secret = write_starter(directory)
    except ScaffoldError as exc:
        print(f"gateway: init: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {config} and {secret} (owner-only). Next:")
    print(f"  GATEWAY_SECRET_FILE={secret} gateway serve --config {config}")
    print(f"  gateway keys create --config {config} --user YOU      # a key for your client")
    return 0


@contextlib.contextmanager
def _database(settings: Settings) -> Iterator[Engine]:
    """The configured database, migrated, for one command."""
    from gateway.database import create_db_engine, migrate

    engine = create_db_engine(settings.database_url)
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()


def _check_secret(settings: Settings) -> None:
    from gateway.secret import resolve_secret

    with _database(settings) as engine:
        resolve_secret(settings, engine)


def _secret_export(settings: Settings, to: Path) -> int:
    from gateway.secret import SecretExportError, export_secret

    try:
        with _database(settings) as engine:
            export_secret(engine, to)
    except (SecretExportError, OSError) as exc:
        print(f"gateway: secret export: {exc}", file=sys.stderr)
        return 1
    print(f"moved the secret out of the database into {to} (owner-only); set GATEWAY_SECRET_FILE={to}")
    return 0


def _keys(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.auth import create_key, list_keys, revoke_key

    with _database(settings) as engine:
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
            within = settings.server.key_cache_seconds
            print(f"revoked key {args.key_id}; running gateways stop accepting it within {within:g} seconds")
            return 0
        print(f"gateway: no active key with id {args.key_id}", file=sys.stderr)
        return 1


def _audit(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.audit.chain import chain_key
    from gateway.secret import resolve_secret

    with _database(settings) as engine:
        if args.audit_command == "export":
            return _audit_export(engine, args)
        key = chain_key(resolve_secret(settings, engine))
        if args.audit_command == "verify":
            configured = settings.file.audit.anchor.file
            paths = args.anchors or ([Path(configured)] if configured else [])
            return _audit_verify(engine, key, paths)
        if args.audit_command == "prune":
            return _audit_prune(engine, key, args.older_than)
        return 1


def _audit_verify(engine: Engine, key: bytes, anchor_files: Sequence[Path]) -> int:
    from gateway.audit.anchor import Anchor, read_anchors
    from gateway.audit.verify import verify_trail

    anchors: list[Anchor] = []
    for path in anchor_files:
        try:
            with path.open(encoding="utf-8", errors="replace") as lines:
                anchors.extend(read_anchors(lines, str(path)))
        except OSError as exc:
            # Named anchors that cannot be read are not "no anchors": the check would pass vacuously.
            print(f"gateway: cannot read anchors {path}: {exc.strerror}", file=sys.stderr)
            return EXIT_CONFIG
        except ValueError as exc:
            print(f"gateway: {exc}", file=sys.stderr)
            return EXIT_CONFIG
    if anchor_files and not anchors:
        # An empty, truncated or wrong file would otherwise make the check pass vacuously.
        names = ", ".join(map(str, anchor_files))
        print(f"gateway: no anchors in {names}: nothing to check the trail against", file=sys.stderr)
        return EXIT_CONFIG
    report = verify_trail(engine, key, anchors)
    if report.problem is not None:
        print(f"audit trail NOT intact: {report.problem}")
        print(f"({report.records} records verified before it)")
        return 1
    print(f"audit trail intact: {report.records} records in {report.chains} chains")
    if anchor_files:
        print(f"  and consistent with {report.anchors} anchors in {', '.join(map(str, anchor_files))}")
        if report.unanchored:
            # Not proof of anything: a chain written since its process's last anchor has none yet.
            print(
                f"  WARNING: {len(report.unanchored)} chains have no anchor: {', '.join(report.unanchored)}"
            )
    for head in report.heads:
        # Worth keeping elsewhere: a later verify can be compared with them.
        print(f"  chain {head.writer}: head seq {head.seq} hash {head.last_hash}")
    return 0


def _audit_prune(engine: Engine, key: bytes, days: float) -> int:
    from datetime import UTC, datetime, timedelta

    from gateway.audit.verify import prune

    cutoff = datetime.now(UTC) - timedelta(days=days)
    removed, problem = prune(engine, key, cutoff)
    print(f"pruned {removed} records older than {cutoff.isoformat(timespec='seconds')}")
    if problem is not None:
        print(f"stopped: {problem}")
        return 1
    return 0


def _audit_export(engine: Engine, args: argparse.Namespace) -> int:
    from gateway.audit.export import export
    from gateway.audit.query import AuditFilter, FilterError, parse_time

    try:
        audit_filter = AuditFilter(
            since=parse_time(args.since) if args.since else None,
            until=parse_time(args.until, end=True) if args.until else None,
            user=args.user,
            team=args.team,
            destination=args.destination,
            jurisdiction=args.jurisdiction,
            action=args.action,
            data_class=args.data_class,
            status=args.status,
        )
        export(engine, audit_filter, args.format, sys.stdout)
    except FilterError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return 0


def _scan(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.endpoints import DestinationTable
    from gateway.exchange import Principal
    from gateway.policy.decide import Facts, decide
    from gateway.policy.stage import target
    from gateway.scan.build import build_engine
    from gateway.scan.report import as_request, decision_to_json, decision_to_text, to_json, to_text

    try:
        raw = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        print(f"gateway: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return EXIT_CONFIG
    # Policy and destination first: a mistake there is reported before seconds of engine loading.
    rules = _load_rules(settings.file.policies, settings)
    if rules is None:
        return EXIT_CONFIG
    policy = rules.policy
    endpoint, body = as_request(raw, args.endpoint)
    body_model = body.get("model")
    model = args.model or (body_model if isinstance(body_model, str) else "")
    table = DestinationTable(settings.destinations)
    names = ", ".join(d.name for d in table) or "none"
    if args.destination:
        dest = next((d for d in table if d.name == args.destination), None)
        if dest is None:
            print(
                f"gateway: no destination {args.destination!r} in {settings.source} (configured: {names})",
                file=sys.stderr,
            )
            return EXIT_CONFIG
    else:
        dest = (table.for_model(model) if model else None) or next(iter(table), None)
        if dest is None:
            print(f"gateway: {settings.source} configures no destinations to decide for", file=sys.stderr)
            return EXIT_CONFIG
    local = table.local()

    engine = build_engine(settings.file.scan, source=settings.source).with_lists(rules.lists)
    result = engine.scan(endpoint, body)
    facts = Facts(
        principal=Principal(args.user or "cli", args.team, args.role, "cli"),
        destination=target(dest),
        model=model,
        endpoint=endpoint,
        findings=result.findings,
    )
    decision = decide(policy, facts, local=target(local) if local is not None else None)
    explained = decision_to_json(
        decision, policy, destination=dest.name, model=model, local=local.name if local else None
    )
    if args.json:
        report = to_json(endpoint, result, show_values=args.show_values)
        report["decision"] = explained
        print(json.dumps(report))
    else:
        print(to_text(endpoint, result, show_values=args.show_values))
        print(decision_to_text(explained))
    if result.failed:
        return EXIT_SCAN_FAILED
    return EXIT_FOUND if result.findings else 0


def _load_rules(paths: Sequence[str], settings: Settings | None) -> Rules | None:
    """The policy of ``paths`` with the config's term lists and fingerprints (none without a config),
    or None after printing every problem to stderr."""
    from gateway.policy.load import PolicyError, load_policy
    from gateway.rules import Rules, load_rules

    try:
        return load_rules(paths, settings.file.scan) if settings is not None else Rules(load_policy(paths))
    except PolicyError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        if settings is not None and any("cannot read policy file" in p for p in exc.problems):
            # The usual cause: a relative path in `policies:` read from another directory.
            print(
                f"gateway: policy files are read relative to the working directory ({Path.cwd()}); "
                f"run from the gateway's directory or set `policies:` in the config ({settings.source})",
                file=sys.stderr,
            )
        return None


def _policy(args: argparse.Namespace) -> int:
    # `check FILE...` needs no config, so a broken config cannot stop a CI check of policy files.
    settings = None if args.files and args.policy_command == "check" else load_settings(args.config)
    paths: Sequence[str] = args.files or (settings.file.policies if settings is not None else ())
    rules = _load_rules(paths, settings)
    if rules is None:
        return EXIT_FOUND
    policy = rules.policy
    if args.policy_command == "check":
        for source, file in zip(policy.sources, policy.files, strict=True):
            print(f"{source}: ok, {len(file.rules)} rules")
        for source in policy.covers:
            print(f"{source}: ok (scanned with the policy, part of its version)")
        if not paths:
            print("no policy files configured: only the built-in guards apply")
        print(f"policy {policy.label}, version {policy.version}")
        return 0
    assert settings is not None
    return _policy_test(rules, settings)


def _policy_test(rules: Rules, settings: Settings) -> int:
    from gateway.policy.examples import run_examples
    from gateway.scan.build import build_engine

    policy = rules.policy
    if not any(file.examples for file in policy.files):
        print(f"no examples in {', '.join(policy.sources) or 'the configured policies'}")
        return 0
    engine = build_engine(settings.file.scan, source=settings.source)
    results = run_examples(policy, engine.with_lists(rules.lists).scan, settings.destinations)
    several = len(policy.sources) > 1
    source = None
    for result in results:
        if several and result.source != source:
            source = result.source
            print(f"{source}:")
        line = f"PASS {result.name}" if result.passed else f"FAIL {result.name}: {result.detail}"
        print(f"  {line}" if several else line)
    failed = sum(not r.passed for r in results)
    print(
        f"{len(results) - failed} passed, {failed} failed (policy {policy.label}, version {policy.version})"
    )
    return EXIT_FOUND if failed else 0


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
