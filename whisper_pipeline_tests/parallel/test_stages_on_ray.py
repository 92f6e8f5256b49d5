"""The stages' per-file maps on a real Ray cluster on 127.0.0.1 give the results of the local run: preprocessing
(files and manifest lines), intake (inventory rows), a Dagster run with the address in its config, alignment (word
timestamps) and evaluation (hypotheses and scores)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path

import dagster as dg
import pytest
import soundfile as sf

from whisper_pipeline.alignment.align import AlignmentSettings, load_aligner
from whisper_pipeline.assets import deduped, normalized_transcripts, processed_audio, raw_audio, splits
from whisper_pipeline.audio.inspect import sha256_file
from whisper_pipeline.audio.preprocess import PreprocessOptions, preprocess_rows
from whisper_pipeline.data.discovery import discover
from whisper_pipeline.data.inventory import IntakeCache, build_inventory
from whisper_pipeline.data.manifests import ManifestLine, write_lines
from whisper_pipeline.evaluation.report import evaluate_models
from whisper_pipeline.io import read_jsonl
from whisper_pipeline.parallel import ParallelSettings
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.stages.align import align_stage
from whisper_pipeline.workspace import SPLITS, Workspace
from whisper_pipeline_tests.conftest import espeak_16k, espeak_wav

LOCAL = ParallelSettings(workers=2)
SENTENCES = ["Sutra će biti sunčano i toplo.", "Dobar dan, kako ste?", "Vlak kreće u osam sati."]


def sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> list[ManifestLine]:
    """Three espeak-ng sentences (22.05 kHz WAV; 44.1 kHz stereo FLAC padded with silence; MP3) and a broken file."""
    d = tmp_path_factory.mktemp("ray-sources")
    wavs = [espeak_wav(text, "hr", d / f"s{n}.wav") for n, text in enumerate(SENTENCES)]
    subprocess.run(["sox", str(wavs[1]), "-r", "44100", "-c", "2", str(d / "s1.flac"), "pad", "1.0", "1.5"], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wavs[2]), "-b:a", "64k", str(d / "s2.mp3")], check=True)
    (d / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVE not audio at all")
    files = [wavs[0], d / "s1.flac", d / "s2.mp3", d / "broken.wav"]
    return [
        ManifestLine(
            id=f"u{n}",
            audio=str(f),
            transcript=SENTENCES[n] if n < 3 else "x",
            duration=sf.info(str(wavs[min(n, 2)])).duration,
            language="hr",
            speaker="s1",
            split="train",
            sha256=sha256_file(f),
        )
        for n, f in enumerate(files)
    ]


@pytest.fixture(scope="module")
def speech16k(tmp_path_factory) -> list[ManifestLine]:
    """The sentences as processed_audio leaves them (16 kHz mono WAV), as manifest lines."""
    d = tmp_path_factory.mktemp("ray-16k")
    clips = [espeak_16k(text, "hr", d / f"a{n}.wav") for n, text in enumerate(SENTENCES)]
    return [
        ManifestLine(
            id=f"a{n}", audio=str(c), transcript=SENTENCES[n], duration=sf.info(str(c)).duration, language="hr",
            speaker=f"s{n}", split="test", sha256=sha256_file(c),
        )
        for n, c in enumerate(clips)
    ]  # fmt: skip


@contextmanager
def one_torch_thread() -> Iterator[None]:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def preprocess_into(out: Path, rows: list[ManifestLine], parallel: ParallelSettings):
    return preprocess_rows(rows, lambda r: out / f"{r.id}.wav", {}, PreprocessOptions(), parallel=parallel)


def test_preprocessing_on_ray_is_byte_identical_to_the_local_pool(ray_cluster, sources, tmp_path):
    local_lines, local_converted, local_errors = preprocess_into(tmp_path / "local", sources, LOCAL)
    ray_lines, ray_converted, ray_errors = preprocess_into(tmp_path / "ray", sources, ray_cluster)

    assert local_converted == ray_converted == 3 and len(local_errors) == 1
    assert ray_errors == local_errors and "broken.wav" in ray_errors[0], "the bad file named, the same way"
    assert [asdict(replace(l, audio=Path(l.audio).name)) for l in ray_lines] == [
        asdict(replace(l, audio=Path(l.audio).name)) for l in local_lines
    ]
    assert [sha(l.audio) for l in ray_lines] == [sha(l.audio) for l in local_lines], "the same bytes on disk"
    assert all(l.trim[0] > 0.5 for l in ray_lines if l.id == "u1"), "the padded file was really trimmed"


def test_a_preprocessing_worker_killed_mid_map_on_ray_still_gives_the_local_bytes(
    ray_cluster, sources, tmp_path, monkeypatch
):
    """Ray's task retries on a real stage: two workers SIGKILLed while they process a file (one as it renames its
    finished output into place, one 30 ms in); the map is whole and the outputs are the local run's bytes. What a
    killed writer left is only its temp file, which the stage's sweep at its next start removes (its process is
    gone)."""
    import whisper_pipeline.audio.preprocess as preprocess
    from whisper_pipeline.io import sweep_stale_temps, temp_writer

    from .tasks import preprocess_killed_once

    local_lines, _, local_errors = preprocess_into(tmp_path / "local", sources, LOCAL)
    markers = tmp_path / "markers"
    markers.mkdir()
    doomed = (Path(sources[0].audio).name, Path(sources[1].audio).name)
    task = partial(preprocess_killed_once, markers=str(markers), doomed=doomed)
    monkeypatch.setattr(preprocess, "_process_item", task)
    ray_lines, converted, ray_errors = preprocess_into(tmp_path / "ray", sources, ray_cluster)

    assert sorted(p.name for p in markers.iterdir()) == sorted(f"{name}.died" for name in doomed), "workers died"
    assert converted == 3 and ray_errors == local_errors
    assert [sha(l.audio) for l in ray_lines] == [sha(l.audio) for l in local_lines], "the same bytes on disk"
    outputs = {Path(l.audio).name for l in ray_lines}
    leftovers = [p.name for p in (tmp_path / "ray").iterdir() if p.name not in outputs]
    assert leftovers and all(temp_writer(name) for name in leftovers), "the killed rename left its temp"
    assert sweep_stale_temps(tmp_path / "ray") == len(leftovers)
    assert sorted(p.name for p in (tmp_path / "ray").iterdir()) == sorted(outputs)


def test_intake_on_ray_gives_the_local_inventory(ray_cluster, tiny_corpus, tmp_path):
    items, _ = discover(tiny_corpus, "hr")
    local_cache, ray_cache = IntakeCache(tmp_path / "local.json"), IntakeCache(tmp_path / "ray.json")
    local = build_inventory(items, tiny_corpus, local_cache, parallel=LOCAL)
    on_ray = build_inventory(items, tiny_corpus, ray_cache, parallel=ray_cluster)
    assert on_ray == local
    assert ray_cache.decoded == local_cache.decoded >= len(items) - 1, "the checks really ran on both"
    assert {r["status"] for r in on_ray} >= {"ok", "unusable"}, "good and bad files among them"


def test_dagster_run_with_the_ray_address_in_its_config_writes_the_local_manifests(ray_cluster, tiny_corpus, tmp_path):
    """raw_audio → processed_audio through Dagster for one partition, once with the local pool and once with
    ``ray_address`` in the two mapping assets' config: the same manifests and processed files."""

    def run(name: str, parallel: dict) -> Workspace:
        ws = Workspace.at(tmp_path / name)
        shutil.copytree(tiny_corpus, ws.uploads)
        ws.ensure()
        config = {
            "ops": {"raw_audio": {"config": {"harvest": False, **parallel}}, "processed_audio": {"config": parallel}}
        }
        result = dg.materialize(
            [raw_audio, deduped, normalized_transcripts, splits, processed_audio],
            partition_key="hr",
            resources={"workspace": WorkspaceResource(root=str(ws.root))},
            run_config=config,
        )
        assert result.success
        return ws

    local, on_ray = run("local", {"workers": 2}), run("ray", {"ray_address": ray_cluster.ray_address})

    def manifest(ws: Workspace) -> list[dict]:
        lines = [l for s in SPLITS for l in read_jsonl(ws.processed_manifest("hr", s))]
        return [
            {k: str(v).replace(str(ws.root), "<ws>") if k in ("audio", "source_audio") else v for k, v in l.items()}
            for l in lines
        ]

    assert manifest(on_ray) == manifest(local) and len(manifest(local)) == 6
    assert [sha(l["audio"].replace("<ws>", str(on_ray.root))) for l in manifest(on_ray)] == [
        sha(l["audio"].replace("<ws>", str(local.root))) for l in manifest(local)
    ]
    assert inventory(on_ray) == inventory(local) and len(inventory(local)) >= 6


def inventory(ws: Workspace) -> list[dict]:
    """The inventory rows with the workspace's own root written as <ws>."""
    return [
        {k: v.replace(str(ws.root), "<ws>") if isinstance(v, str) else v for k, v in row.items()}
        for row in read_jsonl(ws.inventory("hr"))
    ]


@pytest.mark.slow  # ~30 s on the shared 2-core machine: a Ray worker per CPU imports transformers and stable-ts
def test_alignment_on_ray_writes_what_the_in_process_aligner_writes(ray_cluster, tiny_model_dir, speech16k, tmp_path):
    """The tiny random Whisper aligning three espeak-ng clips: in this process (one model), and one Ray task per
    file (each worker loading the model once, from a loader that pickles): the same word timestamps."""
    lines = speech16k

    def run(name: str, parallel: ParallelSettings) -> tuple[list[dict], list[dict]]:
        ws = Workspace.at(tmp_path / name).ensure()
        write_lines(ws.processed_manifest("hr", "train"), [replace(l, split="train") for l in lines])
        for split in SPLITS[1:]:
            write_lines(ws.processed_manifest("hr", split), [])
        loader = partial(load_aligner, tiny_model_dir, "cpu")
        meta = align_stage(ws, "hr", AlignmentSettings(), loader, parallel=parallel).metadata
        assert meta["aligned_this_run"] == 3
        results = read_jsonl(ws.alignments("hr"))
        docs = [json.loads(Path(r.pop("json_path")).read_text()) for r in results]
        return results, docs

    with one_torch_thread():  # as in a Ray worker (one CPU): the same float sums, so the same timestamps
        here = run("here", LOCAL)
    on_ray = run("ray", ray_cluster)
    assert on_ray == here
    assert all(doc["segments"] for doc in here[1]), "words were really aligned"


@pytest.mark.slow  # 20-60 s on the shared 2-core machine: the random tiny model decodes up to its token limit
def test_evaluation_on_ray_scores_what_the_in_process_evaluation_scores(ray_cluster, tiny_model_dir, speech16k):
    """Two models (the tiny one twice) on a clip, clean and under one degraded condition: one after another here,
    or one Ray task per model: the same hypotheses and scores (timings aside)."""
    models = {"finetuned": tiny_model_dir, "base": tiny_model_dir}

    def evaluate(parallel: ParallelSettings) -> dict:
        doc = evaluate_models(
            models, speech16k[:1], "hr", batch_size=1, device="cpu", conditions=["telephone"], parallel=parallel
        )
        for entry in doc["models"].values():
            assert entry.pop("real_time_factor") > 0
        assert doc.pop("conditions_seconds") > 0
        return doc

    with one_torch_thread():
        here = evaluate(LOCAL)
    on_ray = evaluate(ray_cluster)
    assert on_ray == here
    assert set(here["conditions"]["telephone"]["models"]) == {"finetuned", "base"}
