"""The scheduled retraining end to end, in process on a real instance, with the tiny corpus and the tiny random
Whisper: the schedule asks for a run, ``retraining_job`` prepares every language, trains under the dated name,
evaluates and promotes it; nothing changed → the next tick skips; a new speaker → the next tick re-prepares only
that language and retrains, and stricter gates refuse that model: recorded, production unchanged."""

import time
from datetime import UTC, datetime

import dagster as dg

from whisper_pipeline.jobs import PARENT_TAG, pipeline_definitions
from whisper_pipeline.models import registry
from whisper_pipeline.retraining import RUN_TAG, prepared_fingerprint, uploads_fingerprint
from whisper_pipeline.schedules import retraining_schedule
from whisper_pipeline.workspace import LANGUAGES
from whisper_pipeline_tests.conftest import espeak_wav
from whisper_pipeline_tests.pipeline import pipeline_resources


def tick(ws, instance, when: datetime):
    resources = {"workspace": pipeline_resources(ws, "")["workspace"]}
    with dg.build_schedule_context(instance=instance, resources=resources, scheduled_execution_time=when) as ctx:
        data = retraining_schedule.evaluate_tick(ctx)
    return data.run_requests[0] if data.run_requests else data.skip_message


def retrain(defs, instance, request: dg.RunRequest, preset, **gates) -> dg.ExecuteInProcessResult:
    """What the daemon launches for ``request``, with the test's preset and gates."""
    config = request.run_config["ops"]["retrain"]["config"]
    # the base model is the tiny model itself here: comparing with it again would only cost time
    config.update(
        train_preset=str(preset),
        train_overrides={"max_steps": 2},
        eval_overrides={"compare_base": False, "conditions": []},
        **gates,
    )
    return defs.resolve_job_def("retraining_job").execute_in_process(
        instance=instance, run_config=request.run_config, tags=request.tags, raise_on_error=False
    )


def outcome(result: dg.ExecuteInProcessResult) -> dict:
    event = next(e for e in result.all_events if e.event_type_value == "STEP_OUTPUT")
    return {k: v.value for k, v in event.step_output_data.metadata.items()}


def test_scheduled_retraining_promotes_then_refuses(workspace, tiny_model_dir, tmp_path):
    preset = tmp_path / "tiny.yaml"
    preset.write_text(
        "ops:\n  checkpoint:\n    config:\n      run_name: overridden\n      max_steps: 50\n      batch_size: 4\n"
        "      predict_with_generate: false\n"
    )
    defs = pipeline_definitions(pipeline_resources(workspace, tiny_model_dir))
    with dg.instance_for_test() as instance:
        # first tick: no production model → everything prepared, trained, evaluated, promoted
        first = tick(workspace, instance, datetime(2026, 11, 29, 3, 0, tzinfo=UTC))
        assert isinstance(first, dg.RunRequest), first
        started = time.time()
        result = retrain(defs, instance, first, preset, wer_ceiling=100.0)
        first_s = time.time() - started
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        meta = first_meta = outcome(result)
        assert meta["outcome"] == "promoted" and meta["run"] == "retrain-2026-11-29-0300"
        assert meta["prepared"] == list(LANGUAGES) and meta["production_after"] == "retrain-2026-11-29-0300"
        assert registry.production_run(workspace)["run"] == "retrain-2026-11-29-0300"
        hp = registry.run_manifest(workspace, "retrain-2026-11-29-0300")["hyperparameters"]
        assert hp["max_steps"] == 2 and hp["languages"] == list(LANGUAGES), "preset + overrides, every language"
        children = instance.get_runs(dg.RunsFilter(tags={RUN_TAG: "retrain-2026-11-29-0300"}))
        jobs = sorted(r.job_name for r in children)
        assert jobs == sorted(
            ["retraining_job", "training_job", "promotion_job"] + ["data_prep_job", "evaluation_job"] * 3
        ), jobs
        assert all(r.tags[PARENT_TAG] == result.run_id for r in children if r.run_id != result.run_id)
        assert all(prepared_fingerprint(workspace, l) == uploads_fingerprint(workspace, l) for l in LANGUAGES)

        # nothing changed → skip, with the reason
        skip = tick(workspace, instance, datetime(2026, 12, 6, 3, 0, tzinfo=UTC))
        assert isinstance(skip, str) and skip.startswith(
            "nothing changed since the production model retrain-2026-11-29"
        )

        # a new sr speaker → only sr prepared again; gates that no model can pass → refused, production kept
        speaker = workspace.uploads / "sr" / "sr_new_speaker"
        speaker.mkdir()
        for i, text in enumerate(["Nova rečenica za obuku.", "Još jedna rečenica."]):
            espeak_wav(text, "sr", speaker / f"u{i}.wav")
            (speaker / f"u{i}.txt").write_text(text)
        second = tick(workspace, instance, datetime(2026, 12, 6, 3, 0, tzinfo=UTC))
        assert isinstance(second, dg.RunRequest), second
        assert second.run_config["ops"]["retrain"]["config"]["prepare_languages"] == ["sr"]
        started = time.time()
        refused = retrain(defs, instance, second, preset, wer_ceiling=0.0)
        second_s = time.time() - started
        assert refused.success, "a refusal is an outcome, not a crash"
        meta = outcome(refused)
        assert meta["outcome"] == "refused" and meta["prepared"] == ["sr"]
        assert (
            meta["refusal"].startswith("retrain-2026-12-06-0300 not promoted: ")
            and "above the ceiling 0.0" in (meta["refusal"])
        )
        assert meta["production_before"] == meta["production_after"] == "retrain-2026-11-29-0300"
        assert registry.production_run(workspace)["run"] == "retrain-2026-11-29-0300", "the service keeps the old"
        assert registry.last_refusal(workspace)["run"] == "retrain-2026-12-06-0300"
        assert all(meta["gate_failures"][l] == ["wer_below_ceiling"] for l in LANGUAGES), meta["gate_failures"]

        # the refused data is not retrained again next week
        again = tick(workspace, instance, datetime(2026, 12, 13, 3, 0, tzinfo=UTC))
        assert isinstance(again, str) and again.startswith("nothing changed since retrain-2026-12-06-0300"), again
    print(
        f"\nscheduled chain on the tiny corpus: first run {first_s:.1f} s {first_meta['step_seconds']}; "
        f"second run {second_s:.1f} s {meta['step_seconds']}"
    )
