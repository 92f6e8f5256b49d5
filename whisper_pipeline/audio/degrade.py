"""Seeded, reproducible degradations of speech for evaluation (and the building blocks augmentation shares).

Each named condition in ``CONDITIONS`` turns clean 16 kHz speech into what users actually bring: additive
white, pink or babble noise at a fixed SNR, reverberation through a synthetic room impulse response, a
telephone channel (300–3400 Hz, 8 kHz G.711 μ-law through ffmpeg), or a low-bitrate MP3/Opus round trip
through ffmpeg. ``degrade(audio, condition, seed)`` always returns float32 mono of the input's length, and the
same seed always gives the same samples, so every model in a comparison hears exactly the same degraded audio
and a report can be reproduced.

Why evaluation noise is never the same signal instance as training noise:

- Seed namespaces differ. ``degrade`` hashes its seed together with the condition name into its own numpy
  ``Generator`` (``make_rng``: SHA-256 of ``"degrade:<seed>:<condition>"``); evaluation passes
  ``"eval:<utterance id>:<condition>"``. Training augmentation (``audio/augment.py``) seeds from
  ``"<augment seed>:<utterance id>:<call number>"`` with a different hash prefix and draws through
  audiomentations' global generators, so no noise draw of one is ever replayed by the other; and the
  utterances differ anyway (evaluation uses the test split, training the train split).
- Babble is built only from *other test speakers'* utterances (the caller passes the pool, and the evaluation
  code leaves the target speaker out); the speaker-disjoint splits mean training never hears a test speaker,
  so no babble talker is a voice the model was trained on.

The transforms that overlap with training augmentation (noise colours, the room impulse response and
reverberation) have one implementation here; ``audio/augment.py`` calls them.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
NOISE_KINDS = ("white", "pink", "brown")  # power slope 0, -3.01 and -6.02 dB per octave
_SLOPE_EXPONENT = {"white": 0.0, "pink": 0.5, "brown": 1.0}  # amplitude ∝ f^-exponent
CODECS = {"mp3": ("libmp3lame", "mp3", ".mp3"), "opus": ("libopus", "ogg", ".ogg")}


@dataclass(frozen=True)
class Condition:
    """One named degradation. ``kind`` is ``clean``, ``noise``, ``reverb``, ``telephone`` or ``codec``."""

    name: str
    kind: str
    description: str
    noise: str | None = None  # white / pink / babble (kind == "noise")
    snr_db: float | None = None
    rt60_s: float | None = None
    codec: str | None = None  # mp3 / opus (kind == "codec")
    kbps: int | None = None


def _conditions() -> dict[str, Condition]:
    out = {"clean": Condition("clean", "clean", "the undegraded audio")}
    for noise in ("white", "pink", "babble"):
        for snr in (20, 10, 5):
            name = f"{noise}_{snr}db"
            what = "4 other test speakers talking" if noise == "babble" else f"{noise} noise"
            out[name] = Condition(name, "noise", f"{what} at {snr} dB SNR", noise=noise, snr_db=float(snr))
    for rt60 in (0.3, 0.8):
        name = f"reverb_{rt60}s"
        out[name] = Condition(name, "reverb", f"synthetic room, RT60 {rt60} s", rt60_s=rt60)
    out["telephone"] = Condition("telephone", "telephone", "300-3400 Hz, 8 kHz G.711 mu-law round trip")
    for codec in ("mp3", "opus"):
        name = f"{codec}_24k"
        out[name] = Condition(name, "codec", f"{codec.upper()} at 24 kbps round trip", codec=codec, kbps=24)
    return out


CONDITIONS: dict[str, Condition] = _conditions()


class UnknownConditionError(ValueError):
    """A condition name that ``CONDITIONS`` does not define; the message lists the known ones."""


def get_condition(name: str) -> Condition:
    """The condition called ``name``, or an error listing every known name."""
    try:
        return CONDITIONS[name]
    except KeyError:
        raise UnknownConditionError(f"unknown degradation condition {name!r}; known: {', '.join(CONDITIONS)}") from None


def check_conditions(names: list[str]) -> list[str]:
    """Validate a configured list of condition names (all unknown ones in one error); returns it."""
    unknown = [n for n in names if n not in CONDITIONS]
    if unknown:
        raise UnknownConditionError(f"unknown degradation condition(s) {unknown}; known: {', '.join(CONDITIONS)}")
    return list(names)


def make_rng(seed: str | int, condition_name: str = "") -> np.random.Generator:
    """A numpy Generator from any seed: SHA-256 of ``degrade:<seed>:<condition>`` (stable across runs and hosts)."""
    digest = hashlib.sha256(f"degrade:{seed}:{condition_name}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "big"))


def _power(x: np.ndarray) -> float:
    return float(np.mean(np.square(x, dtype=np.float64)))


def _unit_rms(x: np.ndarray) -> np.ndarray:
    rms = np.sqrt(_power(x))
    return x / rms if rms > 0 else x


def colored_noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of white, pink (-3 dB/octave) or brown (-6 dB/octave) noise at unit RMS, float32.

    Spectral shaping of white Gaussian noise in the frequency domain (amplitude ∝ f^-α), which gives the exact
    slope at every frequency rather than the approximation of a filter cascade.
    """
    if kind not in _SLOPE_EXPONENT:
        raise ValueError(f"unknown noise kind {kind!r}; use one of {', '.join(NOISE_KINDS)}")
    if n <= 0:
        return np.zeros(0, dtype=np.float32)
    white = rng.standard_normal(n)
    if kind != "white":
        spectrum = np.fft.rfft(white)
        f = np.fft.rfftfreq(n)
        f[0] = f[1] if n > 1 else 1.0  # no infinite DC
        white = np.fft.irfft(spectrum / f ** _SLOPE_EXPONENT[kind], n)
        white -= white.mean()
    return _unit_rms(white).astype(np.float32)


def babble(pool: list[np.ndarray], n: int, rng: np.random.Generator, talkers: int = 4) -> np.ndarray:
    """Several talkers at once (unit RMS): ``talkers`` utterances drawn from ``pool``, each at a random offset,
    looped to ``n`` samples and levelled to equal loudness before summing."""
    usable = [np.asarray(p, dtype=np.float32) for p in pool if p is not None and np.size(p) and _power(p) > 0]
    if not usable:
        raise ValueError("babble needs a pool of at least one non-silent utterance from other speakers")
    picks = rng.choice(len(usable), size=talkers, replace=len(usable) < talkers)
    mix = np.zeros(n, dtype=np.float64)
    for i in picks:
        voice = _unit_rms(usable[int(i)].astype(np.float64))
        looped = np.resize(voice, max(n, voice.size))  # repeats the utterance end to end
        start = int(rng.integers(0, looped.size))
        mix += np.roll(looped, -start)[:n]
    return _unit_rms(mix).astype(np.float32)


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``speech`` plus ``noise`` scaled so that 10·log10(P_speech / P_noise) = ``snr_db`` over the whole clip.

    If the sum would clip, speech and noise are scaled down together (the SNR is unchanged).
    """
    speech = np.asarray(speech, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    if noise.size != speech.size:
        raise ValueError(f"noise has {noise.size} samples, speech {speech.size}")
    p_speech, p_noise = _power(speech), _power(noise)
    if p_speech == 0 or p_noise == 0:
        return speech.astype(np.float32)
    mixed = speech + noise * np.sqrt(p_speech / (p_noise * 10 ** (snr_db / 10)))
    peak = float(np.max(np.abs(mixed)))
    return (mixed / peak if peak > 1.0 else mixed).astype(np.float32)


def room_impulse_response(rt60_s: float, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A synthetic RIR: a direct-path impulse then exponentially decaying Gaussian noise reaching -60 dB at
    ``rt60_s`` (Polack's statistical model); unit energy."""
    if rt60_s <= 0:
        raise ValueError(f"rt60_s must be positive, got {rt60_s}")
    t = np.arange(max(2, int(rt60_s * sample_rate))) / sample_rate
    rir = rng.standard_normal(t.size) * np.exp(-6.908 * t / rt60_s)  # ln(1000) = 6.908: -60 dB at rt60
    rir[0] = 1.0
    return (rir / np.sqrt(np.sum(rir**2))).astype(np.float32)


def reverberate(
    audio: np.ndarray, rt60_s: float, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """``audio`` convolved with ``room_impulse_response(rt60_s)``, cut to the input length, peak-levelled to
    the input's peak (louder rooms would otherwise clip)."""
    from scipy.signal import fftconvolve

    audio = np.asarray(audio, dtype=np.float32)
    if audio.size == 0:
        return audio
    wet = fftconvolve(audio, room_impulse_response(rt60_s, rng, sample_rate))[: audio.size]
    peak, target = float(np.max(np.abs(wet))), float(np.max(np.abs(audio)))
    return (wet * (target / peak) if peak > 0 else wet).astype(np.float32)


def _ffmpeg(args: list[str], what: str) -> None:
    proc = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], capture_output=True)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"{what}: ffmpeg failed: {err[-1] if err else f'exit {proc.returncode}'}")


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    """Exactly ``n`` samples: cut or pad with zeros (codecs round to whole frames)."""
    return (x[:n] if x.size >= n else np.pad(x, (0, n - x.size))).astype(np.float32)


def _through_ffmpeg(audio: np.ndarray, sample_rate: int, encode: list[str], suffix: str, what: str) -> np.ndarray:
    """Encode float32 mono with ``encode`` args into a temporary file, decode it back at ``sample_rate``.

    Real files (not pipes) so that encoders write complete headers and the decoder trims encoder delay
    (LAME's gapless info, Opus pre-skip): the round trip stays time-aligned with the input.
    """
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    with tempfile.TemporaryDirectory(prefix="degrade-") as tmp:
        src, coded, back = Path(tmp) / "in.f32", Path(tmp) / f"coded{suffix}", Path(tmp) / "out.f32"
        src.write_bytes(audio.tobytes())
        _ffmpeg(["-f", "f32le", "-ar", str(sample_rate), "-ac", "1", "-i", str(src), *encode, str(coded)], what)
        _ffmpeg(["-i", str(coded), "-f", "f32le", "-ac", "1", "-ar", str(sample_rate), str(back)], what)
        decoded = np.frombuffer(back.read_bytes(), dtype=np.float32)
    return _fit(decoded, audio.size)


def telephone_band(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A narrowband phone channel: 300–3400 Hz band-pass, resampled to 8 kHz, G.711 μ-law, and back."""
    encode = ["-af", "highpass=f=300:poles=2,lowpass=f=3400:poles=2", "-ar", "8000", "-c:a", "pcm_mulaw"]
    return _through_ffmpeg(audio, sample_rate, [*encode, "-f", "wav"], ".wav", "telephone band (G.711)")


def codec_roundtrip(audio: np.ndarray, codec: str, kbps: int, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Encode with ``codec`` (``mp3`` via LAME, ``opus`` via libopus) at ``kbps`` and decode back."""
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; use one of {', '.join(CODECS)}")
    encoder, fmt, suffix = CODECS[codec]
    encode = ["-c:a", encoder, "-b:a", f"{kbps}k", "-f", fmt]
    return _through_ffmpeg(audio, sample_rate, encode, suffix, f"{codec} {kbps} kbps round trip")


def degrade(
    audio: np.ndarray,
    condition: str,
    seed: str | int,
    babble_pool: list[np.ndarray] | None = None,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """``audio`` under the named condition: float32 mono, the input's length, the same for the same seed.

    ``babble_pool`` (utterances of *other* speakers) is required by the babble conditions only.
    """
    spec = get_condition(condition)
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"degrade expects mono audio (1-D), got shape {audio.shape}")
    rng = make_rng(seed, condition)
    if spec.kind == "clean" or audio.size == 0:
        out = audio.copy()
    elif spec.kind == "noise":
        if spec.noise == "babble":
            if not babble_pool:
                raise ValueError(f"condition {condition!r} needs a babble_pool of other speakers' utterances")
            noise = babble(babble_pool, audio.size, rng)
        else:
            noise = colored_noise(spec.noise, audio.size, rng)
        out = mix_at_snr(audio, noise, spec.snr_db)
    elif spec.kind == "reverb":
        out = reverberate(audio, spec.rt60_s, rng, sample_rate)
    elif spec.kind == "telephone":
        out = telephone_band(audio, sample_rate)
    else:
        out = codec_roundtrip(audio, spec.codec, spec.kbps, sample_rate)
    return np.clip(out, -1.0, 1.0).astype(np.float32)
