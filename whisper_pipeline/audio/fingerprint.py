"""Audio fingerprints that survive re-encoding (container, codec, sample rate, channels).

Computed on the decoded 16 kHz mono signal: per 32 ms frame, the signs of energy differences
between adjacent frequency bands and consecutive frames (Haitsma & Kalker's scheme), 16 bits a
frame over 300–3000 Hz. Two recordings are the same when few bits differ at the best small time
offset (codecs add a little delay); different speech differs in about half of the bits.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16_000
FRAME = 1024  # 64 ms window
HOP = 512  # 32 ms hop
N_BANDS = 17  # → 16 difference bits per frame
MAX_SECONDS = 120  # long files: the first two minutes identify them well enough
MAX_SHIFT = 4  # frames of misalignment tolerated (codec priming/delay)
SAME_RECORDING_BER = 0.2


def fingerprint(audio: np.ndarray) -> np.ndarray:
    """Bits as a (frames, 16) bool array; empty for clips shorter than two frames."""
    audio = np.asarray(audio, dtype=np.float32)[: MAX_SECONDS * SAMPLE_RATE]
    if audio.size < FRAME + HOP:
        return np.zeros((0, N_BANDS - 1), dtype=bool)
    n_frames = 1 + (audio.size - FRAME) // HOP
    idx = np.arange(FRAME)[None, :] + HOP * np.arange(n_frames)[:, None]
    spectrum = np.abs(np.fft.rfft(audio[idx] * np.hanning(FRAME), axis=1)) ** 2
    freqs = np.fft.rfftfreq(FRAME, 1 / SAMPLE_RATE)
    edges = np.geomspace(300, 3000, N_BANDS + 1)
    bands = np.stack(
        [spectrum[:, (freqs >= lo) & (freqs < hi)].sum(axis=1) for lo, hi in zip(edges, edges[1:])], axis=1
    )
    diff = np.diff(bands, axis=1)
    bits = (diff[1:] - diff[:-1]) > 0
    return bits


def to_hex(bits: np.ndarray) -> str:
    return np.packbits(bits.reshape(-1)).tobytes().hex() if bits.size else ""


def from_hex(text: str) -> np.ndarray:
    if not text:
        return np.zeros((0, N_BANDS - 1), dtype=bool)
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(text), dtype=np.uint8)).astype(bool)
    frames = bits.size // (N_BANDS - 1)
    return bits[: frames * (N_BANDS - 1)].reshape(frames, N_BANDS - 1)


def bit_error_rate(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of differing bits at the best offset within ±MAX_SHIFT frames (1.0 if too short)."""
    best = 1.0
    for shift in range(-MAX_SHIFT, MAX_SHIFT + 1):
        x, y = (a[shift:], b) if shift >= 0 else (a, b[-shift:])
        n = min(len(x), len(y))
        if n < 8 or n < 0.8 * min(len(a), len(b)):
            continue
        best = min(best, float(np.mean(x[:n] != y[:n])))
    return best


def same_recording(a: np.ndarray, b: np.ndarray, threshold: float = SAME_RECORDING_BER) -> bool:
    return bit_error_rate(a, b) <= threshold
