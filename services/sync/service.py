"""The sync loop: take finished files from the inbox, validate them, stage them into a draft version, and finalize
and tag the version when the batch is complete. Crash-safe and idempotent.

Why nothing is lost or duplicated:
- an accepted file is moved (renamed) under `staged/` before anything is sent; it is archived only after its
  version is finalized, tagged and journaled, so every accepted row is always on the inbox volume;
- a file's identity is its content hash: identical content is never added twice;
- a draft version that did not finalize before a crash is deleted at start-up and its files go into a new draft:
  no draft is left behind, and no unvalidated or partial version is ever finalized;
- a draft that did finalize before a crash is completed at start-up (fork check, tag, journal), exactly once;
- `Production` is set only after the version is finalized and known not to be a fork.

Two instances writing the same dataset: each finalizes on top of the latest finalized version; if two finalize
siblings of one parent, the later one (server completion time) archives its version untagged and rebases its
files onto the winner — a fork never reaches `Production`, so it never trains a model.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from training.drift import DriftReference, prepare
from training.readings import read_table, to_readings
from training.schema import LABEL, TIMESTAMP
from training.sessions import holdouts
from training.validation import Stamp, ValidationContext, ValidationReport, check_file

from .. import http_client
from ..clearml_gateway import DatasetGateway, Draft
from ..logs import log_event, quoted
from ..polling import Loop, Status
from ..settings import SyncSettings
from .decisions import Batch, Version, finalize_reason, fork_verdict, orphan_verdict
from .inbox import Inbox, sha256_of
from .journal import FileRecord, Journal
from .metrics import SyncMetrics

logger = logging.getLogger(__name__)

T = TypeVar("T")
SLOW_CALL_SECONDS = 10.0
MAX_BACKOFF_SECONDS = 60.0
DRIFT_REFERENCE_FILES = 7
PREVIEW_PLOT_FILES = 24  # sessions drawn in a version's sensor plots (a 1,000-file version would be unreadable)
DRAFT_OWNER_PREFIX = "sync-draft:"  # + the journal's instance id, on every draft until it is finalized


class BackgroundFeed:
    """At most one draft upload in flight, on its own thread, so that the next files are validated meanwhile
    (zipping, hashing and HTTP release the GIL). A failure is raised in the caller at the next `wait`."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(self, work: Callable[[], None]) -> None:
        self.wait()

        def run() -> None:
            try:
                work()
            except BaseException as error:  # handed to the caller's thread, where the step's retry handles it
                self._error = error

        self._thread = threading.Thread(target=run, name="sync-upload", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        """Until the upload in flight is done; raises its failure."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error


@dataclass
class SyncOutcome:
    """The result of one finalization, for POST /sync and `--once`."""

    dataset_id: str | None
    version: str | None
    files: list[str] = field(default_factory=list)
    rows: int = 0
    reason: str = ""


class SyncService:
    def __init__(self, settings: SyncSettings, gateway: DatasetGateway, inbox: Inbox, journal: Journal) -> None:
        self.settings = settings
        self.gateway = gateway
        self.inbox = inbox
        self.journal = journal
        self.metrics = SyncMetrics()
        pinned = holdouts()
        self._holdout = frozenset(stamp for frame in pinned.values() for stamp in frame[TIMESTAMP])
        self._draft: Draft | None = None
        self._last_accepted: float | None = None
        self._sync_requested = threading.Event()
        self._outcomes: list[SyncOutcome] = []
        self._outcome_ready = threading.Condition()
        self._status = Status(state="starting")
        self._call: tuple[str, float] | None = None
        self._recovered = False
        self._ready = False  # recovered before any stop was asked for: a shutdown may then finalize what is staged
        self._stop: threading.Event | None = None  # set by `run`; --once has none
        self._drift: DriftReference | None = None  # the drift reference, until the next version changes it
        self._spans: dict[str, list[tuple[Stamp, Stamp]]] | None = None  # per name, for one step
        self._chain: set[str] = set()  # versions known to be on the dataset's one chain
        self._owner_tag = f"{DRAFT_OWNER_PREFIX}{journal.instance_id()}"
        self._feed = BackgroundFeed()
        self.loop = Loop(
            "sync",
            self._recover_and_step,
            interval=settings.poll_seconds,
            most_backoff=MAX_BACKOFF_SECONDS,
            status=self._status,
            on_failure=self._after_failure,
            log=logger,
            failures=self.metrics.step_failures,
        )

    # -- status, shared with the HTTP thread ------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        status = self._status.snapshot()
        call = self._call
        if call is not None and time.monotonic() - call[1] > SLOW_CALL_SECONDS:
            status["state"] = "waiting_for_server"
            status["waiting_seconds"] = round(time.monotonic() - call[1], 1)
            status["operation"] = call[0]
        status["staged_files"] = len(self.journal.staged())
        return status

    def request_sync(self) -> None:
        self._sync_requested.set()

    def wait_for_outcome(self, after: int, timeout: float) -> SyncOutcome | None:
        with self._outcome_ready:
            self._outcome_ready.wait_for(lambda: len(self._outcomes) > after, timeout)
            return self._outcomes[after] if len(self._outcomes) > after else None

    def outcome_count(self) -> int:
        with self._outcome_ready:
            return len(self._outcomes)

    def _publish_outcome(self, outcome: SyncOutcome) -> None:
        with self._outcome_ready:
            self._outcomes.append(outcome)
            self._outcome_ready.notify_all()

    def _server(self, operation: str, function: Callable[[], T]) -> T:
        """A call to the ClearML server, timed so that /status and the log can say we are waiting for it."""
        started = time.monotonic()
        self._call = (operation, started)
        try:
            return function()
        finally:
            self._call = None
            self.metrics.server_calls.labels(operation=operation.replace(" ", "_")).observe(time.monotonic() - started)

    def watch_slow_calls(self, stop: threading.Event) -> None:
        """Log once per slow call (and every minute after) that the server is not answering."""
        reported: tuple[str, float] | None = None
        next_report = 0.0
        while not stop.wait(1.0):
            call = self._call
            if call is None:
                reported = None
                continue
            waited = time.monotonic() - call[1]
            if waited > SLOW_CALL_SECONDS and (call != reported or time.monotonic() >= next_report):
                logger.warning("event=waiting_for_server operation=%s seconds=%.0f", call[0], waited)
                reported, next_report = call, time.monotonic() + 60

    # -- start-up recovery ------------------------------------------------------------------------------------

    def recover(self) -> None:
        """Bring the journal and the server back in line after a crash or kill -9."""
        staged = self.journal.staged()
        if staged:  # files staged before the restart wait one quiet period from now, like files just taken in
            self._last_accepted = time.monotonic()
        known = {record.sha256 for record in staged}
        for orphan in self.inbox.orphans(known):
            logger.info("event=staged_file_recovered file=%s", orphan.name)
            self._take_in(orphan, already_staged=True)
        draft = self.journal.current_draft()
        if draft is not None:
            described = self._server("describe draft", lambda: self.gateway.version(draft.id))
            if described is not None and described.finalized:
                logger.info("event=draft_finalized_before_restart dataset_id=%s", draft.id)
                self._complete(draft.id, draft.parent, reason="recovered")
            else:
                if described is not None:
                    self._server("delete draft", lambda: self.gateway.delete(draft.id))
                self.journal.abandon(draft.id)
                logger.info("event=draft_discarded dataset_id=%s reason=not_finalized_before_restart", draft.id)
        self._sweep_orphan_drafts()

    def _sweep_orphan_drafts(self) -> None:
        """Delete drafts on the server that no journal will ever finish: ours from before a crash (tagged with our
        owner tag, or created while an unresolved draft intent was pending, before the tag was set), and
        untagged ones older than the stale age. Drafts of other live sync instances carry their own owner tag
        and are left alone. Deleting a draft loses nothing: the files stay staged here until a version holds them."""
        intent = self.journal.draft_intent()
        for version in self._server("list drafts", self.gateway.unfinished_versions):
            verdict = orphan_verdict(
                version.tags,
                version.created,
                owner_tag=self._owner_tag,
                owner_prefix=DRAFT_OWNER_PREFIX,
                intent=intent,
                now=_now_iso(),
                stale_seconds=self.settings.stale_draft_seconds,
            )
            if verdict is None:
                continue
            self._server("delete orphan draft", lambda: self.gateway.delete(version.dataset_id))  # noqa: B023
            logger.info("event=draft_discarded dataset_id=%s reason=%s", version.dataset_id, verdict)
        self.journal.clear_draft_intent()

    # -- one pass of the loop ---------------------------------------------------------------------------------

    def step(self, now: float, *, shutting_down: bool = False) -> SyncOutcome | None:
        """Take in finished files, feed the draft, finalize if it is time. Raises on server errors (retried).

        Once a stop is asked for, no new work begins: a step that had not started does nothing, and the intake
        stops at the next file (files not taken stay in the inbox for the next start). Only the last step of
        `run` (`shutting_down`) then finalizes what is already staged."""
        if self._stopping() and not shutting_down:
            return None
        settle = 0.0 if self._sync_requested.is_set() else None  # "upload" pressed: the labeler says all is written
        self._spans = None  # re-read from the journal once per step, then kept up to date as files are staged
        arrived = [] if shutting_down else self.inbox.finished(time.time(), settle_seconds=settle)
        for taken, path in enumerate(arrived, start=1):
            if self._stopping():
                break
            self._take_in(path)
            if taken % self.settings.feed_chunk == 0:  # a big batch: upload what is validated while the rest validates
                self._feed.wait()
                chunk = [record for record in self.journal.staged() if record.draft is None]
                self._feed.submit(functools.partial(self._feed_draft, chunk))
        self._feed.wait()
        staged = self.journal.staged()
        reason = finalize_reason(
            Batch(len(staged), self._last_accepted, self._sync_requested.is_set(), shutting_down),
            now,
            quiet_seconds=self.settings.quiet_seconds,
            batch_size=self.settings.batch_size,
        )
        unassigned = [record for record in staged if record.draft is None]
        if unassigned:
            self._feed_draft(unassigned)
        if self._sync_requested.is_set() and not staged:
            self._sync_requested.clear()
            self._publish_outcome(SyncOutcome(None, None, reason="nothing to sync"))
        if reason is None:
            self._status.update(state="idle" if not staged else "collecting")
            self.metrics.backlog.set(len(staged))
            return None
        outcome = self._finalize(reason)
        self.metrics.backlog.set(len(self.journal.staged()))
        return outcome

    def _take_in(self, path: Path, *, already_staged: bool = False) -> None:
        sha256 = sha256_of(path)
        held = self.journal.held(sha256)
        if held is not None:
            if already_staged:  # a leftover copy of a file whose version was committed before a crash
                if held.state == "committed":
                    self.inbox.archive(sha256, path.name)
                return
            target = self.inbox.set_aside_duplicate(path, sha256)
            self.journal.record(sha256, path.name, "duplicate", _now_iso())
            self.metrics.files_duplicate.inc()
            logger.info(
                "event=file_duplicate file=%s same_as=%s state=%s kept_at=%s", path.name, held.name, held.state, target
            )
            return
        report, readings = self._validate(path)
        if readings is None:
            self.inbox.quarantine(path, {"reasons": report.reasons, "report": report.to_dict()})
            self.journal.record(
                sha256, path.name, "rejected", _now_iso(), rows=report.rows, reasons=",".join(report.reasons)
            )
            logger.warning("event=file_quarantined file=%s reason=%s", path.name, ",".join(report.reasons))
            self.metrics.files_quarantined.labels(reason=(report.reasons or ["rejected"])[0]).inc()
            return
        staged = path if already_staged else self.inbox.stage(path, sha256)
        stamps = readings[TIMESTAMP].to_numpy(dtype="datetime64[ns]")
        self._known_spans().setdefault(staged.name, []).append((stamps[0], stamps[-1]))
        self.journal.record(
            sha256,
            staged.name,
            "staged",
            _now_iso(),
            rows=len(readings),
            occupied=int(readings[LABEL].sum()),
            first=str(readings[TIMESTAMP].iloc[0]),
            last=str(readings[TIMESTAMP].iloc[-1]),
        )
        self._last_accepted = time.monotonic()
        self.metrics.files_accepted.inc()
        self.metrics.rows_accepted.inc(len(readings))
        warnings = ",".join(finding.reason for finding in report.findings if finding.severity == "warning") or "none"
        logger.info(
            "event=file_accepted file=%s rows=%d occupied=%d warnings=%s",
            staged.name,
            len(readings),
            int(readings[LABEL].sum()),
            warnings,
        )

    def _validate(self, path: Path) -> tuple[ValidationReport, pd.DataFrame | None]:
        """The validation report, and the typed readings when the file passed (read once, used twice)."""
        # a file of the same name replaces the earlier one: its rows are not duplicates of themselves
        spans = tuple(span for name, named in self._known_spans().items() if name != path.name for span in named)
        context = ValidationContext(
            holdout_timestamps=self._holdout, known_spans=spans, reference=self._drift_reference()
        )
        return check_file(path, path.name, context)

    def _known_spans(self) -> dict[str, list[tuple[Stamp, Stamp]]]:
        """(first, last) minutes of every staged or committed file, by name (journal.spans, read once a step)."""
        if self._spans is None:  # numpy stamps: validation turns a thousand of them into an array in microseconds
            self._spans = {
                name: [(np.datetime64(first, "ns"), np.datetime64(last, "ns")) for first, last in spans]
                for name, spans in self.journal.spans_by_name().items()
            }
        return self._spans

    def _drift_reference(self) -> DriftReference | None:
        """The most recently committed sessions, read and prepared once per version (the archive changes only
        then), so that no file of a batch sorts the reference again."""
        if self._drift is None:
            files = self.inbox.archived_files(DRIFT_REFERENCE_FILES)
            frame = pd.concat([to_readings(read_table(path)) for path in files], ignore_index=True) if files else None
            self._drift = prepare(frame) if frame is not None else {}
        return self._drift or None

    def _feed_draft(self, records: list[FileRecord]) -> None:
        if self._draft is None:
            self.journal.intend_draft(_now_iso())
            draft = self._server("open draft", lambda: self.gateway.open_draft(self._owner_tag))
            self.journal.open_draft(draft.dataset_id, draft.parent, _now_iso())
            self._draft = draft
            logger.info("event=draft_opened dataset_id=%s parent=%s", draft.dataset_id, draft.parent)
        draft = self._draft
        # by name: a corrected file taken in beside its original in the same step replaces it
        files = {record.name: self.inbox.staged_path(record.sha256, record.name) for record in records}
        self._server("upload", lambda: draft.add_and_upload(files, self.inbox.state_dir / "batch"))
        self.journal.assign([record.id for record in records], draft.dataset_id)
        self._status.update(state="collecting", draft=draft.dataset_id)

    def _finalize(self, reason: str) -> SyncOutcome | None:
        draft = self._draft
        if draft is None:  # every staged file is assigned to a draft this process opened
            return None
        records = [record for record in self.journal.staged() if record.draft == draft.dataset_id]
        frames = {  # plotted: the newest sessions only; the tables and the metadata list every file
            record.name: to_readings(read_table(self.inbox.staged_path(record.sha256, record.name)))
            for record in records[-PREVIEW_PLOT_FILES:]
        }
        self._server("previews", lambda: self._describe(draft, records, frames))
        self._server("finalize", draft.finalize)
        self._draft = None
        return self._complete(draft.dataset_id, draft.parent, reason=reason)

    def _describe(self, draft: Draft, records: list[FileRecord], frames: dict[str, pd.DataFrame]) -> None:
        names = [record.name for record in records]
        balance = pd.DataFrame(
            [
                {
                    "session": record.name,
                    "rows": record.rows,
                    "occupied": record.occupied,
                    "unoccupied": record.rows - record.occupied,
                }
                for record in records
            ]
        )
        summary = pd.DataFrame(
            [
                {
                    "session": record.name,
                    "result": "accepted",
                    "first": record.first,
                    "last": record.last,
                    "sha256": record.sha256[:12],
                }
                for record in records
            ]
        )
        draft.report_previews(frames, summary, balance)
        draft.describe(
            f"labeling sessions: {', '.join(names)}",
            {
                "sessions": names,
                "files": {
                    record.name: {"sha256": record.sha256, "rows": record.rows, "occupied": record.occupied}
                    for record in records
                },
            },
        )

    def _complete(self, dataset_id: str, parent: str | None, *, reason: str) -> SyncOutcome | None:
        """After finalization: settle forks, tag, journal, archive, notify. Safe to repeat."""
        ours = self._server("describe version", lambda: self.gateway.version(dataset_id))
        if ours is None or ours.completed is None:
            raise RuntimeError(f"finalized version {dataset_id} cannot be read back")
        siblings = self._server("list siblings", lambda: self.gateway.finalized_children(parent))
        verdict = fork_verdict(
            Version(dataset_id, ours.completed), [Version(item.dataset_id, item.completed or "") for item in siblings]
        )
        if verdict == "won" and not self._chain_holds(parent):
            verdict = "lost"  # built on a version that itself lost a race (it was the newest when our draft opened)
        if verdict == "lost":
            self._server("archive fork", lambda: self.gateway.archive(dataset_id))
            self.journal.abandon(dataset_id)
            logger.warning(
                "event=dataset_fork_avoided dataset_id=%s parent=%s action=archived_and_rebased", dataset_id, parent
            )
            return None
        self._server("tag", lambda: self.gateway.set_tags(dataset_id, [self.settings.production_tag]))
        records = [record for record in self.journal.staged() if record.draft == dataset_id]
        self.journal.commit(dataset_id, [record.name for record in records])
        for record in records:
            self.inbox.archive(record.sha256, record.name)
        self._drift = None
        self._sync_requested.clear()
        outcome = SyncOutcome(
            dataset_id,
            ours.version,
            [record.name for record in records],
            sum(record.rows for record in records),
            reason,
        )
        log_event(
            logger,
            "dataset_version_finalized",
            dataset_id=dataset_id,
            version=ours.version,
            files=len(records),
            rows=outcome.rows,
            reason=reason,
            sessions=",".join(outcome.files),
        )
        self.metrics.versions_finalized.labels(reason=reason).inc()
        self.metrics.last_finalize.set(time.time())
        self._status.update(
            state="idle",
            last_version={"dataset_id": dataset_id, "version": ours.version, "files": outcome.files},
            draft=None,
        )
        self._notify_trigger(dataset_id, ours.version)
        self._publish_outcome(outcome)
        return outcome

    def _chain_holds(self, dataset_id: str | None, depth: int = 3) -> bool:
        """Whether `dataset_id` is on the dataset's one chain: not archived, and the first finalized child of its
        own parent, and so on a few generations up (deeper breaks would have been caught by their own writers)."""
        if dataset_id is None or depth == 0 or dataset_id in self._chain:
            return True
        described = self._server("describe parent", lambda: self.gateway.version(dataset_id))
        if described is None or described.archived or described.completed is None:
            return False
        grandparent = self._server("parent of parent", lambda: self.gateway.parent_of(dataset_id))
        siblings = self._server("list siblings", lambda: self.gateway.finalized_children(grandparent))
        earlier = [Version(item.dataset_id, item.completed or "") for item in siblings]
        if fork_verdict(Version(dataset_id, described.completed), earlier) == "lost":
            return False
        if not self._chain_holds(grandparent, depth - 1):
            return False
        self._chain.add(dataset_id)  # a version that won its race stays on the chain: remember it
        return True

    def _notify_trigger(self, dataset_id: str, version: str) -> None:
        """Tell the trigger at once (its polling is the safety net, so a failure here only costs latency)."""
        if not self.settings.trigger_url:
            return
        answer = http_client.post(
            self.settings.trigger_url, json_body={"dataset_id": dataset_id, "version": version}, timeout=5
        )
        if answer.ok:
            logger.info("event=trigger_notified dataset_id=%s status=%s", dataset_id, answer.status)
        else:
            logger.warning("event=trigger_notify_failed dataset_id=%s error=%s", dataset_id, quoted(answer.detail()))

    # -- the loop -------------------------------------------------------------------------------------------------

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def run(self, stop: threading.Event) -> None:
        self._stop = stop
        watcher = threading.Thread(target=self.watch_slow_calls, args=(stop,), name="sync-watchdog", daemon=True)
        watcher.start()
        self.loop.run(stop)
        # SIGTERM / SIGINT: finalize what is staged before exiting (within the shutdown bound), but only when the
        # service was up and the server answering before the stop: a stop during start-up or an outage would
        # otherwise run a whole recovery-intake-upload-finalize cycle (tens of seconds on a busy node) after the
        # signal. Skipping loses nothing: staged files are journaled and become the next version after restart.
        if self._ready and not self.loop.backoff.failing:
            self.attempt(shutting_down=True)
        else:
            reason = "server_failing" if self.loop.backoff.failing else "not_started"
            log_event(logger, "sync_shutdown_finalize_skipped", reason=reason, staged_files=len(self.journal.staged()))

    def attempt(self, *, shutting_down: bool = False) -> bool:
        """One step (after recovery, when needed); False when it failed and will be retried after a backoff."""
        return self.loop.attempt(functools.partial(self._recover_and_step, shutting_down=shutting_down))

    def _recover_and_step(self, *, shutting_down: bool = False) -> None:
        if not self._recovered:
            self.recover()
            self._recovered = True
            self._ready = self._ready or not self._stopping()
        self.step(time.monotonic(), shutting_down=shutting_down)

    def _after_failure(self) -> None:
        """A failed step may have left the draft half updated: recovery rebuilds it from the journal next time."""
        try:
            self._feed.wait()  # nothing may use the draft behind recovery's back
        except Exception:
            logger.warning("event=background_upload_failed", exc_info=True)
        self._draft = None
        self._recovered = False


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
