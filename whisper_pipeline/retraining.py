"""Retraining without Dagster: decide whether and what to retrain (``plan_retraining``), and run the chain
(``run_chain``): data stages of the languages whose uploads changed → ``checkpoint`` under a new run name →
``eval_report`` for every language → ``production_model``. The demo and the scheduled ``retrain`` op
(``jobs.py``) share it; they differ only in the ``JobRunner`` that executes each job.

Why a state file (``ws.prepared_uploads``) and not the schedule's cursor: the chain that prepared the data is
what knows it succeeded, the demo prepares data too, and the decision must survive a schedule being reset.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from whisper_pipeline.data.discovery import discover
from whisper_pipeline.io import write_json
from whisper_pipeline.models import registry
from whisper_pipeline.stages import DEFAULT_LOG, Log
from whisper_pipeline.training.package import file_sha256
from whisper_pipeline.workspace import LANGUAGES, Workspace

CRON_ENV, TIMEZONE_ENV, PRESET_ENV = (
    "WHISPER_PIPELINE_RETRAIN_CRON",
    "WHISPER_PIPELINE_RETRAIN_TIMEZONE",
    "WHISPER_PIPELINE_RETRAIN_PRESET",
)
DEFAULT_CRON = "0 3 * * 0"  # weekly, Sunday 03:00
DEFAULT_TIMEZONE = "UTC"
RUN_TAG = "whisper_pipeline/retraining"  # on the retraining run and every run it starts: the dated run name
# the blocking gate checks on eval_report (assets/gate_checks.py), as ops of evaluation_job
GATE_CHECK_OPS = ("eval_report_wer_below_ceiling", "eval_report_no_regression_vs_production")
SPLITS_TRAINED = ("train", "validation")


def retrain_cron() -> str:
    return os.environ.get(CRON_ENV) or DEFAULT_CRON


def retrain_timezone() -> str:
    return os.environ.get(TIMEZONE_ENV) or DEFAULT_TIMEZONE


def dated_run_name(when: datetime) -> str:
    """``retrain-2026-11-29-0300``: one run name per schedule tick (also the tick's run key)."""
    return when.strftime("retrain-%Y-%m-%d-%H%M")


# --- what changed -------------------------------------------------------------------------------------


def uploads_fingerprint(ws: Workspace, lang: str) -> str:
    """SHA-256 over the paths, sizes and modification times of the language's candidate files ('' if none):
    cheap, nothing is decoded."""
    items, _ = discover(ws.uploads, lang)
    if not items:
        return ""
    listing = sorted((str(i.audio), os.stat(i.audio).st_size, os.stat(i.audio).st_mtime_ns) for i in items)
    return hashlib.sha256(json.dumps(listing).encode()).hexdigest()


def prepared_fingerprint(ws: Workspace, lang: str) -> str:
    """The uploads fingerprint the language's last successful data preparation saw ('' if never)."""
    path = ws.prepared_uploads(lang)
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("fingerprint", "") if path.is_file() else ""
    except json.JSONDecodeError:
        return ""


def record_prepared(ws: Workspace, lang: str, fingerprint: str, run_id: str = "") -> Path:
    """Remember what a successful data preparation of ``lang`` saw (call it only after it succeeded)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return write_json(ws.prepared_uploads(lang), {"fingerprint": fingerprint, "prepared_at": stamp, "run_id": run_id})


def data_hashes(ws: Workspace, languages: list[str]) -> dict[str, str]:
    """SHA-256 of the training data manifests (train and validation) of ``languages``, keyed by their path
    relative to the workspace: what ``run_manifest.json`` records as ``data_manifests``."""
    paths = [ws.ready_manifest(l, s) for l in languages for s in SPLITS_TRAINED]
    return {_relative(ws, p): file_sha256(p) for p in paths if p.is_file()}


def recorded_hashes(ws: Workspace, run: str) -> dict[str, str]:
    """The data manifest hashes ``run``'s manifest records, keyed like ``data_hashes``."""
    return {_relative(ws, Path(p)): h for p, h in (registry.run_manifest(ws, run).get("data_manifests") or {}).items()}


def _relative(ws: Workspace, path: Path) -> str:
    try:
        return str(path.relative_to(ws.root))
    except ValueError:
        return str(path)


def _differences(recorded: dict[str, str], current: dict[str, str]) -> list[str]:
    return sorted(
        [f"{p} changed" for p in current if p in recorded and recorded[p] != current[p]]
        + [f"{p} new" for p in current if p not in recorded]
        + [f"{p} gone" for p in recorded if p not in current]
    )


@dataclass
class RetrainPlan:
    """Whether to retrain, why, which languages' data stages run first, and which languages are trained."""

    run: bool
    reason: str
    prepare: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)


def plan_retraining(ws: Workspace) -> RetrainPlan:
    """Retrain when there is no production model yet, or when uploads changed since a language's last data
    preparation (those languages are prepared again), or when the training manifests differ from the hashes
    the production run's manifest records, or when production is marked as trained on removed data. Not when
    the latest refused run was trained on exactly today's data (it would be refused again)."""
    fingerprints = {l: uploads_fingerprint(ws, l) for l in LANGUAGES}
    languages = [l for l in LANGUAGES if fingerprints[l]]
    if not languages:
        return RetrainPlan(False, f"no uploads in any language under {ws.uploads}")
    prepare = [l for l in languages if fingerprints[l] != prepared_fingerprint(ws, l)]
    production = registry.production_run(ws)
    if production is None:
        return RetrainPlan(True, "no production model yet", prepare, languages)
    if prepare:
        return RetrainPlan(
            True, f"uploads changed since the last data preparation: {', '.join(prepare)}", prepare, languages
        )
    current = data_hashes(ws, languages)
    changes = _differences(recorded_hashes(ws, production["run"]), current)
    removed = registry.needs_retraining(ws, production["run"])  # governance: trained on data since removed
    if removed:
        changes.append(f"production was trained on data since removed ({removed.get('reason', '')})")
    if not changes:
        return RetrainPlan(
            False,
            f"nothing changed since the production model {production['run']}: uploads of {', '.join(languages)} "
            f"unchanged since their last data preparation, and the {len(current)} training manifests have the "
            f"hashes its run_manifest.json records",
        )
    refusal = registry.last_refusal(ws)
    if (
        refusal
        and refusal["refused_at"] >= production.get("promoted_at", "")
        and not _differences(recorded_hashes(ws, refusal["run"]), current)
    ):
        return RetrainPlan(
            False,
            f"nothing changed since {refusal['run']}, trained on this data and refused at {refusal['refused_at']} "
            f"({refusal['reason']}); production stays {production['run']} until new data arrives",
        )
    return RetrainPlan(
        True, f"training data differs from production {production['run']}'s: {'; '.join(changes)}", prepare, languages
    )


# --- the chain ------------------------------------------------------------------------------------------


@dataclass
class JobOutcome:
    """What a job run did, in plain values."""

    success: bool
    run_id: str = ""
    materialized: int = 0
    failed_checks: list[str] = field(default_factory=list)
    failure: str = ""  # the first step failure's message


class JobRunner(Protocol):
    def __call__(self, job: str, partition: str | None = None, run_config: dict | None = None) -> JobOutcome: ...


def in_process_runner(get_job: Callable[[str], Any], instance: Any, tags: dict[str, str] | None = None) -> JobRunner:
    """Runs a job in this process on ``instance`` (``get_job`` is e.g. ``Definitions.resolve_job_def``), so the
    runs are recorded there like any other."""

    def execute(job: str, partition: str | None = None, run_config: dict | None = None) -> JobOutcome:
        result = get_job(job).execute_in_process(
            instance=instance, partition_key=partition, run_config=run_config or {}, tags=tags, raise_on_error=False
        )
        failure = next(
            (
                e.step_failure_data.error.message.strip().removeprefix("dagster._core.definitions.events.Failure: ")
                for e in result.all_events
                if e.is_step_failure
            ),
            "",
        )
        return JobOutcome(
            success=result.success,
            run_id=result.run_id,
            materialized=len(result.get_asset_materialization_events()),
            failed_checks=[c.check_name for c in result.get_asset_check_evaluations() if not c.passed],
            failure=failure,
        )

    return execute


class ChainError(Exception):
    """A data, training or evaluation step failed: the chain stops there."""

    def __init__(self, job: str, partition: str | None, outcome: JobOutcome):
        self.job, self.partition, self.outcome = job, partition, outcome
        where = f"{job}[{partition}]" if partition else job
        super().__init__(f"{where} failed (run {outcome.run_id}): {outcome.failure or 'see the run'}")


@dataclass
class ChainResult:
    run: str
    prepared: list[str]
    languages: list[str]
    gate_failures: dict[str, list[str]]
    promoted: bool
    refusal: str  # the promotion step's message when not promoted
    timings: dict[str, float]
    run_ids: dict[str, str]

    @property
    def refused_by_gates(self) -> bool:
        return not self.promoted and " not promoted: " in self.refusal


def run_chain(
    ws: Workspace,
    execute: JobRunner,
    training_config: dict,
    languages: list[str],
    prepare: list[str] | None = None,
    gates: dict | None = None,
    evaluation: dict | None = None,
    log: Log = DEFAULT_LOG,
) -> ChainResult:
    """Data preparation of ``prepare`` (default: every language of ``languages``), training on ``languages``
    with ``training_config`` (``training_job``'s run config; its ``run_name`` names the run), evaluation of
    each language (``evaluation``: eval_report settings; the blocking gate checks run too, with ``gates`` when
    given), then promotion with the same
    gates. A gate refusal is recorded in the registry and returned, not raised; any other failure raises
    ``ChainError``."""
    prepare = list(languages if prepare is None else prepare)
    timings: dict[str, float] = {}
    run_ids: dict[str, str] = {}

    def step(job: str, partition: str | None = None, run_config: dict | None = None) -> JobOutcome:
        label = f"{job}{f' [{partition}]' if partition else ''}"
        log.info(f"{label}: starting")
        started = time.time()
        outcome = execute(job, partition, run_config)
        timings[label], run_ids[label] = time.time() - started, outcome.run_id
        log.info(f"{label}: {'done' if outcome.success else 'failed'} in {timings[label]:.1f} s (run {outcome.run_id})")
        return outcome

    for lang in prepare:
        fingerprint = uploads_fingerprint(ws, lang)  # before the run: a change during it is seen next time
        outcome = step("data_prep_job", lang)
        if not outcome.success:
            raise ChainError("data_prep_job", lang, outcome)
        record_prepared(ws, lang, fingerprint, outcome.run_id)

    config = json.loads(json.dumps(training_config))  # a copy
    train = config.setdefault("ops", {}).setdefault("checkpoint", {}).setdefault("config", {})
    train["languages"] = list(languages)
    run = train.get("run_name") or "run1"
    outcome = step("training_job", run_config=config)
    if not outcome.success:
        raise ChainError("training_job", None, outcome)

    gate_failures = {}
    for lang in languages:
        ops = {"eval_report": {"config": {**(evaluation or {}), "run_name": run}}}
        if gates:
            ops.update({op: {"config": dict(gates)} for op in GATE_CHECK_OPS})
        outcome = step("evaluation_job", lang, {"ops": ops})
        # a model that fails the blocking gate checks is still evaluated: only a missing report is an error
        if not outcome.materialized:
            raise ChainError("evaluation_job", lang, outcome)
        gate_failures[lang] = outcome.failed_checks

    promotion = step(
        "promotion_job", run_config={"ops": {"production_model": {"config": {"run_name": run, **(gates or {})}}}}
    )
    result = ChainResult(
        run, prepare, list(languages), gate_failures, promotion.success, promotion.failure, timings, run_ids
    )
    if result.refused_by_gates:  # the promotion stage recorded the refusal in the registry
        log.warning(f"{promotion.failure}; production stays {(registry.production_run(ws) or {}).get('run', '(none)')}")
    return result
