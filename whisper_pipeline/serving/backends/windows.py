"""Cutting long audio into windows Whisper decodes on its own (at most 30 s each), at pauses.

Why we cut ourselves instead of handing ``transformers`` the whole recording: its sequential long-form
decoding concatenates the windows' tokens and per-token times in ``generate``, and the pipeline's
``_decode_asr`` takes them apart again with a state machine over timestamp tokens that has to agree with
``generate`` token for token. A 57 s recording of ordinary speech failed there (``IndexError: list index
out of range``, issue 14; the clips we built could not reproduce that exact failure), and the same
per-segment times break the pipeline's batching (``IndexError`` in ``loader_batch_item``, reproduced).
Each of our windows is a short-form decode, whose word timestamps are simple; the windows are
independent, so they are decoded in batches too. faster-whisper needs none of this: its own long-form
loop keeps word timestamps (``ct2_backend.py``).
"""

from __future__ import annotations

import numpy as np

from whisper_pipeline.serving.backends.guards import Guards, speech_regions

WINDOW_S = 30.0  # Whisper's input length: one window is one short-form decode
SEARCH_S = 10.0  # a cut is looked for in the last this-many seconds of a full window
FRAME_S = 0.02
SMOOTH_S = 0.3  # a pause is a quiet stretch of about this length, not one quiet frame (a stop consonant)
SILENT_DB = 3.0  # a window whose loudest stretch is within this of the recording's noise floor holds no speech,
CONTRAST_DB = 10.0  # when the recording's loud parts stand this far above the floor (else nothing is left out)
SILENCE_DBFS = -70.0  # a window never louder than this is silence whatever the rest is


def speech_windows(
    audio: np.ndarray, sample_rate: int = 16000, window_s: float = WINDOW_S, search_s: float = SEARCH_S
) -> list[tuple[int, int]]:
    """(start, end) sample indices of the windows of ``audio`` to decode, in order, each at most
    ``window_s`` long. A window that is not the last ends in the middle of the latest quietest stretch of
    its last ``search_s`` seconds (a pause between sentences, when there is one), so no word is cut in
    two where the speech leaves room. Windows without sound are left out (Whisper invents words,
    "Hvala.", for silence): digital silence, and, in a recording whose loud parts stand well above its
    noise floor, windows that never rise above that floor."""
    n = int(audio.size)
    frame = int(FRAME_S * sample_rate)
    frames = n // frame
    if frames < 2:
        return [(0, n)] if n else []
    power = np.mean(audio[: frames * frame].astype(np.float64).reshape(frames, frame) ** 2, axis=1)
    width = max(1, round(SMOOTH_S / FRAME_S))
    level = 10 * np.log10(np.convolve(power, np.ones(width) / width, mode="same") + 1e-12)
    floor, loud = (float(x) for x in np.percentile(level, [10, 90]))
    limit = int(window_s * sample_rate)
    bounds, start = [], 0
    while n - start > limit:
        hi = (start + limit) // frame  # frames [lo, hi) lie in the last search_s of this window
        lo = max(start // frame + 1, hi - round(search_s / FRAME_S))
        region = level[lo:hi]
        quiet = np.flatnonzero(region <= region.min() + 1.0)  # within 1 dB of the quietest
        last = int(quiet[-1])
        first = last
        while first > 0 and region[first - 1] <= region.min() + 1.0:
            first -= 1
        cut = min((lo + (first + last) // 2) * frame, start + limit)
        bounds.append((start, cut))
        start = cut
    bounds.append((start, n))

    def sounds(a: int, b: int) -> bool:
        peak = float(level[a // frame : max(a // frame + 1, b // frame)].max())
        if peak < SILENCE_DBFS:
            return False
        return loud - floor < CONTRAST_DB or peak > floor + SILENT_DB

    return [(a, b) for a, b in bounds if sounds(a, b)]


def gated_windows(audio: np.ndarray, guards: Guards) -> list[tuple[int, int]]:
    """The windows to decode: ``speech_windows`` of each stretch silero-VAD hears as speech (with
    ``guards.vad``), else of the whole recording."""
    if not guards.vad:
        return speech_windows(audio)
    return [(a + c, a + d) for a, b in speech_regions(audio, guards) for c, d in speech_windows(audio[a:b])]
