"""``bench/soak.py`` end to end, for a few seconds: the script runs, nothing is lost between the audit
trail and the provider, the trail verifies.  (The 30-minute figures are in bench/RESULTS.md.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_short_soak_loses_nothing(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.soak",
            "--minutes",
            "0.15",
            "--clients",
            "2",
            "--sample",
            "1",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=240,
    )
    figures = json.loads(out.read_text())
    assert figures["requests_sent"] > 20
    assert figures["statuses"] == {"200": figures["requests_sent"]}
    assert figures["audit_end_records"] == figures["bodies_provider_received"] == figures["requests_sent"]
    assert figures["audit_verify_exit"] == 0
    assert figures["fds_at_end"] <= figures["fds_at_minute_5"] + 4
