"""The four decisions — gate pass, gate failure, promotion, rollback — each with its receipt, state tags and log line.

Order of a decision: read the pointer; score challenger and champion on the pinned holdout; decide; write the
receipt (which records the pointer move it intends); move the pointer by compare-and-set; then retag the models.
A pointer that moved meanwhile voids the decision (its draft receipt is deleted) and it is taken again against the
new champion, so a receipt never describes a move that did not happen.

What a passed gate leads to is `RolloutSettings.on_pass`: `promote` (now) moves the pointer at once; `hold`
leaves the model a `candidate` for `occuloop promote`; `canary` tags it `canary`, and the canary controller
(controller.py) registers it with serving, ramps it, and then calls `Rollout.promote(..., decided_by=<canary>)` or
rolls it back — the pointer, receipts and tags here stay the same in all three modes.
`ChampionListener`s hear every pointer move (serving can also poll `ChampionPointer.read()`; one cheap call).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from ..logs import log_event, quoted
from ..settings import RolloutSettings
from . import receipts
from .assessment import CHALLENGER, CHAMPION, Assessment, assess
from .gate_rules import TrainingFacts, Verdict, decide
from .receipts import DecidedBy, HoldoutInfo, PointerMove
from .registry import PointerConflict, PointerState, Registry, RolloutError
from .states import CANARY, CANDIDATE, REJECTED, RETIRED, ModelRecord, model_fields
from .states import CHAMPION as CHAMPION_STATE

logger = logging.getLogger(__name__)

ATTEMPTS = 3  # re-takes of a decision whose pointer moved underneath it


class ChampionListener(Protocol):
    def champion_changed(self, model_id: str, receipt: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class Outcome:
    decision: str  # gate_passed | gate_failed | promoted | rolled_back
    model_id: str
    rule: str
    reason: str
    receipt_id: str
    receipt_sha256: str
    champion: str | None  # the champion after the decision


@dataclass(frozen=True)
class _Scored:
    assessment: Assessment
    sources: dict[str, str]
    holdout: HoldoutInfo


def training_facts(record: ModelRecord) -> TrainingFacts:
    card = record.card
    return TrainingFacts(
        days=len(card.get("labeling_sessions") or ()),
        rows=int(card.get("rows") or 0),
        occupied=int(card.get("occupied") or 0),
    )


class Rollout:
    def __init__(
        self,
        registry: Registry,
        settings: RolloutSettings,
        decided_by: DecidedBy,
        *,
        listeners: tuple[ChampionListener, ...] = (),
        rescore: bool = False,
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.decided_by = decided_by
        self.listeners = listeners
        self.rescore = rescore

    # -- evidence ----------------------------------------------------------------------------------------------

    def _score(self, challenger: ModelRecord, champion: ModelRecord | None, *, forward: bool = True) -> _Scored:
        """Both models and the Light rule on the pinned holdout, and (for a gate or a promotion) on the forward
        rows the challenger's training run held out; a rollback is not judged on them."""
        holdout = self.registry.holdout()
        mine, mine_from = self.registry.predictions(challenger, rescore=self.rescore)
        sources = {CHALLENGER: mine_from}
        theirs = None
        if champion is not None:
            theirs, sources[CHAMPION] = self.registry.predictions(champion, rescore=self.rescore)
        ahead = self.registry.forward_rows(challenger, champion) if forward else "not assessed for a rollback"
        assessment = assess(
            holdout.dataset_id, holdout.readings, mine, theirs, training_facts(challenger), self.settings.gate, ahead
        )
        return _Scored(assessment, sources, HoldoutInfo(holdout.dataset_id, holdout.sha256, len(holdout.readings)))

    def _champion(self, pointer: PointerState) -> ModelRecord | None:
        return self.registry.model(pointer.model_id) if pointer.model_id else None

    def _receipt(
        self,
        decision: str,
        rule: str,
        reason: str,
        challenger: ModelRecord,
        champion: ModelRecord | None,
        scored: _Scored,
        verdict: Verdict | None,
        pointer: PointerMove,
    ) -> dict[str, Any]:
        return receipts.build(
            decision=decision,
            decided_by=self.decided_by,
            rule=rule,
            reason=reason,
            challenger=challenger,
            champion=champion,
            assessment=scored.assessment,
            verdict=verdict,
            holdout=scored.holdout,
            thresholds=self.settings.gate,
            pointer=pointer,
            scored_from=scored.sources,
        )

    # -- the gate ----------------------------------------------------------------------------------------------

    def gate(self, model_id: str | None = None) -> list[Outcome]:
        """Gate one candidate (default: the newest); on a pass, promote it if `on_pass` says so."""
        challenger = self.registry.model(model_id) if model_id else self.registry.latest_candidate()
        if challenger is None:
            raise RolloutError(f"no model named {self.settings.model_name!r} is tagged {CANDIDATE!r}")
        if challenger.state != CANDIDATE:
            raise RolloutError(f"model {challenger.model_id} is {challenger.state!r}, not a {CANDIDATE!r}")
        outcomes: list[Outcome] = []
        for _ in range(ATTEMPTS):
            pointer = self.registry.pointer.read()
            champion = self._champion(pointer)
            scored = self._score(challenger, champion)
            verdict = decide(scored.assessment.evidence, self.settings.gate)
            decision = "gate_passed" if verdict.passed else "gate_failed"
            stay = PointerMove(pointer.model_id, pointer.model_id, None)
            receipt = self._receipt(
                decision, verdict.deciding_rule, verdict.reason, challenger, champion, scored, verdict, stay
            )
            outcome = self._seal(decision, challenger, receipt, pointer.model_id)
            self.registry.set_state(challenger, CANDIDATE if verdict.passed else REJECTED, outcome.receipt_id)
            log_event(
                logger,
                decision,
                **model_fields(challenger),
                **model_fields(champion, "champion_"),
                rule=verdict.deciding_rule,
                receipt=outcome.receipt_id,
                reason=verdict.reason,
            )
            outcomes.append(outcome)
            if verdict.passed and self.settings.on_pass == "canary":
                # `occuloop rollout` (controller.py) ramps it and then promotes or rejects it
                self.registry.set_state(challenger, CANARY, outcome.receipt_id)
                log_event(logger, "canary_requested", **model_fields(challenger), receipt=outcome.receipt_id)
            if not verdict.passed or self.settings.on_pass != "promote":
                return outcomes
            try:
                outcomes.append(
                    self._move(
                        "promoted",
                        challenger,
                        champion,
                        pointer,
                        scored,
                        verdict,
                        rule=f"gate:{verdict.deciding_rule}",
                        reason=f"passed the gate ({verdict.reason})",
                        old_state=RETIRED,
                    )
                )
                return outcomes
            except PointerConflict as conflict:
                logger.warning(
                    "event=pointer_conflict model_id=%s detail=%s action=regate",
                    challenger.model_id,
                    quoted(str(conflict)),
                )
        raise RolloutError(f"the champion pointer kept moving; {challenger.model_id} stays a candidate")

    # -- promotion and rollback --------------------------------------------------------------------------------

    def promote(self, model_id: str, reason: str = "", *, rule: str = "forced") -> Outcome:
        """Make `model_id` champion whatever the gate would say (the receipt records what it would have said)."""
        target = self.registry.model(model_id)
        for _ in range(ATTEMPTS):
            pointer = self.registry.pointer.read()
            if pointer.model_id == target.model_id:
                raise RolloutError(f"model {model_id} is already the champion")
            champion = self._champion(pointer)
            scored = self._score(target, champion)
            advisory = decide(scored.assessment.evidence, self.settings.gate)
            note = f"the gate would have {'passed' if advisory.passed else 'refused'} it: {advisory.reason}"
            try:
                return self._move(
                    "promoted",
                    target,
                    champion,
                    pointer,
                    scored,
                    advisory,
                    rule=rule,
                    reason=f"{reason or 'forced promotion'}; {note}",
                    old_state=RETIRED,
                )
            except PointerConflict as conflict:
                logger.warning(
                    "event=pointer_conflict model_id=%s detail=%s action=retry", model_id, quoted(str(conflict))
                )
        raise RolloutError("the champion pointer kept moving; nothing was promoted")

    def rollback_target(self, pointer: PointerState) -> str:
        """The most recent earlier champion that was not itself rolled back from (its state is not rejected)."""
        for candidate in reversed(pointer.history):
            if candidate != pointer.model_id and self.registry.model(candidate).state != REJECTED:
                return candidate
        raise RolloutError("there is no earlier champion to roll back to")

    def rollback(self, model_id: str | None = None, reason: str = "") -> Outcome:
        """Move the pointer back to `model_id` (default: the previous champion); the current one is rejected."""
        for _ in range(ATTEMPTS):
            pointer = self.registry.pointer.read()
            if pointer.model_id is None:
                raise RolloutError("there is no champion to roll back from")
            target = self.registry.model(model_id or self.rollback_target(pointer))
            if target.model_id == pointer.model_id:
                raise RolloutError(f"model {target.model_id} is already the champion")
            current = self._champion(pointer)
            scored = self._score(target, current, forward=False)
            try:
                return self._move(
                    "rolled_back",
                    target,
                    current,
                    pointer,
                    scored,
                    None,
                    rule="rollback",
                    reason=reason or "rolled back by an operator",
                    old_state=REJECTED,
                )
            except PointerConflict as conflict:
                logger.warning(
                    "event=pointer_conflict model_id=%s detail=%s action=retry", target.model_id, quoted(str(conflict))
                )
        raise RolloutError("the champion pointer kept moving; nothing was rolled back")

    # -- the one place the pointer moves -----------------------------------------------------------------------

    def _move(
        self,
        decision: str,
        target: ModelRecord,
        champion: ModelRecord | None,
        pointer: PointerState,
        scored: _Scored,
        verdict: Verdict | None,
        *,
        rule: str,
        reason: str,
        old_state: str,
    ) -> Outcome:
        move = PointerMove(pointer.model_id, target.model_id, pointer.revision + 1)
        receipt = self._receipt(decision, rule, reason, target, champion, scored, verdict, move)
        task = self.registry.open_receipt(decision, target.model_id)
        try:
            self.registry.pointer.move(pointer.revision, target.model_id, str(task.id), receipts.digest(receipt))
        except PointerConflict:
            self.registry.discard_receipt(task)
            raise
        sha = self.registry.seal_receipt(task, receipt, target.model_id)
        self.registry.set_state(target, CHAMPION_STATE, str(task.id))
        if champion is not None:
            self.registry.set_state(champion, old_state, str(task.id))
        event = "promoted" if decision == "promoted" else "rolled_back"
        log_event(
            logger,
            event,
            **model_fields(target),
            **model_fields(champion, "previous_"),
            revision=move.revision,
            rule=rule,
            receipt=str(task.id),
            reason=reason,
        )
        for listener in self.listeners:
            try:
                listener.champion_changed(target.model_id, receipt)
            except Exception:  # a listener must not undo a recorded decision; serving also polls the pointer
                logger.exception("event=listener_failed model_id=%s", target.model_id)
        return Outcome(decision, target.model_id, rule, reason, str(task.id), sha, target.model_id)

    def _seal(self, decision: str, model: ModelRecord, receipt: dict[str, Any], champion: str | None) -> Outcome:
        task = self.registry.open_receipt(decision, model.model_id)
        sha = self.registry.seal_receipt(task, receipt, model.model_id)
        return Outcome(decision, model.model_id, receipt["rule"], receipt["reason"], str(task.id), sha, champion)
