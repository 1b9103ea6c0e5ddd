from __future__ import annotations

import gc
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.scan.build import build_engine
from gateway.scan.lists import ListsError, parse_terms
from gateway.scan.recognizers.fingerprints import FingerprintDetector
from gateway.settings import ScanSettings


def test_terms_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "terms.yaml"
    path.write_text("lists:\n  codenames: [Project Nightingale]\npatterns:\n  employee_id: 'EMP-\\d{6}'\n")
    hits = parse_terms(str(path), path.read_bytes()).detect("ping PROJECT_NIGHTINGALE about EMP-123456")
    assert sorted(h.entity for h in hits) == ["PATTERN:employee_id", "TERM:codenames"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lists:\n  x: [a\n", "terms.yaml:3"),
        ("colours: [red]\n", "'lists' and/or 'patterns' only"),
        ("lists:\n  x: a\n", "each list must be a list of strings"),
        ("patterns:\n  bad: '(unclosed'\n", "pattern 'bad': invalid regular expression"),
    ],
)
def test_bad_terms_file_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "terms.yaml"
    path.write_text(text)
    with pytest.raises(ListsError, match=message):
        parse_terms(str(path), path.read_bytes())


def test_fingerprints_build_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    words = [f"word{i % 97}x{i % 13}" for i in range(400)]
    (docs / "merger-plan.md").write_text(" ".join(words))
    out = tmp_path / "index.json"
    assert main(["fingerprints", "build", str(docs), "--out", str(out)]) == 0
    assert "indexed 1 documents" in capsys.readouterr().out
    assert " ".join(words[:5]) not in out.read_text()
    hits = FingerprintDetector.from_file(out).detect("please summarise: " + " ".join(words[100:180]))
    assert [h.entity for h in hits] == ["FINGERPRINT:merger-plan"]


def test_built_engine_is_frozen_out_of_the_garbage_collector() -> None:
    gc.unfreeze()  # whatever an earlier test froze; counted from zero here
    try:
        build_engine(ScanSettings())
        # The model alone is ~100,000 container objects; a full collection must not walk them.
        assert gc.get_freeze_count() > 100_000
    finally:
        gc.unfreeze()
