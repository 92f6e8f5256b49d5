"""The dataset checks: exact copies in an upload folder never block training, in either order."""

import shutil
from pathlib import Path

import dagster as dg
import pytest

from whisper_pipeline.assets import deduped, normalized_transcripts, raw_audio, splits
from whisper_pipeline.assets.checks import ALL_CHECKS
from whisper_pipeline.data.dataset_checks import (
    recordings_in_two_splits,
    speakers_in_two_splits,
    untrainable_training_lines,
)
from whisper_pipeline.data.manifests import ManifestLine
from whisper_pipeline.data.splits import SPLITS
from whisper_pipeline.io import read_jsonl
from whisper_pipeline.resources import WorkspaceResource

ORIGINAL = {"file_id": "hr-a-u1", "sha256": "h1", "status": "ok", "duplicate_of": ""}
COPY = {
    "file_id": "hr-a-u1copy",
    "sha256": "h1",
    "status": "duplicate",
    "duplicate_of": "hr-a-u1",
    "reason": "exact copy of hr-a-u1",
}


def line(
    file_id: str, split: str, sha: str, transcript: str = "dobar dan", lang: str = "hr", speaker: str = "a"
) -> ManifestLine:
    return ManifestLine(
        id=file_id,
        audio=f"/a/{file_id}.wav",
        transcript=transcript,
        duration=1.0,
        language=lang,
        speaker=speaker,
        split=split,
        sha256=sha,
    )


@pytest.mark.parametrize("inventory", [[ORIGINAL, COPY], [COPY, ORIGINAL]], ids=["copy-after", "copy-before"])
def test_kept_original_of_an_exact_copy_is_trainable_in_either_order(inventory):
    assert untrainable_training_lines(inventory, [line("hr-a-u1", "train", "h1")]) == []
    assert recordings_in_two_splits(inventory, [line("hr-a-u1", "train", "h1")], [line("hr-a-u1", "train", "h1")]) == []


def test_untrainable_lines_say_why():
    bad = {"file_id": "hr-b-u2", "sha256": "h2", "status": "unusable", "reason": "silent"}
    lines = [
        line("hr-b-u2", "train", "h2"),
        line("hr-c-u3", "train", "h3", transcript="  "),
        line("hr-b-u2", "test", "h2"),
    ]
    assert untrainable_training_lines([bad], lines) == ["hr-b-u2: unusable (silent)", "hr-c-u3: empty transcript"]


def test_the_same_recording_in_two_languages_and_splits_is_a_leak():
    inventory = [
        {"file_id": "hr-a-u1", "sha256": "h1", "duplicate_of": ""},
        {"file_id": "bs-x-u1", "sha256": "h1", "duplicate_of": ""},
        {"file_id": "bs-x-u1enc", "sha256": "h9", "duplicate_of": "bs-x-u1"},
    ]
    hr, bs = line("hr-a-u1", "train", "h1"), line("bs-x-u1", "test", "h1", lang="bs")
    assert recordings_in_two_splits(inventory, [hr, bs], [hr]) == [
        "hr-a-u1 (train) is the same recording as bs-x-u1 (test)"
    ]
    assert recordings_in_two_splits(inventory, [hr, line("bs-x-u1enc", "train", "h9")], [hr]) == []
    assert speakers_in_two_splits([hr, line("hr-a-u2", "test", "h5")]) == ["hr/a: test, train"]


def test_exact_copies_uploaded_before_and_after_their_original_pass_the_checks(workspace):
    """Through Dagster: copies sorting before and after their original; every split check passes, the
    copies are flagged duplicates and stay out of the splits, and no language fails because of another."""
    resources = {"workspace": WorkspaceResource(root=str(workspace.root))}
    dataset = [raw_audio, deduped, normalized_transcripts, splits]
    checks = [
        c
        for c in ALL_CHECKS
        if any(k.asset_key.path[-1] in {"raw_audio", "normalized_transcripts", "splits"} for k in c.check_keys)
    ]
    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize([*dataset, *checks], partition_key="sr", resources=resources, instance=instance).success
    train = read_jsonl(workspace.split_manifest("sr", "train"))
    original = train[0]
    src = Path(original["audio"])
    assert src.is_relative_to(workspace.uploads)
    for name in ("0000_copy", "zzzz_copy"):  # inventoried before and after the original
        shutil.copyfile(src, src.with_name(name + src.suffix))
        shutil.copyfile(src.with_suffix(".txt"), src.with_name(name + ".txt"))
    result = dg.materialize([*dataset, *checks], partition_key="sr", resources=resources, instance=instance)
    verdicts = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert (
        result.success and verdicts["no_transcriptless_audio_in_training"] and verdicts["no_duplicate_across_splits"]
    ), verdicts
    rows = {r["filename"].rsplit("/", 1)[-1]: r for r in read_jsonl(workspace.lang_manifests("sr") / "inventory.jsonl")}
    copies = [r for n, r in rows.items() if "_copy" in n]
    assert [r["status"] for r in copies] == ["duplicate", "duplicate"] and {r["duplicate_of"] for r in copies} == {
        original["id"]
    }
    in_splits = {l["id"] for s in SPLITS for l in read_jsonl(workspace.split_manifest("sr", s))}
    assert original["id"] in in_splits and not {r["file_id"] for r in copies} & in_splits
