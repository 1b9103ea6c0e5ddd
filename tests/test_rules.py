"""The rule set: policy files, term lists and fingerprints loaded, versioned and replaced as one."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from gateway.policy.load import PolicyError, load_policy
from gateway.policy.store import PolicyEvent, PolicyStore
from gateway.rules import Rules, load_rules, rule_files
from gateway.scan.engine import ScanEngine
from gateway.scan.lists import ListsError, parse_lists, parse_terms
from gateway.scan.recognizers.fingerprints import FingerprintIndex
from gateway.settings import ScanSettings

POLICY = (
    "policy: p\nrules:\n  - id: terms-block\n    when: {data_classes: [company_terms]}\n    action: block\n"
)
TERMS = "lists:\n  projects:\n    - Bluebird\n"


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    policy, terms = tmp_path / "p.yaml", tmp_path / "terms.yaml"
    policy.write_text(POLICY)
    terms.write_text(TERMS)
    return policy, terms


def _load(files: tuple[Path, Path]) -> Rules:
    return load_rules([str(files[0])], ScanSettings(terms=str(files[1])))


def test_the_version_covers_the_term_lists(files: tuple[Path, Path]) -> None:
    before = _load(files)
    assert before.version != load_policy([str(files[0])]).version
    assert before.policy.covers == (str(files[1]),)
    files[1].write_text(TERMS + "    - Heron\n")
    after = _load(files)
    assert after.version != before.version and after.lists.salt != before.lists.salt
    assert [h.entity for h in after.lists.detectors[0].detect("about Heron")] == ["TERM:projects"]
    assert rule_files([str(files[0])], ScanSettings(terms=str(files[1]))) == (str(files[0]), str(files[1]))


@pytest.mark.parametrize(
    ("terms", "where"),
    [
        ("lists:\n  projects:\n    - Bluebird\n  bad: nope\n", "terms.yaml:4: list 'bad'"),
        ("lists:\n  projects:\n    - '---'\n", "terms.yaml:2: list 'projects'"),
        ("patterns:\n  ok: 'EMP-\\d+'\n  broken: '(unclosed'\n", "terms.yaml:3: pattern 'broken'"),
        ("lists: [a, b]\n", "terms.yaml:1: lists"),
        ("lists:\n  p: [a\n", "terms.yaml:3:"),
        ("other: 1\n", "terms.yaml:1: expected a mapping"),
    ],
)
def test_a_bad_term_list_is_refused_with_file_and_line(
    files: tuple[Path, Path], terms: str, where: str
) -> None:
    files[1].write_text(terms)
    with pytest.raises(PolicyError) as info:
        _load(files)
    assert any(where in problem for problem in info.value.problems), info.value.problems


def test_every_problem_is_reported_policy_and_lists_together(files: tuple[Path, Path]) -> None:
    files[0].write_text("policy: p\nrules: nope\n")
    files[1].write_text("lists: [a]\n")
    with pytest.raises(PolicyError) as info:
        _load(files)
    assert [p.split(":")[0].rsplit("/", 1)[-1] for p in info.value.problems] == ["p.yaml", "terms.yaml"]


def test_a_missing_list_file_is_a_problem(files: tuple[Path, Path]) -> None:
    files[1].unlink()
    with pytest.raises(PolicyError, match=r"cannot read scan\.terms"):
        _load(files)


def test_a_bad_fingerprint_index_is_refused(tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text(" ".join(f"word{i}" for i in range(200)))
    FingerprintIndex.build([str(doc)]).save(tmp_path / "fp.json")
    lists = parse_lists(None, ("fp.json", (tmp_path / "fp.json").read_bytes()))
    assert len(lists.detectors) == 1 and lists.salt
    with pytest.raises(ListsError, match=r"fp\.json: not a readable fingerprint index"):
        parse_lists(None, ("fp.json", b"{not json"))


def test_the_store_reloads_a_list_edit_and_keeps_the_last_good_set(files: tuple[Path, Path]) -> None:
    events: list[PolicyEvent] = []
    settings = ScanSettings(terms=str(files[1]))
    store = PolicyStore(
        rule_files([str(files[0])], settings),
        functools.partial(load_rules, [str(files[0])], settings),
        on_event=events.append,
    )
    first = store.current
    files[1].write_text(TERMS + "    - Heron\n")
    event = store.reload()
    assert event is not None and event.kind == "policy.reloaded" and event.previous == first.version
    good = store.current
    assert good.version == event.version != first.version
    files[1].write_text("lists:\n  projects:\n    - Heron\n  broken: 3\n")
    rejected = store.reload()
    assert rejected is not None and rejected.kind == "policy.rejected"
    assert store.current is good
    assert any("terms.yaml:4" in p for p in rejected.problems)
    store.close()


class _Counting:
    """A detector that finds ``word`` and counts how often it was asked."""

    def __init__(self, word: str) -> None:
        self.name = f"count-{word}"
        self.word = word
        self.calls = 0

    def detect(self, text: str) -> list[object]:
        from gateway.scan.findings import Hit

        self.calls += 1
        i = text.find(self.word)
        return [] if i < 0 else [Hit("term", "TERM:x", i, i + len(self.word), 0.9, self.name)]


def test_no_scan_result_cached_under_other_lists_is_used() -> None:
    from gateway.scan.lists import OrgLists

    base = _Counting("zzz")
    engine = ScanEngine([base])
    text = "status of Heron please"
    assert engine.scan_text(text) == []
    calls = base.calls
    assert engine.scan_text(text) == [] and base.calls == calls  # cached
    heron = _Counting("Heron")
    with_heron = engine.with_lists(OrgLists((heron,), b"v2"))
    assert [loc.hit.entity for loc in with_heron.scan_text(text)] == ["TERM:x"]
    assert base.calls > calls  # read afresh, not the entry cached without the list
    # And the other way: after the list is gone again, its finding is not served from the cache.
    assert engine.with_lists(OrgLists((_Counting("nothing"),), b"v3")).scan_text(text) == []
    assert engine.scan_text(text) == []


def test_terms_parse_from_bytes_as_the_files_say() -> None:
    detector = parse_terms("t.yaml", b"lists:\n  p: [Bluebird]\npatterns:\n  emp: 'EMP-\\d{6}'\n")
    found = {h.entity for h in detector.detect("Bluebird and EMP-123456")}
    assert found == {"TERM:p", "PATTERN:emp"}
    with pytest.raises(ListsError, match=r"t\.yaml:1: not UTF-8"):
        parse_terms("t.yaml", b"\xff\xfe")
