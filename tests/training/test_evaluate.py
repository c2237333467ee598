"""The evaluation engine the gate calls: metrics, slices, paired block-bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.baselines import LogisticRegression, light_rule
from training.evaluate import evaluate, metrics, paired_bootstrap, roc_auc, roc_curve, slices
from training.readings import uci


def test_metrics_on_a_known_confusion() -> None:
    result = metrics([1, 1, 0, 0, 1], [0.9, 0.2, 0.1, 0.7, 0.6])
    assert result.confusion == {"tn": 1, "fp": 1, "fn": 1, "tp": 2}
    assert result.accuracy == pytest.approx(0.6) and result.precision == pytest.approx(2 / 3)
    assert result.recall == pytest.approx(2 / 3) and result.f1 == pytest.approx(2 / 3)


def test_auc_by_ranks_and_undefined_for_one_class() -> None:
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert roc_auc([0, 0, 0], [0.1, 0.2, 0.3]) is None
    fpr, tpr = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)


def test_slices_split_day_night_and_weekday_weekend() -> None:
    stamps = pd.to_datetime(["2015-02-07 03:00", "2015-02-07 12:00", "2015-02-09 12:00", "2015-02-09 22:00"])
    masks = slices(pd.DataFrame({"date": stamps}))
    assert masks["day"].tolist() == [False, True, True, False]
    assert masks["weekend"].tolist() == [True, True, False, False]
    assert (masks["day"] ^ masks["night"]).all() and (masks["weekday"] ^ masks["weekend"]).all()


def test_bootstrap_interval_contains_the_difference_and_is_reproducible() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 3000)
    better = np.where(rng.random(3000) < 0.95, labels, 1 - labels).astype(float)
    worse = np.where(rng.random(3000) < 0.85, labels, 1 - labels).astype(float)
    difference = paired_bootstrap(labels, better, worse, names=("better", "worse"))
    assert difference.low < difference.delta < difference.high
    assert difference.low > 0  # ten points apart on 3,000 rows: clearly better
    assert paired_bootstrap(labels, better, worse, names=("better", "worse")) == difference


def test_blocks_widen_the_interval_for_correlated_minutes() -> None:
    test1 = uci("test1")
    labels = test1["Occupancy"].to_numpy()
    rule = light_rule(test1)
    always_off = np.zeros(len(labels))
    single = paired_bootstrap(labels, rule, always_off, block=1)
    hourly = paired_bootstrap(labels, rule, always_off, block=60)
    assert (hourly.high - hourly.low) > 2 * (single.high - single.low)


def test_evaluation_of_the_baselines_on_test_1_is_reproducible() -> None:
    training, test1 = uci("training"), uci("test1")
    models = {"light_rule": light_rule(test1), "logreg": LogisticRegression.fit(training).predict_proba(test1)}
    report = evaluate("test1", test1, models, compare=(("logreg", "light_rule"),))
    rule = report.score_of("light_rule")
    assert round(rule.overall.accuracy, 4) == 0.9786 and round(rule.overall.f1, 4) == 0.9714
    assert set(rule.by_slice) == {"day", "night", "weekday"}  # test 1 is Monday to Wednesday
    assert rule.by_slice["night"].accuracy == 1.0
    assert report.to_dict() == evaluate("test1", test1, models, compare=(("logreg", "light_rule"),)).to_dict()
    assert report.table()[1][0] == "light_rule"
