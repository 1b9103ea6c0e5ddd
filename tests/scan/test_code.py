from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from gateway.scan.findings import Hit
from gateway.scan.recognizers.code import SourceCodeDetector

CORPUS = Path(__file__).resolve().parents[2] / "bench" / "data" / "code"


@pytest.fixture(scope="module")
def detector() -> SourceCodeDetector:
    return SourceCodeDetector()


def load(name: str) -> list[dict[str, Any]]:
    with (CORPUS / name).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def covered(hits: list[Hit], start: int, end: int, text: str) -> float:
    """Share of the non-space characters of text[start:end] inside some hit."""
    inside = {i for h in hits for i in range(h.start, h.end)}
    wanted = [i for i in range(start, end) if not text[i].isspace()]
    return sum(1 for i in wanted if i in inside) / len(wanted)


# -- corpus ---------------------------------------------------------------------------------------
def test_corpus_size_and_languages() -> None:
    positives, negatives = load("positives.jsonl"), load("negatives.jsonl")
    assert len(positives) >= 120
    assert len(negatives) >= 200
    languages = {lang for r in positives for lang in r["language"].split("+")}
    assert len(languages) >= 12
    assert {r["form"] for r in positives} == {"fenced-tag", "fenced", "unfenced"}


def test_corpus_recall(detector: SourceCodeDetector) -> None:
    spans = found = 0
    missed = []
    for record in load("positives.jsonl"):
        hits = detector.detect(record["text"])
        for start, end in record["spans"]:
            spans += 1
            if covered(hits, start, end, record["text"]) >= 0.9:
                found += 1
            else:
                missed.append(record["id"])
    assert found / spans >= 0.95, missed


def test_corpus_false_positive_rate(detector: SourceCodeDetector) -> None:
    negatives = load("negatives.jsonl")
    flagged = [r["id"] for r in negatives if detector.detect(r["text"])]
    assert len(flagged) / len(negatives) <= 0.03, flagged


def test_corpus_hits_stay_on_the_code(detector: SourceCodeDetector) -> None:
    outside = total = 0
    for record in load("positives.jsonl"):
        gold = {i for start, end in record["spans"] for i in range(start, end)}
        for hit in detector.detect(record["text"]):
            chars = set(range(hit.start, hit.end))
            total += len(chars)
            outside += len(chars - gold)
    assert outside / total <= 0.02


# -- literal cases --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "I need to import the data and return it by Friday.",
        "def leppard",
        "Use `foo.bar()` to load it, then call `baz()`.",
        "See https://example.com/a/b?x=1&y=2#frag for details.",
        "For each item in the list, check the stock; then update the sheet (by noon).",
        "x + y = 10\nx - y = 2\nso x = 6 and y = 4",
        "Shopping list:\n- eggs\n- milk\n- bread",
        "Subject: Re: plan\nFrom: Ana\n\nHi all,\nsee attached.\nBest,\nAna",
        "| a | b |\n|---|---|\n| 1 | 2 |",
        '{\n  "name": "Alice",\n  "age": 34,\n  "tags": ["vip"]\n}',
        "",
    ],
)
def test_prose_and_data_are_not_code(detector: SourceCodeDetector, text: str) -> None:
    assert detector.detect(text) == []


def test_stack_trace_is_not_code(detector: SourceCodeDetector) -> None:
    trace = (
        "Traceback (most recent call last):\n"
        '  File "app.py", line 12, in <module>\n'
        "    result = compute(x)\n"
        '  File "lib.py", line 4, in compute\n'
        "    return 1 / x\n"
        "ZeroDivisionError: division by zero"
    )
    assert detector.detect(trace) == []


def test_single_command_scores_low(detector: SourceCodeDetector) -> None:
    text = "To install it, run:\n\npip install acme-sdk\n\nThen restart."
    assert detector.detect(text) == []
    low = SourceCodeDetector(min_score=0.0).detect(text)
    assert len(low) == 1
    assert 0 < low[0].score < 0.5
    assert text[low[0].start : low[0].end] == "pip install acme-sdk"


def test_fenced_block_with_language_tag(detector: SourceCodeDetector) -> None:
    code = "const x = 1;\nmodule.exports = x;"
    text = f"Here:\n```js\n{code}\n```\nThanks"
    [hit] = detector.detect(text)
    assert (hit.kind, hit.entity, hit.detector) == ("code", "SOURCE_CODE", "code")
    assert text[hit.start : hit.end] == code
    assert hit.score == 0.95


def test_fenced_block_judged_by_content_when_tag_is_data(detector: SourceCodeDetector) -> None:
    data = '```json\n{\n  "order": 1,\n  "items": [1, 2]\n}\n```'
    assert detector.detect(data) == []
    config = '```json\n{\n  "scripts": {\n    "build": "vite build"\n  },\n  "dependencies": {}\n}\n```'
    assert len(detector.detect(config)) == 1


def test_unclosed_fence_runs_to_the_end(detector: SourceCodeDetector) -> None:
    text = "```python\ndef f(x):\n    return x * 2\n"
    [hit] = detector.detect(text)
    assert text[hit.start : hit.end] == "def f(x):\n    return x * 2"


def test_unfenced_python_span_is_line_aligned(detector: SourceCodeDetector) -> None:
    code = (
        "def add(a, b):\n"
        '    """Add two numbers and return the result to the caller."""\n'
        "    return a + b\n"
        "\n"
        "print(add(1, 2))"
    )
    text = f"Hey, can you check this?\n\n{code}\n\nThanks!"
    [hit] = detector.detect(text)
    assert text[hit.start : hit.end] == code
    assert hit.score >= 0.5


def test_two_blocks_two_hits(detector: SourceCodeDetector) -> None:
    first = "SELECT id, name\nFROM users\nWHERE active = 1;"
    second = "for (int i = 0; i < n; i++) {\n    sum += a[i];\n}"
    text = f"First:\n\n{first}\n\nand then in the service, which is a different story entirely:\n\n{second}"
    hits = detector.detect(text)
    assert [text[h.start : h.end] for h in hits] == [first, second]


def test_crlf_offsets(detector: SourceCodeDetector) -> None:
    code = "if (x > 0) {\r\n    y = f(x);\r\n}"
    text = "Look:\r\n" + code + "\r\nok?"
    [hit] = detector.detect(text)
    assert text[hit.start : hit.end] == code


@pytest.mark.parametrize(
    "code",
    [
        'package main\n\nfunc main() {\n\tfmt.Println("hi")\n}',
        'fn main() {\n    let v = vec![1, 2];\n    println!("{:?}", v);\n}',
        "users.each do |u|\n  puts u.name\nend",
        "$files = Get-ChildItem -Path C:\\Temp\nforeach ($f in $files) {\n    Remove-Item $f\n}",
        '#!/bin/sh\nset -e\nfor f in *.log; do\n  gzip "$f"\ndone',
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n    - port: 80",
        ".card {\n  display: flex;\n  padding: 8px;\n}",
        '<form action="/login">\n  <input name="user">\n  <button>Go</button>\n</form>',
    ],
)
def test_unfenced_languages(detector: SourceCodeDetector, code: str) -> None:
    text = f"Can you look at this?\n\n{code}\n\nThanks."
    hits = detector.detect(text)
    assert len(hits) == 1
    assert covered(hits, text.index(code), text.index(code) + len(code), text) == 1.0


def test_pathological_input_is_bounded(detector: SourceCodeDetector) -> None:
    # Shapes that would make a careless regex backtrack: long lines that almost match.
    texts = [
        "\n".join(["select " + "a, " * 130 + "b"] * 100),
        "\n".join(["if " + "a " * 190 + "=="] * 100),
        "\n".join(["with " + "a " * 190 + "as"] * 100),
        "x" * 200_000,
        "```\n" * 5_000,
    ]
    started = time.perf_counter()
    for text in texts:
        detector.detect(text)
    assert time.perf_counter() - started < 5.0  # ~0.3 s here; a quadratic blow-up takes minutes


DOCSTRING_METHOD = '''Review this method (taken out of its class):
    def raw_input(self, prompt=""):
        """Write a prompt and read a line.

        The returned line does not include the trailing newline.
        When the user enters the EOF key sequence, EOFError is raised.
        """
        return input(prompt)'''


@pytest.mark.parametrize(
    "text", [DOCSTRING_METHOD, DOCSTRING_METHOD.replace("        return input(prompt)", "")]
)
def test_a_function_that_is_mostly_docstring_is_code(detector: SourceCodeDetector, text: str) -> None:
    hits = detector.detect(text)
    assert hits and hits[0].score >= 0.5
    covered = text[hits[0].start : hits[0].end]
    assert covered.lstrip().startswith("def raw_input") and "EOFError is raised." in covered


def test_a_colon_line_over_indented_prose_is_not_code(detector: SourceCodeDetector) -> None:
    text = "Notes from the meeting:\n    We agreed to ship on Friday.\n    Anna will write the summary."
    assert detector.detect(text) == []
