"""The test utterances under degraded conditions (``audio/degrade.py``), written as 16 kHz WAV files so every
compared model transcribes exactly the same degraded audio through its ordinary file-reading path.

Seeds are ``eval:<utterance id>:<condition>``: the same utterance always gets the same noise, in every
evaluation and for every model, and never a draw that training augmentation makes (see ``degrade``'s docstring).
Babble is made only from the speech of *other test speakers*: this language's other test speakers, or, when the
test split has a single speaker, the test speakers of the other languages. Test speakers never train (the
splits are speaker-disjoint), and a speaker who appears in any training split is left out of the pool anyway.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from whisper_pipeline.audio.degrade import CONDITIONS, check_conditions, degrade
from whisper_pipeline.data.manifests import ManifestLine
from whisper_pipeline.training.data import load_audio_16k

DEFAULT_CONDITIONS = [name for name in CONDITIONS if name != "clean"]
MAX_BABBLE_POOL = 24  # utterances loaded as babble sources (babble uses 4 talkers at a time)


def eval_seed(utterance_id: str, condition: str) -> str:
    """The seed of one utterance under one condition, shared by ``eval_report`` and the benchmarks."""
    return f"eval:{utterance_id}:{condition}"


@dataclass
class DegradedSet:
    """Per condition, the degraded copies of the test utterances (same order), or why it was skipped."""

    paths: dict[str, list[str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def babble_candidates(
    test_lines: list[ManifestLine], other_test_lines: list[ManifestLine], training_speakers: set[str]
) -> list[ManifestLine]:
    """Utterances babble may be made of: this language's test utterances when it has more than one test
    speaker, else the other languages' test utterances; never a speaker who trains. At most ``MAX_BABBLE_POOL``,
    chosen by a hash of the id (stable as the corpus grows)."""
    own_speakers = {l.speaker for l in test_lines}
    pool = test_lines if len(own_speakers) > 1 else other_test_lines
    pool = [l for l in pool if l.speaker not in training_speakers]
    return sorted(pool, key=lambda l: hashlib.sha256(l.id.encode()).hexdigest())[:MAX_BABBLE_POOL]


def write_degraded(
    test_lines: list[ManifestLine],
    conditions: list[str],
    out_dir: Path,
    babble_from: list[ManifestLine] | None = None,
) -> DegradedSet:
    """Degrade every test utterance under every condition into ``out_dir/<condition>/<n>.wav``.

    Babble conditions draw from ``babble_from`` minus the utterance's own speaker; with nobody left they are
    skipped (reported, not silently dropped)."""
    from whisper_pipeline.audio.ffmpeg import write_wav16

    check_conditions(conditions)
    clean = [load_audio_16k(l.audio) for l in test_lines]
    sources = [(l.speaker, load_audio_16k(l.audio)) for l in (babble_from or [])]
    out = DegradedSet()
    for name in conditions:
        needs_babble = CONDITIONS[name].noise == "babble"
        pools = [[a for s, a in sources if s != line.speaker] for line in test_lines] if needs_babble else []
        if needs_babble and not all(pools):
            out.skipped[name] = "no other test speaker to make babble from"
            continue
        folder = out_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for i, (line, audio) in enumerate(zip(test_lines, clean)):
            degraded = degrade(audio, name, eval_seed(line.id, name), pools[i] if needs_babble else None)
            path = folder / f"{i:05d}.wav"
            write_wav16(path, np.asarray(degraded))
            paths.append(str(path))
        out.paths[name] = paths
    return out
