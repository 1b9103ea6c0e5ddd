"""Where the PII detector reads a normalised view: literal views in, regions out."""

from __future__ import annotations

from gateway.scan.findings import ViewText
from gateway.scan.pii_focus import ACCENT_CONTEXT, FOCUS_CONTEXT, PATTERN_AFTER, PATTERN_BEFORE, Near, reads


def test_reads_follow_what_each_change_can_do() -> None:
    filler = " ." * 500
    text = filler + "Podebrad" + filler + "rua 12" + filler + "4111111111111111" + filler + "zz" + filler
    name, rua, card, deep = (text.index(s) for s in ("Podebrad", "rua", "4111", "zz"))
    view = ViewText(text, [(deep, deep + 1)], accents=[(name + 5, name + 6), (rua + 1, rua + 2)],
                    shallow=[(card + 4, card + 4)])  # fmt: skip
    found = sorted((start, end, patterns_only) for start, end, patterns_only, _, _ in reads(view))
    assert found == [
        (name + 5 - ACCENT_CONTEXT, name + 6 + ACCENT_CONTEXT, False),  # a capitalised word: words too
        (rua + 1 - PATTERN_BEFORE, rua + 2 + PATTERN_AFTER, True),  # a lower-case word: patterns only
        (card + 4 - PATTERN_BEFORE, card + 4 + PATTERN_AFTER, True),  # separators: patterns only
        (deep - FOCUS_CONTEXT, deep + 1 + FOCUS_CONTEXT, False),
    ]


def test_near_accepts_spans_within_the_margin() -> None:
    near = Near([(100, 101), (500, 502)], 10)
    assert near(90, 95) and near(101, 111) and near(480, 490)
    assert not near(0, 89) and not near(112, 300) and not near(513, 600)
