"""The runtime's sweeper deletes expired vault entries (loads ignore them already; this frees space)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from gateway.runtime import Runtime
from gateway.settings import settings_from_mapping
from gateway.transform.vault import vault_entries


def test_expired_entries_are_swept(tmp_path: Path) -> None:
    settings = settings_from_mapping(
        {
            "database_url": f"sqlite:///{tmp_path / 'g.db'}",
            "scan": {"enabled": False},
            "policy_watch_interval": 0,
            "vault": {"ttl_seconds": 0.3},
        },
        source="<test>",
        environ={"GATEWAY_SECRET": "hex:" + "11" * 32},
    )

    async def scenario() -> int:
        rt = await Runtime.start(settings)
        try:
            await rt.vault.save("conv-sweep", {"<PERSON_00000001>": "Maria Garcia"})
            assert await rt.vault.load("conv-sweep") == {"<PERSON_00000001>": "Maria Garcia"}
            await asyncio.sleep(1.6)  # the sweep runs every max(ttl / 4, 1 s)
            with rt.engine.connect() as conn:
                return int(conn.execute(select(func.count()).select_from(vault_entries)).scalar_one())
        finally:
            await rt.close()

    assert asyncio.run(scenario()) == 0
