"""Chart data for plotly.js: titles as objects (clearml 2.1.12 writes strings, which plotly.js >= 3 ignores) and
scalars downsampled with every bucket's minimum and maximum kept."""

from __future__ import annotations

import json
import math

from services.ui.plots import downsample, figure_of, normalize_titles, scalar_series


def test_every_string_title_becomes_a_text_object() -> None:
    figure = {"layout": {"title.text": "label balance", "xaxis": {"title": "time"}, "yaxis2": {"title.text": "CO2"},
                         "xaxis.title": "ignored"}, "data": [{"type": "heatmap", "colorbar": {"title": "count"}}]}  # fmt: skip
    normalize_titles(figure)
    layout = figure["layout"]
    assert layout["title"] == {"text": "label balance"} and "title.text" not in layout
    assert layout["xaxis"]["title"] == {"text": "ignored"}
    assert layout["yaxis2"]["title"] == {"text": "CO2"}
    assert figure["data"][0]["colorbar"]["title"] == {"text": "count"}


def test_a_title_given_both_ways_keeps_the_plain_title_and_an_object_stays_as_it_is() -> None:
    figure = normalize_titles(
        {"layout": {"title.text": "Tables", "title": "summary", "yaxis": {"title": {"text": "y"}}}}
    )
    assert figure["layout"]["title"] == {"text": "summary"} and figure["layout"]["yaxis"]["title"] == {"text": "y"}


def test_a_plot_event_that_does_not_parse_is_skipped() -> None:
    assert figure_of({"plot_str": "{not json"}) is None
    assert figure_of({"plot_str": json.dumps({"data": [], "layout": {"title": "t"}})})["layout"]["title"] == {
        "text": "t"
    }


def test_downsampling_keeps_spikes_ends_and_the_bound() -> None:
    xs = list(range(100_000))
    ys = [math.sin(x / 500) for x in xs]
    ys[31_337], ys[77_777] = 50.0, -50.0  # single-point spikes an average would flatten
    small_x, small_y = downsample(xs, ys, 2000)
    assert len(small_x) <= 2000 and small_x == sorted(small_x)
    assert max(small_y) == 50.0 and min(small_y) == -50.0
    assert (small_x[0], small_x[-1]) == (0, 99_999)
    assert downsample([1, 2], [3.0, 4.0], 2000) == ([1, 2], [3.0, 4.0])


def test_scalar_series_summarises_every_point_before_downsampling() -> None:
    histogram = {"loss": {"training": {"x": list(range(5000)), "y": [float(v) for v in range(5000)]}}}
    (metric,) = scalar_series(histogram, max_points=100)
    assert metric["metric"] == "loss" and len(metric["series"][0]["x"]) <= 100
    assert metric["summary"] == [{"variant": "training", "first": 0.0, "last": 4999.0, "min": 0.0, "max": 4999.0,
                                  "points": 5000}]  # fmt: skip
