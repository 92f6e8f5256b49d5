"""Alignment in batches (``align_files``: one encoder pass for a batch of clips, each file decoded once) writes
what the per-file path writes (``align_file`` reading the file itself): the same words, the same timestamps (the
tiny random Whisper on espeak-ng clips, one of them over 30 s), the same statuses and reasons."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from whisper_pipeline.alignment.align import align_file, align_files, load_aligner
from whisper_pipeline.audio.ffmpeg import decode
from whisper_pipeline_tests.conftest import espeak_16k

SENTENCES = [
    "Dobar dan.",
    "Molim vas, gdje je željeznički kolodvor i koliko košta karta do Splita?",
    "Kiša pada cijeli dan.",
]
TOLERANCE_S = 0.010


@pytest.fixture(scope="module")
def jobs(tmp_path_factory) -> list[tuple[str, str, str, str, float]]:
    """Three sentences, a 33 s recording of the longest one said six times with pauses, and an unreadable file."""
    d = tmp_path_factory.mktemp("align-batched")
    paths = [str(espeak_16k(text, "hr+m3", d / f"s{i}.wav")) for i, text in enumerate(SENTENCES)]
    said = decode(paths[1])
    long = np.tile(np.concatenate([said, np.zeros(16000, np.float32)]), 6)  # ≈ 33 s
    sf.write(d / "long.wav", long, 16000, subtype="PCM_16")
    (d / "broken.wav").write_bytes(b"RIFF....WAVEfmt nonsense")
    texts = SENTENCES + [" ".join([SENTENCES[1]] * 6), "Ovo se ne čuje."]
    paths += [str(d / "long.wav"), str(d / "broken.wav")]
    return [(p, t, f"f{i}", "", sf.info(p).duration if i < 4 else 1.0) for i, (p, t) in enumerate(zip(paths, texts))]


def words(result) -> list[dict]:
    if not result.json_path:
        return []
    doc = json.loads(Path(result.json_path).read_text(encoding="utf-8"))
    return [w for s in doc["segments"] for w in s["words"]]


def test_batched_alignment_equals_the_per_file_path(jobs, tiny_model_dir, tmp_path):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        aligner = load_aligner(tiny_model_dir, "cpu")
        one = [
            align_file(aligner, path, text, "hr", fid, tmp_path / "one" / fid, seconds)
            for path, text, fid, _, seconds in jobs
        ]
        counts: Counter = Counter()
        batched = align_files(
            aligner,
            [(path, text, fid, str(tmp_path / "batched" / fid), seconds) for path, text, fid, _, seconds in jobs],
            "hr",
            batch_size=2,
            counts=counts,
        )
    finally:
        torch.set_num_threads(threads)
    assert [r.file_id for r in batched] == [j[2] for j in jobs], "results in the jobs' order"
    for a, b in zip(one, batched):
        assert (a.status, a.words, a.reason[:40]) == (b.status, b.words, b.reason[:40]), a.file_id
        wa, wb = words(a), words(b)
        assert [w["word"] for w in wa] == [w["word"] for w in wb], a.file_id
        for x, y in zip(wa, wb):
            assert abs(x["start"] - y["start"]) <= TOLERANCE_S and abs(x["end"] - y["end"]) <= TOLERANCE_S, (x, y)
    assert one[-1].status == "failed" and batched[-1].status == "failed", "the broken file is reported, not raised"
    assert counts["prefetched"] == 4 and counts["reused"] >= 4, counts  # the long clip's first 30 s too
    assert sum(len(words(r)) for r in batched) > 60
    assert aligner.as_vanilla_model().encoder.__class__.__name__ == "AudioEncoder", "the encoder is put back"


def test_a_prefetched_window_gets_its_own_features(jobs, tiny_model_dir):
    """What the stand-in hands stable-ts for a clip's window is what the encoder gives for that window alone."""
    import torch

    from whisper_pipeline.alignment.align import PrefetchedEncoder

    aligner = load_aligner(tiny_model_dir, "cpu")
    clips = [decode(path) for path, *_ in jobs[:4]]
    with PrefetchedEncoder.installed(aligner) as encoder, torch.no_grad():
        model = aligner.as_vanilla_model()
        encoder.prefetch(clips[:3])
        alone = [encoder.inner(encoder.mel(c)[None]) for c in clips]
        handed = [model.encoder(encoder.mel(c)[None]) for c in clips]
    assert encoder.counts == {"prefetched": 3, "reused": 3, "computed": 1}
    for a, h in zip(alone, handed):
        assert (a - h).abs().max() <= 1e-5 * a.abs().max()
    assert (alone[0] - alone[1]).abs().max() > 1e-3, "different clips, different features: a mix-up would show"


def test_each_file_is_decoded_as_ffmpeg_decodes_it(jobs):
    """16 kHz WAV read in process, anything else by ffmpeg: the samples the per-file path snaps to, exactly."""
    from whisper_pipeline.alignment.align import decoded

    native = Path(jobs[0][0]).with_name("s0.raw.wav")  # espeak-ng's 22.05 kHz: ffmpeg resamples it
    stereo = native.with_name("stereo.wav")
    mono = decode(jobs[1][0])
    sf.write(stereo, np.stack([mono, 0.5 * mono], axis=1), 16000, subtype="PCM_16")
    for path in [jobs[0][0], jobs[3][0], str(native), str(stereo)]:
        assert np.array_equal(decoded(path), decode(path)), path
    assert decoded(jobs[4][0]) is None, "nothing decodable: stable-ts reads it and reports it"


def test_recordings_over_the_prefetch_limit_are_left_to_align_file(jobs, tiny_model_dir, tmp_path, monkeypatch):
    """A batch never holds the longest recordings decoded at once: over ``PREFETCH_MAX_S`` a file is decoded by
    ``align_file`` itself (one at a time), with the same words as the per-file path."""
    import torch

    from whisper_pipeline.alignment import align

    long_job = max(jobs, key=lambda j: j[4])
    short_job = min((j for j in jobs if j[4] <= 30), key=lambda j: j[4])
    monkeypatch.setattr(align, "PREFETCH_MAX_S", long_job[4] - 1)
    decoded_paths: list[str] = []
    real_decoded = align.decoded
    monkeypatch.setattr(align, "decoded", lambda path: decoded_paths.append(path) or real_decoded(path))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        aligner = load_aligner(tiny_model_dir, "cpu")
        pair = [(p, t, f, str(tmp_path / f), s) for p, t, f, _, s in (long_job, short_job)]
        batched = align_files(aligner, pair, "hr", batch_size=2)
        alone = align_file(aligner, long_job[0], long_job[1], "hr", long_job[2], tmp_path / "alone", long_job[4])
    finally:
        torch.set_num_threads(threads)
    assert decoded_paths == [short_job[0]], "only the short clip was decoded for the batch"
    assert [w["word"] for w in words(batched[0])] == [w["word"] for w in words(alone)] and words(alone)
