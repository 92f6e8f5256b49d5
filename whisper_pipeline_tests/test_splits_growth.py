"""Splits through Dagster: re-runs are byte-identical, and new speakers never move old ones."""

import dagster as dg

from whisper_pipeline.assets import deduped, normalized_transcripts, raw_audio, splits
from whisper_pipeline.assets.checks import ALL_CHECKS
from whisper_pipeline.data.splits import SPLITS
from whisper_pipeline.io import read_jsonl
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline_tests.conftest import espeak_wav

DATASET = [raw_audio, deduped, normalized_transcripts, splits]


def materialize(ws, instance, lang):
    checks = [
        c for c in ALL_CHECKS if any(k.asset_key.path[-1] in {a.key.path[-1] for a in DATASET} for k in c.check_keys)
    ]
    result = dg.materialize(
        [*DATASET, *checks],
        partition_key=lang,
        instance=instance,
        resources={"workspace": WorkspaceResource(root=str(ws.root))},
    )
    assert result.success
    return {c.check_name: c.passed for c in result.get_asset_check_evaluations()}


def speaker_splits(ws, lang):
    return {l["speaker"]: s for s in SPLITS for l in read_jsonl(ws.split_manifest(lang, s))}


def test_rerun_identical_and_growth_keeps_every_speaker_in_its_split(workspace):
    instance = dg.DagsterInstance.ephemeral()
    materialize(workspace, instance, "sr")
    before = {s: workspace.split_manifest("sr", s).read_bytes() for s in SPLITS}
    first = speaker_splits(workspace, "sr")
    assert sorted(first.values()) == ["test", "train", "validation"]

    materialize(workspace, instance, "sr")
    assert {s: workspace.split_manifest("sr", s).read_bytes() for s in SPLITS} == before, "same inputs ⇒ same bytes"

    for n in range(4):  # four new speakers arrive
        d = workspace.uploads / "sr" / f"novi_govornik_{n}"
        d.mkdir()
        for i, text in enumerate([f"Danas je lep dan broj {n + 1}.", f"Sutra idemo na pijacu u {n + 5} sati."]):
            espeak_wav(text, "sr", d / f"u{i}.wav")
            (d / f"u{i}.txt").write_text(text)
    checks = materialize(workspace, instance, "sr")
    after = speaker_splits(workspace, "sr")
    assert {s: after[s] for s in first} == first, "no existing speaker moved"
    assert len(after) == len(first) + 4
    assert (
        checks["no_speaker_in_two_splits"]
        and checks["manifest_lines_valid"]
        and checks["normalized_fraction_meets_target"]
    )
