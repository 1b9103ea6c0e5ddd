"""The pinned spaCy model: recorded hashes, verification before loading, user models, no downloads."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.scan import model_files
from gateway.scan.model_files import (
    PINNED_PACKAGE,
    ModelError,
    ModelIntegrityError,
    hash_directory,
    load_nlp,
    locate_package,
    read_hashes_file,
    recorded_hashes,
    verify_directory,
)


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    """A copy of the installed pinned package, to tamper with."""
    target = tmp_path / "model"
    shutil.copytree(locate_package(PINNED_PACKAGE), target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_recorded_hashes_cover_every_installed_file() -> None:
    record = recorded_hashes()
    assert record["package"] == PINNED_PACKAGE
    assert record["version"] == "3.8.0"
    root = locate_package(PINNED_PACKAGE)
    assert set(record["files"]) == set(hash_directory(root))
    verify_directory(root, record["files"])  # raises on any difference


def test_pinned_model_loads_trimmed_to_the_ner() -> None:
    nlp = load_nlp()
    assert nlp.pipe_names == ["ner"]
    doc = nlp("Angela Merkel met Emmanuel Macron in Paris.")
    assert {ent.label_ for ent in doc.ents} >= {"PERSON", "GPE"}


def test_locating_the_package_does_not_import_it() -> None:
    import sys

    sys.modules.pop(PINNED_PACKAGE, None)
    locate_package(PINNED_PACKAGE)
    load_nlp()
    assert PINNED_PACKAGE not in sys.modules  # its __init__.py is hashed, never executed


def test_untampered_copy_loads_from_a_path_with_hashes(model_copy: Path) -> None:
    nlp = load_nlp(path=model_copy, expected_hashes=recorded_hashes()["files"])
    assert nlp.pipe_names == ["ner"]


def test_recorded_layout_is_accepted_as_expected_hashes(model_copy: Path) -> None:
    # build.py passes the parsed JSON of scan.spacy_model_hashes: flat or our recorded layout.
    assert load_nlp(path=model_copy, expected_hashes=recorded_hashes()).pipe_names == ["ner"]


def test_changed_file_is_refused(model_copy: Path) -> None:
    weights = next(model_copy.glob("*/ner/model"))
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the NER weights
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match=r"hash mismatch: .*ner/model"):
        load_nlp(path=model_copy, expected_hashes=recorded_hashes()["files"])


def test_tampered_loader_code_is_refused(model_copy: Path) -> None:
    init = model_copy / "__init__.py"
    init.write_text(init.read_text() + "\nimport os  # injected\n")
    with pytest.raises(ModelIntegrityError, match=r"__init__\.py"):
        load_nlp(path=model_copy, expected_hashes=recorded_hashes()["files"])


def test_missing_file_is_refused(model_copy: Path) -> None:
    next(model_copy.glob("*/config.cfg")).unlink()
    with pytest.raises(ModelIntegrityError, match=r"missing: .*config\.cfg"):
        verify_directory(model_copy, recorded_hashes()["files"])


def test_unexpected_file_is_refused(model_copy: Path) -> None:
    (model_copy / "extra.py").write_text("print('hello')\n")
    with pytest.raises(ModelIntegrityError, match=r"unexpected: extra\.py"):
        verify_directory(model_copy, recorded_hashes()["files"])


def test_empty_expectation_is_refused(model_copy: Path) -> None:
    with pytest.raises(ModelIntegrityError, match="no expected hashes"):
        verify_directory(model_copy, {})


def test_user_model_without_hashes_loads_unverified(model_copy: Path) -> None:
    # A user's own model directory (here: a copy) is loaded as given when no hashes are configured.
    assert load_nlp(path=model_copy / f"{PINNED_PACKAGE}-3.8.0").pipe_names == ["ner"]


def test_hashes_file_round_trip(model_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert model_files.main(["--hash-dir", str(model_copy)]) == 0
    hashes_path = tmp_path / "hashes.json"
    hashes_path.write_text(capsys.readouterr().out)
    assert read_hashes_file(hashes_path) == recorded_hashes()["files"]
    assert read_hashes_file(model_files.HASHES_FILE) == recorded_hashes()["files"]


def test_missing_model_is_an_error_not_a_download(monkeypatch: pytest.MonkeyPatch) -> None:
    import spacy.cli

    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(spacy.cli, "download", no_download)
    with pytest.raises(ModelError, match="not installed"):
        load_nlp(model="en_core_web_no_such_model")
    with pytest.raises(ModelError, match="does not exist"):
        load_nlp(path="/nonexistent/model/dir")


def test_verify_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert model_files.main(["--verify"]) == 0
    assert "all files match" in capsys.readouterr().out
