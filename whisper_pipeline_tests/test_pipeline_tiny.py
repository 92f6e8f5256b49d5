"""The whole graph, all three languages, real audio and ffmpeg, a tiny random Whisper (fast)."""

import json

import dagster as dg
import pandas as pd
import soundfile as sf

from whisper_pipeline.assets import checkpoint, eval_report, hyperparameter_sweep
from whisper_pipeline.assets.gate_checks import EVAL_CHECKS
from whisper_pipeline.io import read_jsonl
from whisper_pipeline.workspace import LANGUAGES
from whisper_pipeline_tests.conftest import tree_digest
from whisper_pipeline_tests.pipeline import (
    TEST_CONDITIONS,
    latest_metadata,
    materialize_everything,
    pipeline_resources,
)


def test_whole_graph_with_tiny_model(workspace, tiny_model_dir):
    sources_before = tree_digest(workspace.uploads)
    instance, checks = materialize_everything(
        workspace, tiny_model_dir, list(LANGUAGES), {"run_name": "tiny", "max_steps": 2, "batch_size": 4}
    )
    m = workspace.manifests

    # intake: bad files listed with reasons, the run went on, sources untouched
    inventory = (m / "dataset_inventory.csv").read_text()
    for name, reason in [
        ("not_audio.wav", "undecodable"),
        ("empty.flac", "empty"),
        ("truncated.", "truncated"),
        ("orphan.txt", "orphan_transcript"),
        ("no_transcript.wav", "no_transcript"),
        ("reencoded_copy_of_", "duplicate_re_encoded"),
        ("copy_of_utt000", "duplicate_exact"),
    ]:
        assert any(name in line and reason in line for line in inventory.splitlines()), name
    assert pd.read_parquet(m / "dataset_inventory.parquet").shape[0] == len(inventory.splitlines()) - 1
    report = json.loads((m / "validation_report.json").read_text())
    assert set(report) == set(LANGUAGES) and report["hr"]["rejected"] == 7
    assert tree_digest(workspace.uploads) == sources_before
    balance = json.loads((m / "dataset_balance.json").read_text())
    assert set(balance["by_language"]) == set(LANGUAGES) and balance["total"]["utterances"] == 18
    assert {s for lang in LANGUAGES for s in balance["by_speaker"][lang]} >= {
        r["speaker"] for r in read_jsonl(m / "hr" / "deduped.jsonl")
    }
    assert any("only 3 speaker(s)" in r["message"] for r in balance["recommendations"])
    assert "recommendations" in latest_metadata(instance, "deduped")

    # asset checks ran with every partition, and pass on this corpus
    names = {c.check_name for c in checks}
    assert names == {
        "unusable_fraction_below_threshold",
        "no_transcriptless_audio_in_training",
        "no_duplicate_across_splits",
        "normalized_fraction_meets_target",
        "no_speaker_in_two_splits",
        "every_language_in_every_split",
        "manifest_lines_valid",
    }
    failed = {c.check_name for c in checks if not c.passed}
    assert failed == {"unusable_fraction_below_threshold"}, "hr's deliberately broken files exceed the default 20%"

    # transcripts, splits, processed audio
    sr_norm = read_jsonl(m / "sr" / "normalized.jsonl")
    assert all(not any("\u0400" <= ch <= "\u04ff" for ch in r["transcript_norm"]) for r in sr_norm)
    assert all(workspace.normalized_transcript("sr", r["file_id"]).is_file() for r in sr_norm)
    for name in ("train", "validation", "test"):
        lines = read_jsonl(m / "splits" / f"{name}.jsonl")
        assert {l["language"] for l in lines} == set(LANGUAGES)
        assert set(lines[0]) >= {"id", "audio", "transcript", "duration", "language", "speaker"}
    every_line = [
        l
        for lang in LANGUAGES
        for name in ("train", "validation", "test")
        for l in read_jsonl(workspace.split_manifest(lang, name))
    ]
    assert sorted(l["id"] for l in read_jsonl(m / "run1.jsonl")) == sorted(l["id"] for l in every_line)
    small = read_jsonl(m / "run1_small.jsonl")
    assert small and {l["id"] for l in small} <= {l["id"] for l in every_line}
    processed = read_jsonl(workspace.processed_manifest("hr", "train"))
    info = sf.info(processed[0]["audio"])
    assert (info.samplerate, info.channels) == (16000, 1)

    # alignments succeed for every file: every transcript word placed (a random model's timings may be
    # flagged implausible, but stable-ts converts and runs it: the tiny model has Whisper's 4× ffn width)
    for lang in LANGUAGES:
        aligned = read_jsonl(m / lang / "alignments.jsonl")
        assert len(aligned) == 6 and all(a["status"] in {"aligned", "implausible"} for a in aligned), aligned
        assert all(a["words"] > 0 for a in aligned), aligned

    # the model is saved the transformers way
    run_dir = workspace.run_dir("tiny")
    for f in (
        "config.json",
        "model.safetensors",
        "generation_config.json",
        "preprocessor_config.json",
        "tokenizer.json",
        "run_manifest.json",
    ):
        assert (run_dir / f).is_file(), f
    assert latest_metadata(instance, "checkpoint")["steps"] == 2
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["d_model"], config["encoder_ffn_dim"]) == (64, 256), "the run is the tiny model, fine-tuned"
    manifest = json.loads((run_dir / "run_manifest.json").read_text())
    assert manifest["metrics"] and manifest["hyperparameters"]["max_steps"] == 2

    # evaluation: WER for base and fine-tuned, per language, in the report and the asset metadata
    evaluation = json.loads((m / "eval_tiny.json").read_text())
    for lang in LANGUAGES:
        assert set(evaluation[lang]["models"]) == {"base", "finetuned"}
        assert evaluation[lang]["models"]["finetuned"]["wer"] is not None
        assert "wer" in latest_metadata(instance, "eval_report", lang)

    # a sweep through Dagster, and a training run that takes its best parameters
    resources = pipeline_resources(workspace, tiny_model_dir)
    sweep_config = {
        "ops": {
            "hyperparameter_sweep": {
                "config": {"study": "tiny", "n_trials": 2, "trial_max_steps": 2, "eval_steps": 1, "batch_sizes": [2, 4]}
            }
        }
    }
    assert dg.materialize(
        [hyperparameter_sweep], resources=resources, instance=instance, run_config=sweep_config
    ).success
    sweep_meta = latest_metadata(instance, "hyperparameter_sweep")
    assert sweep_meta["trials"] == 2 and len(pd.read_csv(m / "sweep_tiny.csv")) == 2
    best = json.loads((m / "sweep_tiny_best.json").read_text())["best_params"]
    tuned_config = {
        "ops": {
            "checkpoint": {
                "config": {
                    "run_name": "tuned",
                    "max_steps": 1,
                    "sweep_study": "tiny",
                    "languages": list(LANGUAGES),
                    "predict_with_generate": False,
                }
            }
        }
    }
    assert dg.materialize([checkpoint], resources=resources, instance=instance, run_config=tuned_config).success
    hp = json.loads((workspace.run_dir("tuned") / "run_manifest.json").read_text())["hyperparameters"]
    assert hp["learning_rate"] == best["learning_rate"] and hp["batch_size"] == best["batch_size"]
    assert "tuned" in (workspace.run_dir("tuned") / "README.md").read_text()
    assert json.loads((workspace.models / "processor" / "tokenizer.json").read_text())["model"]["vocab"]

    # the evaluation document and its gates: a tiny random model is far above the WER ceiling
    hr = evaluation["hr"]
    ft = hr["models"]["finetuned"]
    assert ft["wer_ci95"][0] <= ft["wer"] <= ft["wer_ci95"][1] and set(ft["by_speaker"]) and ft["by_duration"]
    assert {"substitutions", "deletions", "insertions", "top_substitutions"} <= set(ft)
    assert "finetuned_vs_base" in hr["comparisons"] and hr["per_utterance"][0]["finetuned_hypothesis"] is not None
    gated = dg.materialize(
        [eval_report, *EVAL_CHECKS],
        partition_key="hr",
        resources=resources,
        instance=instance,
        run_config={"ops": {"eval_report": {"config": {"run_name": "tiny", "conditions": TEST_CONDITIONS}}}},
        raise_on_error=False,
    )
    verdicts = {c.check_name: c.passed for c in gated.get_asset_check_evaluations()}
    assert verdicts == {"wer_below_ceiling": ft["wer"] <= 0.8, "no_regression_vs_production": True}
    page = (workspace.reports / "tiny" / "index.html").read_text()
    assert "Plotly" in page and all(lang in page for lang in LANGUAGES)
    assert (workspace.reports / "tiny" / "summary.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert latest_metadata(instance, "eval_report", "hr")["summary"].startswith(
        "![WER per language](data:image/png;base64,"
    )
