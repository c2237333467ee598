"""`make bench`: run the benchmarks and write their results into BENCHMARKS.md (between generated markers).

python -m tests.benchmarks.run [--quick] [--only server]
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.settings import SyncSettings
from tests.benchmarks import (
    champion_bench,
    forward_report,
    forward_selection,
    history_bench,
    history_report,
    lookup_bench,
    loop_bench,
    machine,
    rollout_bench,
    server_bench,
    serving_bench,
    sync_bench,
    training_bench,
    trigger_bench,
    ui_bench,
)

# in the order they run
SECTIONS = (
    "server",
    "training",
    "forward",
    "champion",
    "sync",
    "trigger",
    "serving",
    "rollout",
    "loop",
    "ui",
    "lookups",
    "history",
)
BENCHMARKS_MD = Path(__file__).resolve().parents[2] / "BENCHMARKS.md"


def _markdown_server(results: dict[str, Any]) -> str:
    latency = results["api_latency"]
    rows = [
        f"| {name} | {value['p50_ms']} | {value['p99_ms']} | {value['max_ms']} | {value['calls']} |"
        for name, value in latency.items()
        if isinstance(value, dict)
    ]
    queue = results["queue_throughput"]
    files = results["file_transfer"]
    idle = results["idle_cost"]
    lines = [
        f"Store: {latency['tasks_in_store']:,} realistic tasks (hyper-parameters, a 2 KB stored script), created at "
        f"{latency['fill_creates_per_s']:,} tasks/s. Latency is the client's view over loopback HTTP with keep-alive "
        "(requests), so it includes the client's own overhead.",
        "",
        "| call | p50 ms | p99 ms | max ms | calls |",
        "| --- | --- | --- | --- | --- |",
        *rows,
        "",
        "Target (issue 2): `tasks.get_all` by id and `tasks.get_by_id` p50 ≤ 3 ms, p99 ≤ 15 ms.",
        "",
        f"Queue pops (`queues.get_next_task`, {queue['tasks']} tasks, consumer processes on loopback, each task "
        "delivered exactly once — checked in the run):",
        "",
        "| consumers | pops/s | seconds |",
        "| --- | --- | --- |",
        *(
            f"| {name} | {value['pops_per_s']:,} | {value['seconds']} |"
            for name, value in queue.items()
            if isinstance(value, dict)
        ),
        "",
        f"File server, one {files['megabytes']} MB file, against `shutil.copyfile` of the same file on the same disk:",
        "",
        "| transfer | MB/s | ratio to local copy |",
        "| --- | --- | --- |",
        f"| local copy | {files['local_copy_MB_per_s']:,} | 1.00 |",
        f"| upload (multipart, as the SDK sends it) | {files['upload_MB_per_s']:,} | {files['upload_vs_copy']} |",
        f"| download (streamed) | {files['download_MB_per_s']:,} | {files['download_vs_copy']} |",
        "",
        f"Idle cost: server CPU over {idle['window_seconds']:.0f} s while one clearml-agent daemon, one TriggerScheduler "
        "and one clearml-serving inference app poll it (target ≤ 5 % of one core):",
        "",
        "| polling intervals | server CPU, % of one core |",
        "| --- | --- |",
        *(
            f"| {name} | {value['server_cpu_percent_of_one_core']} |"
            for name, value in idle.items()
            if isinstance(value, dict)
        ),
    ]
    return "\n".join(lines)


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def _auc(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _markdown_training(published: dict[str, Any], by_sessions: list[dict[str, Any]], timing: dict[str, Any]) -> str:
    rows = published["rows"]
    lines = [
        f"Trained on `datatraining.txt` only (8,143 rows), scored on test 1 ({rows['test1']:,} rows) and test 2 "
        f"({rows['test2']:,} rows). Accuracy %, F1, AUC; `correct` counts holdout rows.",
        "",
        "| inputs | seed | test 1 acc | correct | F1 | AUC | test 2 acc | correct | F1 | AUC | epochs | fit s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for feature_set, seeds in published["runs"].items():
        for seed, run in seeds.items():
            t1, t2 = run["test1"], run["test2"]
            lines.append(
                f"| {feature_set} | {seed} | {_pct(t1['accuracy'])} | {t1['correct']} | {t1['f1']:.4f} | {_auc(t1['auc'])} "
                f"| {_pct(t2['accuracy'])} | {t2['correct']} | {t2['f1']:.4f} | {_auc(t2['auc'])} | {run['epochs']} | {run['seconds']} |"
            )
    for model, scores in published["baselines"].items():
        t1, t2 = scores["test1"], scores["test2"]
        lines.append(
            f"| {model} | - | {_pct(t1['accuracy'])} | {t1['correct']} | {t1['f1']:.4f} | {_auc(t1['auc'])} "
            f"| {_pct(t2['accuracy'])} | {t2['correct']} | {t2['f1']:.4f} | {_auc(t2['auc'])} | - | - |"
        )
    holdout_day = next(key for key in by_sessions[0]["network"] if key not in ("epochs", "seconds", "test1"))
    lines += [
        "",
        f"Trained on the first N daily sessions (default inputs, seed 42); accuracy % on test 1 / {holdout_day}:",
        "",
        "| N | last day | rows | occupied | network | epochs | fit s | Light > 364.5 | logistic regression |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in by_sessions:
        net, base = row["network"], row["baselines"]
        rule, logistic = base["Light > 364.5"], base["logistic regression"]
        lines.append(
            f"| {row['sessions']} | {row['last_day']} | {row['rows']:,} | {row['occupied']:,} "
            f"| {_pct(net['test1']['accuracy'])} / {_pct(net[holdout_day]['accuracy'])} | {net['epochs']} | {net['seconds']} "
            f"| {_pct(rule['test1']['accuracy'])} / {_pct(rule[holdout_day]['accuracy'])} "
            f"| {_pct(logistic['test1']['accuracy'])} / {_pct(logistic[holdout_day]['accuracy'])} |"
        )
    runs = ", ".join(f"{run['seconds']} s ({run['epochs']} epochs)" for run in timing["runs"])
    lines += [
        "",
        f"Training on all 14 sessions ({timing['rows']:,} rows), features + network, TensorFlow import excluded: {runs}. Budget: 40 s.",
    ]
    return "\n".join(lines)


def _markdown_sync(results: dict[str, Any]) -> str:
    bulk, latency = results["bulk"], results["latency"]
    lines = [
        f"{bulk['files']:,} labeling-session files of 1,440 rows ({bulk['rows']:,} rows, "
        f"{bulk['csv_bytes'] / 1e6:.1f} MB of CSV) into one version, side by side in one run:",
        "",
        "| path | seconds | ratio |",
        "| --- | --- | --- |",
        f"| SDK directly: `Dataset.create`, `add_files(folder)`, `upload`, `finalize` | {bulk['sdk_direct_seconds']} | 1.00 |",
        f"| `occuloop sync --once`: validation of every file, journal, previews, tags | {bulk['sync_seconds']} | {bulk['ratio']} |",
        "",
        f"Target (issue 4): ≤ 1.2x. Stored on the file server for the {bulk['files']:,}-file version: "
        f"{bulk['bulk_stored_bytes'] / 1e6:.1f} MB (compressed).",
        "",
        f"One-file delta on top of it ({bulk['delta_file_bytes']:,} bytes of CSV): {bulk['delta_stored_bytes']:,} bytes "
        f"stored (the changed file, compressed, plus the version's state and previews), in {bulk['delta_seconds']} s "
        "including process start-up.",
        "",
        "Finished file appearing → its version finalized, quiet period 1 s, service polling every 0.1 s:",
        "",
        "| how the file is finished | p50 s | max s | runs |",
        "| --- | --- | --- | --- |",
        *(f"| {mode} | {value['p50_s']} | {value['max_s']} | {value['runs']} |" for mode, value in latency.items()),
    ]
    return "\n".join(lines)


def _markdown_trigger(results: dict[str, Any]) -> str:
    rows = [
        f"| {mode} | {value['p50_s']} | {value['p95_s']} | {value['max_s']} | {value['runs']} | {value['missed']} |"
        for mode, value in results.items()
        if isinstance(value, dict)
    ]
    return "\n".join(
        [
            "Dataset version finalized → its training run enqueued (seconds), versions finalized at random moments:",
            "",
            "| trigger | p50 | p95 | max | runs | missed |",
            "| --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
            f"Stock default against the push path, p50: {results['stock_vs_push_p50']}x slower.",
        ]
    )


def _markdown_loop(results: dict[str, Any]) -> str:
    stages = results["median_stage_seconds"]
    return "\n".join(
        [
            "From a finished labeled file to the new model taking canary traffic, median over "
            f"{results['iterations']} sessions that passed the gate in `occuloop demo --fast`:",
            "",
            "| stage | seconds |",
            "| --- | --- |",
            *(f"| {stage} | {value} |" for stage, value in stages.items()),
            f"| **overhead (all but training)** | **{results['overhead_seconds']}** |",
            "",
            f"Target (issue 8): ≤ 15 s of overhead. Stock ClearML defaults add, on top of the same work, an expected "
            f"{results['stock_expected_wait_seconds']:.0f} s of waiting (half of: trigger polling 180 s, agent polling "
            f"5 s, serving sync 300 s) and up to {results['stock_worst_wait_seconds']:.0f} s; the canary ramp that "
            "follows is policy (window length per step), not overhead.",
        ]
    )


def _markdown_rollout(results: dict[str, Any]) -> str:
    stock = results["stock_expected_s"]

    def row(name: str, key: str) -> str:
        measured = results[key]
        return (f"| {name} | {measured['p50']} | {measured['max']} | {stock:.0f} (worst {results['stock_worst_s']:.0f}) "
                f"| {stock / max(measured['p50'], 0.01):.0f}x faster |")  # fmt: skip

    return "\n".join(
        [
            f"The canary controller at its production defaults (controller poll 1 s, inference app config poll 5 s), "
            f"{results['rounds']} rounds of a challenger that takes traffic and is rolled back by a live rule "
            f"({', '.join(results['rules'])}), ~40 requests/s on the public endpoint:",
            "",
            "| from → to | p50 s | max s | stock clearml-serving, expected s | ratio at p50 |",
            "| --- | --- | --- | --- | --- |",
            row("gate passed (model tagged `canary`) → the canary answers its first user request",
                "gate_passed_to_traffic_s"),
            row("unhealthy (`event=rolling_back`) → the canary's last user request (rollback complete)",
                "unhealthy_to_rollback_complete_s"),
            "",
            f"Stock clearml-serving re-reads its configuration every 5 minutes (`CLEARML_SERVING_POLL_FREQ`), for a new "
            f"version and for a rollback by re-publishing alike. Requests during the run: {results['requests']:,}, "
            f"failed: {results['failed_requests']} (the champion kept answering throughout).",
        ]
    )  # fmt: skip


def write_section(name: str, body: str, command: str) -> None:
    begin, end = f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"
    section = f"{begin}\nMachine: {machine.describe()}  \nCommand: `{command}`\n\n{body}\n{end}"
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + f"\n\n{section}\n"
    BENCHMARKS_MD.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run (not for BENCHMARKS.md)")
    parser.add_argument("--only", choices=SECTIONS, action="append")
    parser.add_argument(
        "--history-year",
        action="store_true",
        help="history: the daily year in full, the no-policy chain and the weekly years shortened (~30 min, not ~2 h)",
    )
    parser.add_argument(
        "--forward-cache",
        type=Path,
        help="keep the forward section's trained models here (one .npz each) and reuse them on the next run",
    )
    args = parser.parse_args(argv)
    command = "make bench" + (" BENCH_ARGS=" + shlex.quote(" ".join(argv or [])) if argv else "")
    sections = args.only or SECTIONS

    def report(name: str, results: Any, markdown: Callable[[], str]) -> None:
        print(json.dumps(results, indent=2, default=str))
        if not args.quick:  # a quick run is a smoke test: its numbers do not go into BENCHMARKS.md
            write_section(name, markdown(), command)

    if "server" in sections:
        with tempfile.TemporaryDirectory(prefix="occuloop-bench-") as folder:
            results = server_bench.run_all(Path(folder), quick=args.quick)
        report("server", results, lambda: _markdown_server(results))
    if "training" in sections:
        seeds = training_bench.SEEDS[:2] if args.quick else training_bench.SEEDS
        published = training_bench.published_split(seeds)
        by_sessions = training_bench.quality_vs_sessions() if not args.quick else []
        timing = training_bench.full_training_time(1 if args.quick else 3)
        report("training", {"published": published, "sessions": by_sessions, "timing": timing},
               lambda: _markdown_training(published, by_sessions, timing))  # fmt: skip
    if "forward" in sections:
        # CPU-heavy (hundreds of trainings): run it as `nice -n 10 make bench BENCH_ARGS='--only forward'`
        forward = forward_selection.run_all(quick=args.quick, cache=args.forward_cache)
        if not args.quick:
            forward_report.plot(forward)
        report("forward", forward, lambda: forward_report.markdown(forward))
    if "champion" in sections:
        champion = champion_bench.run_all()
        report("champion", champion, lambda: champion_bench.markdown(champion))
    if "sync" in sections:
        sync_results = sync_bench.run_all(quick=args.quick)
        report("sync", sync_results, lambda: _markdown_sync(sync_results))
    if "trigger" in sections:
        trigger_results = trigger_bench.run_all(quick=args.quick)
        report("trigger", trigger_results, lambda: _markdown_trigger(trigger_results))
    if "serving" in sections:
        with tempfile.TemporaryDirectory(prefix="occuloop-bench-") as folder:
            served = serving_bench.run_all(Path(folder), quick=args.quick)
        report("serving", served, lambda: serving_bench.markdown(served))
    if "rollout" in sections:
        with tempfile.TemporaryDirectory(prefix="occuloop-bench-") as folder:
            rolled = rollout_bench.run_all(Path(folder), quick=args.quick)
        report("rollout", rolled, lambda: _markdown_rollout(rolled))
    if "loop" in sections:
        loop_results = loop_bench.run_all(quick=args.quick)
        report("loop", loop_results, lambda: _markdown_loop(loop_results))
    if "ui" in sections:
        with tempfile.TemporaryDirectory(prefix="occuloop-bench-") as folder:
            shown = ui_bench.run_all(Path(folder), quick=args.quick)
        report("ui", shown, lambda: ui_bench.markdown(shown))
    if "lookups" in sections:
        looked_up = lookup_bench.run_all(quick=args.quick)
        report("lookups", looked_up, lambda: lookup_bench.markdown(looked_up))
    if "history" in sections:  # long: about two hours on 2 busy cores (--quick: about half an hour)
        with tempfile.TemporaryDirectory(prefix="occuloop-bench-") as folder:
            history = history_bench.run_all(
                Path(folder), quick=args.quick, squash_depth=SyncSettings.squash_depth, year=args.history_year
            )
        steady = history_report.steady_stage_seconds(BENCHMARKS_MD.read_text())
        if not args.quick:
            history_report.CHART.write_text(history_report.chart(history))
        report("history", history, lambda: history_report.markdown(history, steady))
    if not args.quick:
        print(f"updated {BENCHMARKS_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
