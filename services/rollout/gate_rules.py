"""The gate's decision: evidence about a challenger in, a verdict naming the rule that decided out.

Pure functions over the evaluation engine's numbers (training/evaluate.py): no ClearML, no TensorFlow, no I/O, so
every rule is unit-tested on hand-made numbers. The rules, in the order that names the deciding one:

 1. training_data   the challenger saw at least `min_days` labeling sessions and `min_occupied` occupied rows
                    (after one day the network is a coin toss between seeds: 36 % or 98 % on the holdout);
 2. baseline        its holdout accuracy >= the Light rule's - `baseline_margin` (the rule is strong here);
 3. forward         on the newest labeling session(s), which its training run held out of fitting, the model
                    fitted without them scores >= the Light rule - `forward_margin`: the pinned holdout is early
                    February and never changes, so only this shows a model that does worse on the days that
                    follow (absent when the run had too few sessions to hold one out);
 4. champion        the lower bound of the paired block-bootstrap 95 % interval of (challenger - champion)
                    accuracy >= -`champion_margin`: "not detectably worse", so a tie passes but a likely loss
                    does not;
 5. slice:<name>    no slice (day/night, weekday/weekend) loses more than its margin against the champion.
Rules 4 and 5 need a champion; without one, rules 1 to 3 decide. Every rule is evaluated and reported;
the first failing one is the deciding rule.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from training.evaluate import Difference, ModelScore

from ..settings import GateSettings

NO_CHAMPION = "no_champion_baseline_rules"  # deciding rule of a pass with no champion yet
ALL_PASSED = "all_rules"


@dataclass(frozen=True)
class TrainingFacts:
    """How much data the challenger was trained on (from its model card)."""

    days: int  # labeling sessions; one session is one day by the data contract
    rows: int
    occupied: int


@dataclass(frozen=True)
class ForwardEvidence:
    """Scores on the newest session(s), which the challenger's training run kept out of fitting."""

    sessions: tuple[str, ...]
    challenger: ModelScore  # the network fitted without these sessions (the registered one, or its probe)
    baseline: ModelScore  # the Light rule on the same rows
    vs_baseline: Difference
    champion: ModelScore | None = None  # the champion, trained before these sessions were labeled
    vs_champion: Difference | None = None


@dataclass(frozen=True)
class Evidence:
    challenger: ModelScore
    baseline: ModelScore  # the Light rule on the same rows
    vs_baseline: Difference  # challenger - baseline
    training: TrainingFacts
    champion: ModelScore | None = None
    vs_champion: Difference | None = None  # challenger - champion, present iff champion is
    forward: ForwardEvidence | None = None
    no_forward: str = "the training run held no session out"  # why `forward` is None


@dataclass(frozen=True)
class RuleResult:
    rule: str
    passed: bool
    skipped: bool  # not applicable (no champion, slice absent from the holdout); counts as passed
    observed: float | None
    threshold: float | None
    detail: str


@dataclass(frozen=True)
class Verdict:
    passed: bool
    deciding_rule: str  # the first failing rule, or ALL_PASSED / NO_CHAMPION
    reason: str  # one sentence for logs and the receipt
    results: tuple[RuleResult, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _points(value: float) -> str:
    return f"{value * 100:+.2f} pt"


def training_data_rule(facts: TrainingFacts, settings: GateSettings) -> RuleResult:
    short = []
    if facts.days < settings.min_days:
        short.append(f"{facts.days} labeling session(s) < {settings.min_days}")
    if facts.occupied < settings.min_occupied:
        short.append(f"{facts.occupied} occupied rows < {settings.min_occupied}")
    detail = "; ".join(short) if short else f"{facts.days} sessions, {facts.occupied} occupied of {facts.rows} rows"
    return RuleResult("training_data", not short, False, float(facts.occupied), float(settings.min_occupied), detail)


def baseline_rule(evidence: Evidence, settings: GateSettings) -> RuleResult:
    challenger = evidence.challenger.overall.accuracy
    floor = evidence.baseline.overall.accuracy - settings.baseline_margin
    passed = challenger >= floor
    detail = (
        f"accuracy {challenger:.4f} {'>=' if passed else '<'} Light rule {evidence.baseline.overall.accuracy:.4f} "
        f"- {settings.baseline_margin:.4f} (difference {_points(evidence.vs_baseline.delta)}, 95 % CI "
        f"[{_points(evidence.vs_baseline.low)}, {_points(evidence.vs_baseline.high)}])"
    )
    return RuleResult("baseline", passed, False, challenger, floor, detail)


def forward_rules(evidence: Evidence, settings: GateSettings) -> list[RuleResult]:
    """The forward rule, when the training run held sessions out (like the slice rules without a champion, it is
    absent otherwise; the receipt's `forward` section says why)."""
    forward = evidence.forward
    if forward is None:
        return []
    mine, rule = forward.challenger.overall.accuracy, forward.baseline.overall.accuracy
    floor = rule - settings.forward_margin
    passed = mine >= floor
    champion = (
        f"; champion {forward.champion.overall.accuracy:.4f} ({_points(forward.vs_champion.delta)} for the challenger)"
        if forward.champion is not None and forward.vs_champion is not None
        else ""
    )
    detail = (
        f"on {', '.join(forward.sessions)} ({forward.challenger.overall.rows} rows held out of fitting): accuracy "
        f"{mine:.4f} {'>=' if passed else '<'} Light rule {rule:.4f} - {settings.forward_margin:.4f} (difference "
        f"{_points(forward.vs_baseline.delta)}, 95 % CI [{_points(forward.vs_baseline.low)}, "
        f"{_points(forward.vs_baseline.high)}]){champion}"
    )
    return [RuleResult("forward", passed, False, mine, floor, detail)]


def champion_rule(evidence: Evidence, settings: GateSettings) -> RuleResult:
    difference = evidence.vs_champion
    if evidence.champion is None or difference is None:
        return RuleResult("champion", True, True, None, None, "no champion yet")
    passed = difference.low >= -settings.champion_margin
    detail = (
        f"challenger - champion accuracy {_points(difference.delta)}, 95 % CI [{_points(difference.low)}, "
        f"{_points(difference.high)}]; lower bound {'>=' if passed else '<'} {_points(-settings.champion_margin)}"
    )
    return RuleResult("champion", passed, False, difference.low, -settings.champion_margin, detail)


def slice_rules(evidence: Evidence, settings: GateSettings) -> list[RuleResult]:
    if evidence.champion is None:
        return []
    results = []
    for name in sorted(set(evidence.challenger.by_slice) | set(evidence.champion.by_slice)):
        rule = f"slice:{name}"
        mine, theirs = evidence.challenger.by_slice.get(name), evidence.champion.by_slice.get(name)
        if mine is None or theirs is None:
            results.append(RuleResult(rule, True, True, None, None, f"slice {name} is not in the holdout"))
            continue
        margin = settings.margin_for(name)
        change = mine.accuracy - theirs.accuracy
        passed = change >= -margin
        detail = (
            f"{name} accuracy {mine.accuracy:.4f} vs champion {theirs.accuracy:.4f} ({_points(change)}; "
            f"allowed {_points(-margin)}, {mine.rows} rows)"
        )
        results.append(RuleResult(rule, passed, False, change, -margin, detail))
    return results


def decide(evidence: Evidence, settings: GateSettings) -> Verdict:
    results = (
        training_data_rule(evidence.training, settings),
        baseline_rule(evidence, settings),
        *forward_rules(evidence, settings),
        champion_rule(evidence, settings),
        *slice_rules(evidence, settings),
    )
    failed = [result for result in results if not result.passed]
    if failed:
        first = failed[0]
        return Verdict(False, first.rule, f"{first.rule} failed: {first.detail}", results)
    if evidence.champion is None:
        checked = ", ".join(result.rule for result in results if not result.skipped)
        return Verdict(True, NO_CHAMPION, f"no champion yet; {checked} passed", results)
    return Verdict(True, ALL_PASSED, "not detectably worse than the champion overall or in any slice", results)
