"""The retraining schedule's decision, evaluated as the daemon does (``evaluate_tick`` on a real instance):
skip with the reason when nothing changed since production, run when uploads or training data changed,
never a second retraining while one runs. The state is set up by hand, so no training is needed here."""

from datetime import UTC, datetime

import dagster as dg
import pytest

from whisper_pipeline.io import write_json, write_jsonl
from whisper_pipeline.models import registry
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.retraining import RUN_TAG, record_prepared, uploads_fingerprint
from whisper_pipeline.schedules import retraining_schedule
from whisper_pipeline.training.package import file_sha256
from whisper_pipeline.workspace import LANGUAGES
from whisper_pipeline_tests.conftest import espeak_wav

TICK = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)


def tick(ws, instance: dg.DagsterInstance) -> dg.RunRequest | str:
    """One evaluation: the run request, or the skip message."""
    resources = {"workspace": WorkspaceResource(root=str(ws.root))}
    with dg.build_schedule_context(instance=instance, resources=resources, scheduled_execution_time=TICK) as ctx:
        data = retraining_schedule.evaluate_tick(ctx)
    if data.run_requests:
        assert len(data.run_requests) == 1
        return data.run_requests[0]
    assert data.skip_message
    return data.skip_message


def prepared_and_trained(ws, run: str = "prod") -> None:
    """As after a retraining: every language prepared, training manifests written, ``run`` trained on them
    (its run_manifest.json records their hashes, with absolute paths as training writes them) and promoted."""
    hashes = {}
    for lang in LANGUAGES:
        record_prepared(ws, lang, uploads_fingerprint(ws, lang))
        for split in ("train", "validation"):
            path = ws.training_manifest(lang, split)
            write_jsonl(path, [{"id": f"{lang}-{split}", "language": lang}])
            hashes[str(path)] = file_sha256(path)
    write_json(ws.run_manifest(run), {"run": run, "data_manifests": hashes})
    registry.promote(ws, run, {lang: 0.3 for lang in LANGUAGES}, reason="test")


@pytest.fixture
def instance():
    """A real instance with storage on disk (the schedule context needs an instance it can reopen)."""
    with dg.instance_for_test() as instance:
        yield instance


def test_no_production_model_yet_runs_everything(workspace, instance):
    request = tick(workspace, instance)
    assert isinstance(request, dg.RunRequest), request
    config = request.run_config["ops"]["retrain"]["config"]
    assert request.run_key == config["run_name"] == "retrain-2026-11-29-0300"
    assert config["prepare_languages"] == config["languages"] == list(LANGUAGES)
    assert request.tags[RUN_TAG] == "retrain-2026-11-29-0300"
    assert request.tags["whisper_pipeline/retrain_reason"] == "no production model yet"


def test_skips_when_nothing_changed_since_production(workspace, instance):
    prepared_and_trained(workspace)
    message = tick(workspace, instance)
    assert isinstance(message, str), message
    assert message.startswith("nothing changed since the production model prod: uploads of bs, hr, sr unchanged")
    assert "the 6 training manifests have the hashes its run_manifest.json records" in message


def test_new_uploads_rerun_that_languages_data_stages(workspace, instance):
    prepared_and_trained(workspace)
    speaker = workspace.uploads / "sr" / "sr_new_speaker"
    speaker.mkdir()
    espeak_wav("Nova rečenica.", "sr", speaker / "u1.wav")
    (speaker / "u1.txt").write_text("Nova rečenica.")
    request = tick(workspace, instance)
    assert isinstance(request, dg.RunRequest), request
    config = request.run_config["ops"]["retrain"]["config"]
    assert config["prepare_languages"] == ["sr"] and config["languages"] == list(LANGUAGES)
    assert "uploads changed since the last data preparation: sr" in request.tags["whisper_pipeline/retrain_reason"]


def test_changed_training_data_runs_without_preparing_again(workspace, instance):
    """Data prepared outside the schedule (e.g. by the uploads sensor) but not trained on yet."""
    prepared_and_trained(workspace)
    write_jsonl(workspace.training_manifest("hr", "train"), [{"id": "hr-train-2", "language": "hr"}])
    request = tick(workspace, instance)
    assert isinstance(request, dg.RunRequest), request
    assert request.run_config["ops"]["retrain"]["config"]["prepare_languages"] == []
    reason = request.tags["whisper_pipeline/retrain_reason"]
    assert reason == "training data differs from production prod's: manifests/training/hr/train.jsonl changed", reason


def test_data_already_refused_is_not_retrained(workspace, instance):
    prepared_and_trained(workspace)
    write_jsonl(workspace.training_manifest("hr", "train"), [{"id": "hr-train-2", "language": "hr"}])
    hashes = {str(p): file_sha256(p) for lang in LANGUAGES for p in workspace_manifests(workspace, lang)}
    write_json(workspace.run_manifest("retrain-x"), {"run": "retrain-x", "data_manifests": hashes})
    registry.record_refusal(workspace, "retrain-x", "retrain-x not promoted: hr: WER 0.9 above the ceiling 0.8")
    message = tick(workspace, instance)
    assert isinstance(message, str) and message.startswith(
        "nothing changed since retrain-x, trained on this data and"
    ), message
    assert "production stays prod" in message


def workspace_manifests(ws, lang):
    return [ws.training_manifest(lang, split) for split in ("train", "validation")]


def test_never_a_second_retraining_while_one_runs(workspace, instance):
    run = dg.DagsterRun(job_name="retraining_job", status=dg.DagsterRunStatus.STARTED, tags={RUN_TAG: "retrain-a"})
    instance.add_run(run)
    message = tick(workspace, instance)
    assert message == f"retraining run {run.run_id} (retrain-a) is still STARTED: one retraining at a time"
    instance.report_run_failed(run)
    assert isinstance(tick(workspace, instance), dg.RunRequest), "a finished run does not block the next"


def test_production_model_freshness_warns_after_the_period_plus_a_margin(tmp_path):
    from whisper_pipeline.assets.freshness import FRESHNESS_CHECKS, production_model_freshness, schedule_period
    from whisper_pipeline.assets.promote import production_model

    assert schedule_period("0 3 * * 0", "UTC").days == 7 and schedule_period("0 3 * * *", "Europe/Zagreb").days == 1
    job = dg.define_asset_job("freshness", selection=dg.AssetSelection.checks(*FRESHNESS_CHECKS))
    defs = dg.Definitions(
        assets=[production_model],
        asset_checks=FRESHNESS_CHECKS,
        jobs=[job],
        resources={"workspace": WorkspaceResource(root=str(tmp_path))},
    )

    def verdict(instance) -> dg.AssetCheckEvaluation:
        (evaluation,) = (
            defs.resolve_job_def("freshness").execute_in_process(instance=instance).get_asset_check_evaluations()
        )
        return evaluation

    with dg.instance_for_test() as instance:
        never = verdict(instance)
        assert not never.passed and never.severity == dg.AssetCheckSeverity.WARN, "no production model: warn"
        assert never.metadata["dagster/freshness_params"].value["lower_bound_delta_seconds"] == 8 * 86400
        instance.report_runless_asset_event(dg.AssetMaterialization(production_model.key))
        assert verdict(instance).passed
    assert production_model_freshness.check_keys == {dg.AssetCheckKey(production_model.key, "freshness_check")}


def test_production_trained_on_removed_data_is_retrained(workspace, instance):
    prepared_and_trained(workspace)
    registry.mark_needs_retraining(workspace, "prod", "trained on yt:abc, removed on request")
    request = tick(workspace, instance)
    assert isinstance(request, dg.RunRequest), request
    assert request.tags["whisper_pipeline/retrain_reason"] == (
        "training data differs from production prod's: production was trained on data since removed "
        "(trained on yt:abc, removed on request)"
    )
