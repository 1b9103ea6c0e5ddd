"""Runs of capitalised tokens (``recognizers/pii_person_runs.py``), from literal texts."""

from __future__ import annotations

import pytest
import spacy

from gateway.scan.recognizers.pii_person_runs import runs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A title is noted and left out; hyphens and particles stay inside; a unit word ends a run.
        (
            "Yesterday Dr. Anne-Lotte van der Berg met Barbara Yudina Apt. 675 in town",
            [
                ("Yesterday", False),
                ("Anne-Lotte van der Berg", True),
                ("Barbara Yudina", False),
                ("Apt", False),
            ],
        ),
        # Initials stay inside; a line break ends a run.
        ("call Vanessa P. Hertzog\nJohn Smith", [("Vanessa P. Hertzog", False), ("John Smith", False)]),
        # A doubled space is a space token inside the run.
        ("Lara  Fiorentino and ABC", [("Lara  Fiorentino", False), ("ABC", False)]),
        ("nothing capitalised here, 42 times", []),
    ],
)
def test_runs(text: str, expected: list[tuple[str, bool]]) -> None:
    doc = spacy.blank("en")(text)
    assert [(doc[r.start : r.end].text, r.title) for r in runs(doc)] == expected
