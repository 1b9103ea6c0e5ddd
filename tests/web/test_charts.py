from __future__ import annotations

from datetime import UTC, datetime

from gateway.audit.query import Ranked, TrafficPoint
from gateway.web.charts import HEIGHT, bucket_range, horizontal, stacked_traffic


def test_stacked_bars_add_up_per_bucket() -> None:
    chart = stacked_traffic(
        [
            TrafficPoint("2026-03-01", "openai", "US", 3),
            TrafficPoint("2026-03-01", "local", "LOCAL", 1),
            TrafficPoint("2026-03-02", "openai", "US", 4),
        ]
    )
    assert len(chart.bars) == 3
    day1 = [b for b in chart.bars if b.title.startswith("2026-03-01")]
    day2 = [b for b in chart.bars if b.title.startswith("2026-03-02")]
    # Same total (4) on both days: the stacks are equally tall and share a baseline.
    assert abs(sum(b.height for b in day1) - sum(b.height for b in day2)) < 0.05
    assert abs(max(b.y + b.height for b in day1) - max(b.y + b.height for b in day2)) < 0.05
    assert all(b.y >= 0 and b.y + b.height <= HEIGHT for b in chart.bars)
    assert [item.name for item in chart.legend] == ["local (LOCAL)", "openai (US)"]
    assert len({item.fill for item in chart.legend}) == 2
    assert [label.text for label in chart.x_labels] == ["2026-03-01", "2026-03-02"]


def test_many_buckets_get_thinned_labels() -> None:
    points = [TrafficPoint(f"2026-03-{d:02d}", "openai", "US", d) for d in range(1, 31)]
    chart = stacked_traffic(points)
    assert len(chart.bars) == 30
    assert len(chart.x_labels) <= 12


def test_no_data_is_an_empty_chart() -> None:
    assert stacked_traffic([]).empty
    assert horizontal([]).empty


def test_horizontal_bars_are_proportional() -> None:
    chart = horizontal([Ranked("bob", 4), Ranked("alice", 2), Ranked("carol", 0)])
    widths = [b.width for b in chart.bars]
    assert abs(widths[0] - 2 * widths[1]) < 0.05
    assert widths[2] == 1.0  # a zero still shows as a sliver
    assert [label.text for label in chart.y_labels] == ["bob", "alice", "carol"]


def test_empty_buckets_keep_their_place_on_the_axis() -> None:
    axis = bucket_range(datetime(2026, 3, 1, 15, tzinfo=UTC), datetime(2026, 3, 4, 2, tzinfo=UTC), "day")
    assert axis == ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
    chart = stacked_traffic(
        [TrafficPoint("2026-03-01", "openai", "US", 1), TrafficPoint("2026-03-04", "openai", "US", 1)], axis
    )
    assert [label.text for label in chart.x_labels] == axis
    first, last = sorted(b.x for b in chart.bars)
    assert last - first > 2.5 * (chart.width - 60) / 4  # three slots apart, not one


def test_hour_buckets_and_the_cap() -> None:
    hours = bucket_range(
        datetime(2026, 3, 1, 9, 30, tzinfo=UTC), datetime(2026, 3, 1, 12, tzinfo=UTC), "hour"
    )
    assert hours == ["2026-03-01 09", "2026-03-01 10", "2026-03-01 11"]
    assert bucket_range(datetime(2000, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), "day") == []
