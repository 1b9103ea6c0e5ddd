"""A real gateway on loopback in front of loopback fake providers, driven by the official SDKs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from sqlalchemy import Engine, select

from gateway.app import GatewayApp, create_app
from gateway.audit.tables import audit_records
from gateway.auth import create_key
from gateway.database import create_db_engine, migrate
from gateway.serving import GuardedProtocol
from gateway.settings import settings_from_mapping
from tests.fakes.providers import FakeAnthropic, FakeOpenAI
from tests.fakes.server import ThreadedServer

OPENAI_KEY = "sk-fake-openai-provider-key"
ANTHROPIC_KEY = "sk-ant-fake-provider-key"
LOCAL_KEY = "sk-fake-local-engine-key"
LOCAL_MODEL = "local-moe"
DEFAULT_POLICY = str(Path(__file__).resolve().parents[2] / "policies" / "default.yaml")
PROVIDER_ENV = {
    "FAKE_OPENAI_KEY": OPENAI_KEY,
    "FAKE_ANTHROPIC_KEY": ANTHROPIC_KEY,
    "FAKE_LOCAL_KEY": LOCAL_KEY,
    # Outside development mode the gateway does not start without a secret of its own.
    "GATEWAY_SECRET": "hex:" + "5e" * 32,
}


@dataclass
class Fakes:
    openai: FakeOpenAI
    anthropic: FakeAnthropic
    openai_url: str
    anthropic_url: str
    # The local model (an OpenAI-compatible server, as vLLM or llama-server would be).
    local: FakeOpenAI
    local_url: str

    def reset(self) -> None:
        self.openai.reset()
        self.anthropic.reset()
        self.local.reset()


@dataclass
class Gateway:
    url: str
    key: str
    app: GatewayApp
    engine: Engine
    fakes: Fakes
    server: ThreadedServer
    clients: list[Any] = field(default_factory=list)

    def openai(self, **kwargs: Any) -> openai.OpenAI:
        kwargs.setdefault("api_key", self.key)
        client = openai.OpenAI(base_url=f"{self.url}/v1", max_retries=0, **kwargs)
        self.clients.append(client)
        return client

    def anthropic(self, **kwargs: Any) -> anthropic.Anthropic:
        kwargs.setdefault("api_key", self.key)
        client = anthropic.Anthropic(base_url=self.url, max_retries=0, **kwargs)
        self.clients.append(client)
        return client

    def http(self) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=30)
        self.clients.append(client)
        return client

    def close_clients(self) -> None:
        while self.clients:
            self.clients.pop().close()

    def audit(self, request_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The request's audit row.  The row is queued in the request's ``finally``, which can run just
        after the client has its answer, so wait for it to be queued and written."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.app.runtime.audit.flush(timeout=timeout)
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(audit_records).where(
                        audit_records.c.request_id == request_id, audit_records.c.phase != "start"
                    )
                )
                found = [dict(r) for r in rows.mappings()]
            if found or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert len(found) == 1, f"expected one audit record for {request_id}, found {len(found)}"
        return found[0]

    def audit_rows(self) -> list[dict[str, Any]]:
        assert self.app.runtime.audit.flush(timeout=10)
        with self.engine.connect() as conn:
            return [
                dict(r)
                for r in conn.execute(
                    select(audit_records).where(audit_records.c.phase != "start").order_by(audit_records.c.id)
                ).mappings()
            ]


@pytest.fixture(scope="session")
def fakes() -> Iterator[Fakes]:
    fake_openai = FakeOpenAI(api_key=OPENAI_KEY)
    fake_anthropic = FakeAnthropic(api_key=ANTHROPIC_KEY)
    fake_local = FakeOpenAI(api_key=LOCAL_KEY, models=[LOCAL_MODEL])
    with (
        ThreadedServer(fake_openai) as openai_url,
        ThreadedServer(fake_anthropic) as anthropic_url,
        ThreadedServer(fake_local) as local_url,
    ):
        yield Fakes(fake_openai, fake_anthropic, openai_url, anthropic_url, fake_local, local_url)


def gateway_config(fakes: Fakes, database_url: str, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "database_url": database_url,
        "policies": [DEFAULT_POLICY],
        "destinations": {
            "openai": {
                "type": "openai",
                "base_url": f"{fakes.openai_url}/v1",
                "api_key_env": "FAKE_OPENAI_KEY",
                "jurisdiction": "US",
                "models": ["gpt-*", "text-embedding-*"],
            },
            "anthropic": {
                "type": "anthropic",
                "base_url": fakes.anthropic_url,
                "api_key_env": "FAKE_ANTHROPIC_KEY",
                "jurisdiction": "US",
                "models": ["claude-*"],
            },
            "nokey": {
                "type": "openai",
                "base_url": f"{fakes.openai_url}/v1",
                "api_key_env": "UNSET_PROVIDER_KEY",
                "jurisdiction": "EU",
                "models": ["nokey-*"],
            },
            "down": {
                "type": "openai",
                "base_url": "http://127.0.0.1:9",
                "api_key_env": "FAKE_OPENAI_KEY",
                "jurisdiction": "US",
                "models": ["down-*"],
            },
            "local": {
                "type": "local",
                "base_url": f"{fakes.local_url}/v1",
                "api_key_env": "FAKE_LOCAL_KEY",
                "jurisdiction": "LOCAL",
                "model": LOCAL_MODEL,
                # Probed once at start; a periodic probe would show up among what tests count.
                "probe_interval": 3600,
            },
        },
    }
    for key, value in overrides.items():
        config[key] = value
    return config


def start_gateway(
    fakes: Fakes, database_url: str, environ: dict[str, str] | None = None, **overrides: Any
) -> Gateway:
    settings = settings_from_mapping(
        gateway_config(fakes, database_url, **overrides),
        source="<test>",
        environ={**PROVIDER_ENV, **(environ or {})},
    )
    engine = create_db_engine(database_url)
    migrate(engine)
    key = create_key(engine, user="alice", team="research", role="user").key
    app = create_app(settings)
    # The protocol `gateway serve` runs: client deadlines and header limits included.
    protocol = GuardedProtocol.configured(settings.server, app.client_cut)
    server = ThreadedServer(app, lifespan="on", http=protocol, proxy_headers=False)
    url = server.start()
    return Gateway(url, key, app, engine, fakes, server)


@pytest.fixture(scope="module")
def gateway(fakes: Fakes, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    db = tmp_path_factory.mktemp("gw") / "gateway.db"
    gw = start_gateway(fakes, f"sqlite:///{db}", upstream={"read_timeout": 2.0, "total_timeout": 4.0})
    yield gw
    gw.close_clients()
    gw.server.stop()
    gw.engine.dispose()


@pytest.fixture(autouse=True)
def _reset_fakes(fakes: Fakes, request: pytest.FixtureRequest) -> Iterator[None]:
    fakes.reset()
    yield
    if "gateway" in request.fixturenames:
        request.getfixturevalue("gateway").close_clients()


@pytest.fixture
def fresh_gateway(fakes: Fakes, tmp_path: Path) -> Iterator[Gateway]:
    """A gateway of the test's own (its own database and throttling state), for tests that change
    either in ways the module's shared gateway must not see."""
    gw = start_gateway(fakes, f"sqlite:///{tmp_path / 'gateway.db'}")
    yield gw
    gw.close_clients()
    gw.server.stop()
    gw.engine.dispose()
