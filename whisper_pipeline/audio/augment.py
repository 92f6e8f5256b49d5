"""Seeded audio augmentation from ``configs/augment.yaml``, built on ``audiomentations``.

Noise at a sampled SNR (white/pink/brown, recordings from a folder, and babble of other training speakers),
speed perturbation, pitch
shift, reverberation with synthetic room impulse responses, and gain; each with a probability
and a parameter range. Noise colours, the mixer and the room impulse responses are those of
``audio/degrade.py`` (one implementation with evaluation's degradations; its docstring says why
evaluation never replays a training noise draw). The YAML is validated (an unknown key or an inverted range is an error
that names the file and the field). The same seed, sample id and call number always give the
same output, so a training run with augmentation can be repeated exactly.

Used on the fly by training (a ``datasets`` transform) or offline to write augmented copies:
``python -m whisper_pipeline.audio.augment MANIFEST OUT_DIR --copies 2``.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import threading
from collections import OrderedDict, defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from whisper_pipeline.audio.degrade import NOISE_KINDS, babble, colored_noise, mix_at_snr, reverberate
from whisper_pipeline.audio.ffmpeg import SAMPLE_RATE
from whisper_pipeline.data.manifests import ManifestLine
from whisper_pipeline.workspace import REPO_ROOT

DEFAULT_CONFIG = REPO_ROOT / "configs" / "augment.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    p: float = Field(default=0.0, ge=0.0, le=1.0, description="Probability per sample")


def _ordered(low: str, high: str):
    def check(self):
        if getattr(self, low) > getattr(self, high):
            raise ValueError(f"{low} ({getattr(self, low)}) is greater than {high} ({getattr(self, high)})")
        return self

    return model_validator(mode="after")(check)


class NoiseSpec(_Strict):
    min_snr_db: float = Field(default=5.0, ge=-10, le=80)
    max_snr_db: float = Field(default=30.0, ge=-10, le=80)
    colors: list[str] = Field(default_factory=lambda: ["white", "pink"], min_length=1)
    check_range = _ordered("min_snr_db", "max_snr_db")

    @model_validator(mode="after")
    def _known_colors(self):
        unknown = set(self.colors) - set(NOISE_KINDS)
        if unknown:
            raise ValueError(f"unknown noise colour(s) {sorted(unknown)}; use {sorted(NOISE_KINDS)}")
        return self


class BackgroundNoiseSpec(_Strict):
    folder: str | None = None
    min_snr_db: float = Field(default=3.0, ge=-10, le=80)
    max_snr_db: float = Field(default=20.0, ge=-10, le=80)
    check_range = _ordered("min_snr_db", "max_snr_db")

    @model_validator(mode="after")
    def _folder_when_used(self):
        if self.p > 0 and not self.folder:
            raise ValueError("background_noise.p > 0 needs a folder of noise recordings")
        if self.folder and not Path(self.folder).is_dir():
            raise ValueError(f"background noise folder {self.folder} does not exist")
        return self


class BabbleSpec(_Strict):
    """Other training speakers talking underneath (cf. evaluation's babble from other *test* speakers)."""

    min_snr_db: float = Field(default=5.0, ge=-10, le=80)
    max_snr_db: float = Field(default=20.0, ge=-10, le=80)
    min_talkers: int = Field(default=2, ge=1, le=16)
    max_talkers: int = Field(default=4, ge=1, le=16)
    check_range = _ordered("min_snr_db", "max_snr_db")
    check_talkers = _ordered("min_talkers", "max_talkers")


class SpeedSpec(_Strict):
    min_rate: float = Field(default=0.9, gt=0.5, le=2.0)
    max_rate: float = Field(default=1.1, gt=0.5, le=2.0)
    check_range = _ordered("min_rate", "max_rate")


class PitchSpec(_Strict):
    min_semitones: float = Field(default=-2.0, ge=-12, le=12)
    max_semitones: float = Field(default=2.0, ge=-12, le=12)
    check_range = _ordered("min_semitones", "max_semitones")


class ReverbSpec(_Strict):
    min_rt60_s: float = Field(default=0.2, gt=0.0, le=3.0)
    max_rt60_s: float = Field(default=0.8, gt=0.0, le=3.0)
    min_wet: float = Field(default=0.3, ge=0.0, le=1.0)
    max_wet: float = Field(default=0.7, ge=0.0, le=1.0)
    check_range = _ordered("min_rt60_s", "max_rt60_s")
    check_wet = _ordered("min_wet", "max_wet")


class GainSpec(_Strict):
    min_db: float = Field(default=-6.0, ge=-40, le=40)
    max_db: float = Field(default=6.0, ge=-40, le=40)
    check_range = _ordered("min_db", "max_db")


class AugmentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = 1234
    noise: NoiseSpec = NoiseSpec()
    background_noise: BackgroundNoiseSpec = BackgroundNoiseSpec()
    babble: BabbleSpec = BabbleSpec()
    speed: SpeedSpec = SpeedSpec()
    pitch: PitchSpec = PitchSpec()
    reverb: ReverbSpec = ReverbSpec()
    gain: GainSpec = GainSpec()


class AugmentConfigError(ValueError):
    pass


def load_augment_config(path: str | Path = DEFAULT_CONFIG) -> AugmentConfig:
    """Read and validate the YAML; errors name the file and every bad field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise AugmentConfigError(f"{path}: cannot read augmentation config: {exc}") from exc
    try:
        return AugmentConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in exc.errors())
        raise AugmentConfigError(f"{path}: invalid augmentation config: {problems}") from exc


def _speed(samples: np.ndarray, sample_rate: int, low: float, high: float) -> np.ndarray:
    """Speed perturbation (tempo and pitch together, as in Kaldi/ESPnet recipes): resample by 1/rate."""
    import soxr

    rate = random.uniform(low, high)
    return soxr.resample(samples, sample_rate, sample_rate / rate).astype(np.float32)


def _rng() -> np.random.Generator:
    """A Generator drawn from the global numpy state, which ``Augmenter`` seeds per call (reproducible)."""
    return np.random.default_rng(np.random.randint(0, 2**32, dtype=np.uint64))


def _noise(samples: np.ndarray, spec: NoiseSpec) -> np.ndarray:
    """Coloured noise at a sampled SNR, from the same generator and mixer that evaluation uses (audio/degrade.py)."""
    rng = _rng()
    colour = spec.colors[int(rng.integers(len(spec.colors)))]
    snr = float(rng.uniform(spec.min_snr_db, spec.max_snr_db))
    return mix_at_snr(samples, colored_noise(colour, samples.size, rng), snr)


def _reverb(samples: np.ndarray, sample_rate: int, spec: ReverbSpec) -> np.ndarray:
    """A wet/dry mix with ``degrade.reverberate`` (a synthetic room impulse response for a sampled RT60)."""
    rng = _rng()
    rt60 = float(rng.uniform(spec.min_rt60_s, spec.max_rt60_s))
    wet = float(rng.uniform(spec.min_wet, spec.max_wet))
    out = (1 - wet) * samples + wet * reverberate(samples, rt60, rng, sample_rate)
    peak = float(np.max(np.abs(out))) or 1.0
    return (out * min(1.0, float(np.max(np.abs(samples))) / peak)).astype(np.float32)


def build_pipeline(config: AugmentConfig):
    """An ``audiomentations.Compose`` of the configured transforms (those with p > 0)."""
    import audiomentations as A

    steps = []
    if config.noise.p > 0:
        steps.append(A.Lambda(transform=lambda x, sr: _noise(x, config.noise), p=config.noise.p))
    if config.background_noise.p > 0:
        bg = config.background_noise
        steps.append(
            A.AddBackgroundNoise(sounds_path=bg.folder, min_snr_db=bg.min_snr_db, max_snr_db=bg.max_snr_db, p=bg.p)
        )
    if config.speed.p > 0:
        s = config.speed
        steps.append(A.Lambda(transform=lambda x, sr: _speed(x, sr, s.min_rate, s.max_rate), p=s.p))
    if config.pitch.p > 0:
        steps.append(
            A.PitchShift(
                min_semitones=config.pitch.min_semitones, max_semitones=config.pitch.max_semitones, p=config.pitch.p
            )
        )
    if config.reverb.p > 0:
        steps.append(A.Lambda(transform=lambda x, sr: _reverb(x, sr, config.reverb), p=config.reverb.p))
    if config.gain.p > 0:
        steps.append(A.Gain(min_gain_db=config.gain.min_db, max_gain_db=config.gain.max_db, p=config.gain.p))
    return A.Compose(steps) if steps else None


class BabblePool:
    """Training utterances to make babble from: ``(id, speaker, audio path)``; audio loaded on first use and
    kept in a bounded cache (``max_cached`` utterances per loader worker), so a large training set is never held.

    A sample's babble never contains its own speaker (the pool of the speaker-disjoint train split is enough:
    evaluation's babble comes from test speakers, never heard in training)."""

    def __init__(self, entries: list[tuple[str, str, str]], max_cached: int = 256):
        self.entries = entries
        self.max_cached = max_cached
        self._speaker = {id_: speaker for id_, speaker, _ in entries}
        self._audio: OrderedDict[str, np.ndarray] = OrderedDict()

    @classmethod
    def from_lines(cls, lines: list[ManifestLine]) -> BabblePool:
        return cls([(line.id, line.speaker, line.audio) for line in lines])

    def pick(self, key: str, talkers: int, rng: np.random.Generator) -> list[tuple[str, str]]:
        """Up to ``talkers`` distinct utterances of speakers other than ``key``'s, drawn with ``rng``: by
        rejection (constant time per draw on a large pool), with an exact scan when other speakers are rare."""
        own = self._speaker.get(key)
        chosen: dict[str, str] = {}
        for _ in range(20 * talkers):
            if len(chosen) == talkers:
                break
            id_, speaker, path = self.entries[int(rng.integers(len(self.entries)))]
            if speaker != own:
                chosen[id_] = path
        if len(chosen) < talkers:
            rest = [(id_, path) for id_, speaker, path in self.entries if speaker != own and id_ not in chosen]
            extra = rng.choice(len(rest), size=min(talkers - len(chosen), len(rest)), replace=False) if rest else []
            chosen.update(rest[int(i)] for i in extra)
        return list(chosen.items())

    def audio(self, id_: str, path: str) -> np.ndarray:
        if id_ in self._audio:
            self._audio.move_to_end(id_)
            return self._audio[id_]
        from whisper_pipeline.training.data import load_audio_16k

        samples = self._audio[id_] = load_audio_16k(path)
        while len(self._audio) > self.max_cached:
            self._audio.popitem(last=False)
        return samples


def _babble(samples: np.ndarray, key: str, spec: BabbleSpec, pool: BabblePool) -> np.ndarray:
    """Mix ``min..max_talkers`` utterances of speakers other than ``key``'s at a sampled SNR (degrade.babble)."""
    rng = _rng()
    talkers = pool.pick(key, int(rng.integers(spec.min_talkers, spec.max_talkers + 1)), rng)
    if not talkers:
        return samples
    voices = [pool.audio(id_, path) for id_, path in talkers]
    noise = babble(voices, samples.size, rng, talkers=len(voices))
    return mix_at_snr(samples, noise, float(rng.uniform(spec.min_snr_db, spec.max_snr_db)))


class Augmenter:
    """Seeded augmentation: output depends only on (seed, sample id, how often that id was augmented).

    Babble (``babble.p > 0``) needs the ``babble_pool`` of training utterances; without one it is skipped."""

    _lock = threading.Lock()  # audiomentations draws from the global random/numpy generators

    def __init__(self, config: AugmentConfig, babble_pool: BabblePool | None = None):
        self.config = config
        self.pipeline = build_pipeline(config)
        self.babble_pool = babble_pool if config.babble.p > 0 else None
        self.calls: dict[str, int] = defaultdict(int)

    def __call__(self, samples: np.ndarray, key: str, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
        if self.pipeline is None and self.babble_pool is None:
            return samples
        n = self.calls[key]
        self.calls[key] += 1
        seed = int.from_bytes(hashlib.sha256(f"{self.config.seed}:{key}:{n}".encode()).digest()[:4], "big")
        out = samples.astype(np.float32)
        with self._lock:
            random.seed(seed)
            np.random.seed(seed)
            if self.babble_pool is not None and random.random() < self.config.babble.p:
                out = _babble(out, key, self.config.babble, self.babble_pool)
            if self.pipeline is not None:
                out = self.pipeline(samples=out, sample_rate=sample_rate)
        return np.clip(out, -1.0, 1.0).astype(np.float32)


def augment_offline(
    lines: list[ManifestLine], augmenter: Augmenter, out_dir: Path, copies: int = 1
) -> list[ManifestLine]:
    """Write ``copies`` augmented versions of each line (atomically); returns their manifest lines."""
    import soundfile as sf

    from whisper_pipeline.audio.ffmpeg import decode, write_wav16
    from whisper_pipeline.io import atomic_path

    out = []
    for line in lines:
        audio = decode(line.audio)
        for k in range(copies):
            aug = augmenter(audio, line.id)
            target = out_dir / f"{line.id}-aug{k}.wav"
            with atomic_path(target, suffix=".wav") as tmp:
                write_wav16(tmp, aug)
            out.append(
                replace(
                    line,
                    id=f"{line.id}-aug{k}",
                    audio=str(target),
                    augmented_from=line.id,
                    duration=round(sf.info(str(target)).duration, 3),
                )
            )
    return out


def main(argv: list[str] | None = None) -> None:
    from whisper_pipeline.data.manifests import read_lines, write_lines

    ap = argparse.ArgumentParser(description="Write augmented copies of a manifest's audio, and their manifest")
    ap.add_argument("manifest")
    ap.add_argument("out_dir")
    ap.add_argument("--config", default=str(DEFAULT_CONFIG))
    ap.add_argument("--copies", type=int, default=1)
    args = ap.parse_args(argv)
    out_dir = Path(args.out_dir)
    lines = read_lines(args.manifest)
    lines = augment_offline(
        lines, Augmenter(load_augment_config(args.config), BabblePool.from_lines(lines)), out_dir, args.copies
    )
    write_lines(out_dir / "augmented.jsonl", lines)
    print(f"{len(lines)} augmented files and {out_dir / 'augmented.jsonl'}")


if __name__ == "__main__":
    main()
