"""The trigger's ClearML side: a `TriggerScheduler` whose dataset trigger fires exactly once per version.

The stock scheduler (ClearML behaviour C1-C8) watches only the dataset names that existed when the trigger was
added, decides "new" by a client-side watermark, records a version as handled before launching it, and forgets
everything on a local restart. This subclass keeps its configuration model (one dataset trigger: template task,
queue, `task_parameters` with `'${dataset.id}'`, tags; visible on the scheduler task in the UI) and its
substitution of the dataset id, and replaces the two parts that lose runs:

- `_step`: every tagged, finalized version of every dataset name under the project (resolved again on each
  step), compared against the ledger on the server (`decisions.py`, read by `ledger.py`: what changed since the
  last step, and everything every few minutes) instead of a client-side watermark of what was handled;
- `_launch_job_task`: clone + tags + parameters in one `tasks.clone` request, earliest clone wins, enqueue is
  atomic on the server (a task is enqueued from `created` once), nothing is marked done before it is enqueued.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from clearml import Task
from clearml.automation import TriggerScheduler

from ..clearml_api import ServerError, call, project_id, queue_id
from ..polling import RetryLater
from ..settings import TriggerSettings
from .decisions import Version, coalesced, next_action, run_tag, to_train
from .ledger import TRIGGER_NAME, ServerLedger
from .metrics import TriggerMetrics

logger = logging.getLogger(__name__)

TRAINING_MODULE = "training.train"
SCHEDULER_TASK_NAME = "occuloop trigger"
SCHEDULER_TAG = "occuloop-trigger"  # on the scheduler task
# on a scheduler task this process made with Task.init (not one clearml-agent runs): how a restart finds it again
PROCESS_TAG = "occuloop-trigger-process"
EXECUTED_TABLE_ROWS = 100  # the newest runs in the scheduler task's "Triggers Executed" table (and kept in memory)
RUNNING = ("queued", "in_progress")


def ensure_template(settings: TriggerSettings) -> str:
    """The training template task: found by project, name and tag, or created to run the `training.train`
    module of the installed occuloop package. Two replicas creating it at once keep the earliest and archive
    the other."""

    def find() -> list[dict[str, Any]]:
        project = project_id(settings.template_project)
        if project is None:
            return []
        found = call(
            "tasks.get_all",
            {
                "project": [project],
                "name": f"^{re.escape(settings.template_name)}$",
                "tags": [settings.template_tag],
                "system_tags": ["-archived"],
                "only_fields": ["id", "created"],
                "order_by": ["created", "id"],
            },
        )
        return list(found.get("tasks") or [])

    existing = find()
    if existing:
        return str(existing[0]["id"])
    task: Task = Task.create(
        project_name=settings.template_project,
        task_name=settings.template_name,
        task_type="training",
        module=TRAINING_MODULE,  # the agent runs `python -m training.train` from the installed package
        detect_repository=False,
        packages=[],
        add_task_init_call=False,
    )
    task.set_tags([settings.template_tag])
    call("tasks.edit_hyper_params", {"task": task.id, "hyperparams": template_hyperparams(settings)})
    winners = find()
    if winners and winners[0]["id"] != task.id:  # another replica created one first
        call("tasks.archive", {"tasks": [task.id]})
        return str(winners[0]["id"])
    logger.info("event=template_created task_id=%s project=%s", task.id, settings.template_project)
    return str(task.id)


def template_hyperparams(settings: TriggerSettings) -> list[dict[str, str]]:
    """The template's parameters: the dataset id (empty: the trigger sets it per run) and any defaults the
    deployment gives its runs (OCCULOOP_TEMPLATE_PARAMETERS, e.g. `General/gate_queue=training`)."""
    values = {settings.parameter: ""}
    for item in filter(None, (part.strip() for part in settings.template_parameters.split(","))):
        key, _, value = item.partition("=")
        if "/" not in key:
            raise ValueError(f"template parameter {item!r} is not Section/name=value")
        values[key.strip()] = value.strip()
    return [
        {"section": key.split("/", 1)[0], "name": key.split("/", 1)[1], "value": value, "type": "str"}
        for key, value in values.items()
    ]


def existing_scheduler_task(settings: TriggerSettings) -> str | None:
    """The scheduler task an earlier start of the trigger made (the oldest, if replicas raced), or None: every
    start continues it instead of leaving one more task in the services project."""
    project = project_id(settings.services_project)
    if project is None:
        return None
    found = call(
        "tasks.get_all",
        {
            "project": [project],
            "name": f"^{re.escape(SCHEDULER_TASK_NAME)}$",
            "tags": [PROCESS_TAG],
            "system_tags": ["-archived"],
            "only_fields": ["id"],
            "order_by": ["created", "id"],
        },
    )
    tasks = found.get("tasks") or []
    return str(tasks[0]["id"]) if tasks else None


class Launched:
    """What `TriggerScheduler._launch_job` expects back from `_launch_job_task`."""

    def __init__(self, run_id: str) -> None:
        self._run_id = run_id

    def task_id(self) -> str:
        return self._run_id


class LedgeredTriggerScheduler(TriggerScheduler):
    def __init__(
        self,
        settings: TriggerSettings,
        template_id: str,
        on_fired: Callable[[Version, str], None] | None = None,
        metrics: TriggerMetrics | None = None,
    ) -> None:
        tags = [SCHEDULER_TAG]
        if Task.current_task() is None:  # under clearml-agent (start_remotely) the task already exists
            tags.append(PROCESS_TAG)
            # Called on the service's worker thread (services/shutdown.py), so the SDK cannot hook SIGTERM: its
            # hook would run the whole task shutdown inside the signal handler, in the middle of this very call.
            earlier = existing_scheduler_task(settings)
            Task.init(
                project_name=settings.services_project,
                task_name=SCHEDULER_TASK_NAME,
                task_type=Task.TaskTypes.service,
                reuse_last_task_id=False,
                continue_last_task=earlier or False,  # the same task across restarts, found on the server
                auto_connect_arg_parser=False,
                auto_connect_frameworks={"detect_repository": False},  # the service's code is the package
                auto_resource_monitoring=False,
            )
        super().__init__(pooling_frequency_minutes=settings.poll_seconds / 60.0, sync_frequency_minutes=60)
        self.settings = settings
        self.template_id = template_id
        self._on_fired = on_fired
        self.metrics = metrics or TriggerMetrics()
        self._mine: set[str] = set()  # clones this process made
        self._current: Version | None = None
        self._reported_skips: set[str] = set()  # coalesced versions already logged as skipped
        self.ledger = ServerLedger(settings)
        self._template_hyperparams: dict[str, Any] | None = None
        self.add_dataset_trigger(
            schedule_task_id=template_id,
            schedule_queue=settings.queue,
            name=TRIGGER_NAME,
            target_project=settings.training_project,
            task_parameters={settings.parameter: "${dataset.id}"},
            trigger_on_tags=list(settings.tags),
            add_tag=TRIGGER_NAME,
        )
        missing = [tag for tag in tags if tag not in (self._task.get_tags() or [])]
        if missing:
            self._task.add_tags(missing)
        self._serialize()  # the trigger's configuration, readable on the scheduler task in the UI

    @property
    def task_id(self) -> str:
        return str(self._task.id)

    # -- the TriggerScheduler hooks -----------------------------------------------------------------------------

    def _step(self) -> bool:
        now = datetime.now(UTC)
        versions, runs = self.ledger.read()
        self.metrics.step(versions, runs)
        done = {run.dataset_id for run in runs if run.status != "created"}
        fired = False
        for trigger in self._dataset_triggers:
            for version in to_train(versions, done, now, self.settings.coalesce_seconds):
                if self.settings.coalesce_seconds > 0:
                    for skipped in coalesced(versions, done, version):
                        if skipped.dataset_id in self._reported_skips:
                            continue
                        self._reported_skips.add(skipped.dataset_id)
                        self.metrics.skipped.labels(reason="coalesced").inc()
                        logger.info(
                            "event=trigger_skipped reason=coalesced dataset_id=%s into=%s",
                            skipped.dataset_id,
                            version.dataset_id,
                        )
                self._current = version
                before = len(self._executed_triggers)
                self._launch_job(trigger, version.dataset_id)  # substitutes '${dataset.id}' in task_parameters
                fired |= len(self._executed_triggers) > before
        return fired

    def _launch_job_task(
        self, job: Any, task_parameters: dict[str, Any] | None = None, add_tags: Any = None
    ) -> Any:  # a Launched (anything with task_id()) or None, as TriggerScheduler._launch_job expects
        version = self._current
        assert version is not None
        action = self._decide(version)
        if action.kind == "done":
            logger.info(
                "event=trigger_skipped reason=already_done dataset_id=%s run_task_id=%s",
                version.dataset_id,
                action.run_id,
            )
            self.metrics.skipped.labels(reason="already_done").inc()
            return None
        if action.kind == "clone":
            clone_id = self._clone(job, task_parameters or {}, version)
            self._mine.add(clone_id)
            action = self._decide(version)  # did another replica clone it first?
            if action.kind == "done":
                return None
        assert action.run_id is not None
        queue = self._queue_id(job.queue)
        try:
            call("tasks.enqueue", {"task": action.run_id, "queue": queue})
        except ServerError as error:
            if self._decide(version).kind == "done":  # another replica enqueued it a moment ago
                return None
            raise ServerError(f"enqueue of {action.run_id} failed: {error}") from error
        logger.info(
            "event=trigger_fired dataset_id=%s dataset=%s version=%s run_task_id=%s queue=%s",
            version.dataset_id,
            version.name,
            version.version,
            action.run_id,
            job.queue,
        )
        self.metrics.fired(version)
        if self._on_fired is not None:
            self._on_fired(version, action.run_id)
        return Launched(action.run_id)

    def _update_execution_plots(self) -> None:
        """The stock "Triggers Executed" table of the scheduler task, for the newest `EXECUTED_TABLE_ROWS` runs, with
        their status read in one request. The stock method loads every run not yet finished as a `Task`, one at a
        time, after every fire, and keeps every run ever fired: with a year of runs waiting in the queue that took
        3-5 s, and the next version's trigger waited for it (BENCHMARKS.md#history)."""
        del self._executed_triggers[:-EXECUTED_TABLE_ROWS]
        waiting = [job.task_id for job in self._executed_triggers if job.task_id and not job.finished]
        found = call("tasks.get_all", {"id": waiting, "only_fields": ["id", "status", "completed"]}) if waiting else {}
        ended = {item["id"]: item for item in found.get("tasks") or [] if item.get("status") not in RUNNING}
        for job in self._executed_triggers:
            if job.task_id in ended:
                job.finished = ended[job.task_id].get("completed") or datetime.now(UTC)
        link = (
            self._task.get_output_log_web_page()
            .replace(f"/{self._task.project}/", "/*/")
            .replace(f"/{self._task.id}/", "/{task}/")
        )
        table = [["trigger", "name", "task id", "started", "finished"]]
        for job in sorted(self._executed_triggers, key=lambda job: job.started, reverse=True):
            task = f'<a href="{link.format(task=job.task_id)}">{job.task_id}</a>' if job.task_id else "function"
            table.append(
                [job.trigger, job.name, task, *(str(stamp).split(".", 1)[0] for stamp in (job.started, job.finished))]
            )
        self._task.get_logger().report_table(title="Triggers Executed", series=" ", iteration=0, table_plot=table)
        # the stock table of the trigger's configuration, reported by the method this one replaces
        self._TriggerScheduler__report_trigger_table(  # type: ignore[attr-defined]  # private in the SDK
            triggers=self._dataset_triggers, title="Dataset Triggers"
        )

    # -- helpers ------------------------------------------------------------------------------------------------------

    def _decide(self, version: Version) -> Any:
        dataset_id = version.dataset_id
        action = next_action(
            self.ledger.runs(version), self._mine, datetime.now(UTC), self.settings.stale_clone_seconds
        )
        for surplus in action.discard:
            call("tasks.delete", {"task": surplus, "force": True})
            self._mine.discard(surplus)
            logger.info("event=surplus_clone_deleted dataset_id=%s task_id=%s", dataset_id, surplus)
        return action

    def _queue_id(self, name: str) -> str:
        found = queue_id(name)
        if found is None:
            # never created on the fly: a typo would collect runs that no agent serves; retried until it exists
            raise RetryLater(f"queue '{name}' does not exist")
        return found

    def _clone(self, job: Any, parameters: dict[str, Any], version: Version) -> str:
        """Clone the template with the run's tags and parameters in one request: a clone is complete the moment
        it exists, so any replica may enqueue it."""
        if self._template_hyperparams is None:
            template = call("tasks.get_by_id", {"task": job.base_task_id})["task"]
            self._template_hyperparams = template.get("hyperparams") or {}
            self._template_tags = [tag for tag in template.get("tags") or [] if tag != self.settings.template_tag]
        hyperparams = {section: dict(values) for section, values in self._template_hyperparams.items()}
        for key, value in parameters.items():
            section, name = key.split("/", 1)
            hyperparams.setdefault(section, {})[name] = {"section": section, "name": name, "value": str(value)}
        target = project_id(job.target_project or self.settings.training_project, create=True)
        cloned = call(
            "tasks.clone",
            {
                "task": job.base_task_id,
                "new_task_name": f"{self.settings.template_name} · {version.name} {version.version}".rstrip(),
                "new_task_comment": f"triggered by dataset version {version.dataset_id}",
                "new_task_tags": [*self._template_tags, TRIGGER_NAME, run_tag(version.dataset_id)],
                "new_task_hyperparams": hyperparams,
                "new_task_project": target,
                "new_task_parent": job.base_task_id,
            },
        )
        return str(cloned["id"])
