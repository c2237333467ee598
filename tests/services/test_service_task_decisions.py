"""What registration and the services agent's start do with a service's tasks, decided on plain records."""

from __future__ import annotations

from services.service_tasks.decisions import Registration, TaskRecord, orphans, plan_registration, retired

WANTED = Registration({"Sync/inbox": "/inbox", "Sync/quiet_seconds": "30.0"}, "services")


def record(
    task_id: str, status: str, created: str, registered: Registration | None = WANTED, **extra: str
) -> TaskRecord:
    return TaskRecord(
        task_id, extra.get("service", "sync"), status, created, extra.get("queue", "q-services"), registered
    )


def test_the_first_registration_creates_the_task() -> None:
    plan = plan_registration([], WANTED)
    assert (plan.action, plan.task_id, plan.stop) == ("create", None, ())


def test_the_same_settings_leave_a_queued_or_running_task_alone_and_requeue_one_that_stopped() -> None:
    for status in ("queued", "in_progress"):
        plan = plan_registration([record("t1", status, "2026-01-01")], WANTED)
        assert (plan.action, plan.task_id) == ("unchanged", "t1")
    for status in ("stopped", "completed", "failed", "created"):
        plan = plan_registration([record("t1", status, "2026-01-01")], WANTED)
        assert (plan.action, plan.task_id, plan.status) == ("requeue", "t1", status)


def test_parameters_edited_in_the_ui_do_not_count_as_a_change() -> None:
    """Only what the deployment registered is compared: the task's current parameters are not even read."""
    plan = plan_registration([record("t1", "in_progress", "2026-01-01")], WANTED)
    assert plan.action == "unchanged"


def test_other_settings_or_another_queue_replace_the_task_and_name_what_changed() -> None:
    changed = Registration({**WANTED.parameters, "Sync/quiet_seconds": "5.0"}, "services")
    plan = plan_registration([record("t1", "in_progress", "2026-01-01")], changed)
    assert (plan.action, plan.task_id, plan.changed) == ("replace", "t1", ("Sync/quiet_seconds",))
    moved = plan_registration([record("t1", "queued", "2026-01-01")], Registration(WANTED.parameters, "other"))
    assert (moved.action, moved.changed) == ("replace", ("queue",))
    unknown = plan_registration([record("t1", "queued", "2026-01-01", registered=None)], WANTED)
    assert unknown.action == "replace"


def test_the_newest_task_is_the_service_and_older_running_ones_are_stopped() -> None:
    records = [
        record("old-running", "in_progress", "2026-01-01"),
        record("old-stopped", "stopped", "2026-01-02"),
        record("new", "queued", "2026-01-03"),
    ]
    plan = plan_registration(records, WANTED)
    assert (plan.action, plan.task_id, plan.stop) == ("unchanged", "new", ("old-running",))


def test_orphans_are_this_queue_s_running_tasks_no_other_agent_runs() -> None:
    records = [
        record("left-behind", "in_progress", "1"),
        record("other-queue", "in_progress", "2", queue="q-elsewhere"),
        record("waiting", "queued", "3"),
        record("elsewhere", "in_progress", "4"),
        record("done", "completed", "5"),
    ]
    live = {
        "svc": None,
        "svc:service:left-behind": "left-behind",  # this agent's earlier run, still listed by the server
        "other-agent:service:elsewhere": "elsewhere",
    }
    assert orphans(records, live, "svc", "q-services") == ["left-behind"]


def test_tasks_of_services_no_longer_run_are_retired() -> None:
    records = [record("s", "in_progress", "1"), record("r", "queued", "2", service="rollout")]
    assert retired(records, ("sync", "trigger"), "q-services") == ["r"]
    assert retired(records, ("sync", "trigger"), "q-elsewhere") == []
