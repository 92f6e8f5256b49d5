"""Where speech starts and ends in a recording, without running the voice-activity detector over all of it.

Trimming needs only the first and the last speech. silero-VAD (the network of its "sequence" ONNX model, many
32 ms frames per call, state carried between calls, evaluated with numpy: ``vad_model``) runs forward from the
start only until the first stretch of speech is settled: up to there its probabilities, and so the start, are
those of a full pass (to float rounding: a GEMM's last bits depend on how many frames one call holds; and within
1e-4 of the TorchScript model preprocessing used before). Files
up to ``FULL_PASS_S`` (a minute: the training clips) then get the rest of the forward pass too, so both
their edges are those of the full pass. In a longer file the end is found by running the model over the
last few seconds (after a warm-up of ``WARM_S`` whose probabilities are discarded), stepping back window
by window until a stretch of speech ends inside one; only when a window would reach back to where the
forward scan stopped does the forward scan simply go on to the end. Started afresh, the model's state
differs a little from the full pass's when speech runs right up to the window, so that end may move by
one 32 ms frame (exact after silence or noise; tested). The state machine turning probabilities into
stretches is silero's own (``get_speech_timestamps_from_probs``, default settings, restated in
``stretches``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from whisper_pipeline.audio.vad_model import CONTEXT, FRAME, HIDDEN, silero_numpy

SAMPLE_RATE = 16_000
FRAMES_PER_CALL = 512  # ~16 s of audio per model call
FULL_PASS_S = 60.0  # up to this long, the forward scan goes on to the end: exact, and as cheap
TAIL_S = 4.0  # the last window searched for the last speech; the ones before it double up to MAX_TAIL_S
MAX_TAIL_S = 30.0
WARM_S = 2.0  # audio run through the model before a tail window, its probabilities discarded
HEAD_STEP = SAMPLE_RATE // 2  # the forward scan checks whether the first speech is settled this often
OVERLAP_S = 1.0  # a window's run goes this far into the next one, to see its last stretch end
# silero's get_speech_timestamps defaults, which preprocessing has always used
MIN_SPEECH = SAMPLE_RATE * 250 // 1000
MIN_SILENCE = SAMPLE_RATE * 100 // 1000
SPEECH_PAD = SAMPLE_RATE * 30 // 1000


class VadStream:
    """silero-VAD speech probabilities (one per 512-sample frame) of a 16 kHz signal fed block by block: the
    same numbers as one pass over the whole signal (to float rounding), since the state and the frame context
    carry over."""

    def __init__(self) -> None:
        self._hidden = np.zeros(HIDDEN, dtype=np.float32)
        self._cell = np.zeros(HIDDEN, dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._probs: list[np.ndarray] = []
        self.frames = 0

    def feed(self, block: np.ndarray) -> np.ndarray:
        """Add samples; returns the probabilities of the frames they completed."""
        joined = np.concatenate([self._pending, np.asarray(block, dtype=np.float32)])
        whole = joined.size // FRAME * FRAME
        self._pending = joined[whole:]
        return self._run(joined[:whole].reshape(-1, FRAME))

    def finish(self) -> np.ndarray:
        """The last, partial frame padded with zeros (as ``get_speech_timestamps`` pads it)."""
        if not self._pending.size:
            return np.zeros(0, dtype=np.float32)
        frame = np.zeros((1, FRAME), dtype=np.float32)
        frame[0, : self._pending.size] = self._pending
        self._pending = np.zeros(0, dtype=np.float32)
        return self._run(frame)

    @property
    def fed(self) -> int:
        """Samples fed so far."""
        return self.frames * FRAME + self._pending.size

    def probabilities(self) -> np.ndarray:
        return np.concatenate(self._probs) if self._probs else np.zeros(0, dtype=np.float32)

    def _run(self, frames: np.ndarray) -> np.ndarray:
        out = []
        for i in range(0, len(frames), FRAMES_PER_CALL):
            part = frames[i : i + FRAMES_PER_CALL]
            contexts = np.empty((len(part), CONTEXT), dtype=np.float32)
            contexts[0] = self._context
            contexts[1:] = part[:-1, -CONTEXT:]
            self._context = part[-1, -CONTEXT:].copy()
            probs, self._hidden, self._cell = silero_numpy()(
                np.concatenate([contexts, part], axis=1), self._hidden, self._cell
            )
            out.append(np.asarray(probs, dtype=np.float32).reshape(-1))
        probs = np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
        self._probs.append(probs)
        self.frames += probs.size
        return probs


def stretches(probs: np.ndarray, n_samples: int, threshold: float) -> list[dict]:
    """Speech stretches (``{"start", "end"}`` in samples, padded) from frame probabilities: silero's
    ``get_speech_timestamps_from_probs`` with its default settings (no maximum stretch length), restated
    here so that no worker imports torch for it (tested equal on random probabilities)."""
    negative = max(threshold - 0.15, 0.01)
    found: list[dict] = []
    triggered, begin, temp_end = False, 0, 0
    for i, p in enumerate(np.asarray(probs, dtype=np.float64).tolist()):
        cur = FRAME * i
        if p >= threshold and temp_end:
            temp_end = 0
        if p >= threshold and not triggered:
            triggered, begin = True, cur
            continue
        if p < negative and triggered:
            if not temp_end:
                temp_end = cur
            if cur - temp_end < MIN_SILENCE:
                continue
            if temp_end - begin > MIN_SPEECH:
                found.append({"start": begin, "end": temp_end})
            triggered, temp_end = False, 0
    if triggered and n_samples - begin > MIN_SPEECH:
        found.append({"start": begin, "end": n_samples})
    for i, speech in enumerate(found):  # padding, split evenly where two stretches nearly touch
        if i == 0:
            speech["start"] = int(max(0, speech["start"] - SPEECH_PAD))
        if i != len(found) - 1:
            gap = found[i + 1]["start"] - speech["end"]
            if gap < 2 * SPEECH_PAD:
                speech["end"] += int(gap // 2)
                found[i + 1]["start"] = int(max(0, found[i + 1]["start"] - gap // 2))
            else:
                speech["end"] = int(min(n_samples, speech["end"] + SPEECH_PAD))
                found[i + 1]["start"] = int(max(0, found[i + 1]["start"] - SPEECH_PAD))
        else:
            speech["end"] = int(min(n_samples, speech["end"] + SPEECH_PAD))
    return found


class FirstSpeech:
    """silero's state machine (``get_speech_timestamps_from_probs``) run frame by frame, only as far as the
    end of the first stretch of speech long enough to keep: then ``start`` is that stretch's padded start."""

    def __init__(self, threshold: float):
        self.threshold, self.negative = threshold, max(threshold - 0.15, 0.01)
        self.frame = 0
        self._triggered, self._begin, self._temp_end = False, 0, 0
        self.start: int | None = None

    def push(self, probs: np.ndarray) -> bool:
        """Consume probabilities; True once the first stretch is settled (``start`` set)."""
        for p in probs.tolist():
            if self.start is not None:
                return True
            cur = FRAME * self.frame
            self.frame += 1
            if p >= self.threshold and self._temp_end:
                self._temp_end = 0
            if p >= self.threshold and not self._triggered:
                self._triggered, self._begin = True, cur
                continue
            if p < self.negative and self._triggered:
                if not self._temp_end:
                    self._temp_end = cur
                if cur - self._temp_end < MIN_SILENCE:
                    continue
                if self._temp_end - self._begin > MIN_SPEECH:
                    self.start = int(max(0, self._begin - SPEECH_PAD))
                self._triggered, self._temp_end = False, 0
        return self.start is not None


class SpeechEdges:
    """Feed the 16 kHz signal block by block as it is decoded; then ``span`` gives the padded (start, end)
    samples from the first to the last speech (or ``None``), reading back only the tail it needs."""

    def __init__(self, threshold: float = 0.5):
        self.threshold = threshold
        self.samples = 0
        self._head = VadStream()
        self._first = FirstSpeech(threshold)
        self._settled = False

    def feed(self, block: np.ndarray) -> None:
        self.samples += block.size
        for i in range(0, block.size if not self._settled else 0, HEAD_STEP):  # stop as soon as it settles
            self._settled = self._first.push(self._head.feed(block[i : i + HEAD_STEP]))
            if self._settled:
                break

    def span(self, read: Callable[[int, int], np.ndarray]) -> tuple[int, int] | None:
        """``read(lo, hi)`` returns samples ``lo:hi`` of what was fed."""
        n = self.samples
        scanned = self._head.fed  # what the forward scan has seen
        hi, window = n, TAIL_S
        while self._settled and n > FULL_PASS_S * SAMPLE_RATE:  # windows stepping back from the end
            lo = max(0, hi - int(window * SAMPLE_RATE)) // FRAME * FRAME
            ctx = max(0, lo - int(WARM_S * SAMPLE_RATE)) // FRAME * FRAME
            if ctx <= scanned:
                break  # as cheap to finish the forward pass, which is exact
            run_end = n if hi == n else min(n, hi + int(OVERLAP_S * SAMPLE_RATE))
            found = [s for s in self._stretches(read, ctx, run_end) if ctx + s["end"] > lo and ctx + s["start"] < hi]
            if found:
                end = ctx + found[-1]["end"]
                if end >= run_end and run_end < n:  # speech runs past this window: follow it to the end
                    end = ctx + self._stretches(read, ctx, n)[-1]["end"]
                return self._first.start, end
            hi, window = lo, min(2 * window, MAX_TAIL_S)
        if scanned < n:
            self._head.feed(read(scanned, n))
        self._head.finish()
        found = stretches(self._head.probabilities(), n, self.threshold)
        return (found[0]["start"], found[-1]["end"]) if found else None

    def _stretches(self, read: Callable[[int, int], np.ndarray], lo: int, hi: int) -> list[dict]:
        """Stretches of samples ``lo:hi`` (relative to ``lo``), the model starting afresh at ``lo``."""
        vad = VadStream()
        vad.feed(read(lo, hi))
        vad.finish()
        return stretches(vad.probabilities(), hi - lo, self.threshold)


def speech_span_samples(audio: np.ndarray, threshold: float = 0.5, block: int = 30 * SAMPLE_RATE) -> tuple | None:
    """``SpeechEdges`` over an array in memory."""
    edges = SpeechEdges(threshold)
    for i in range(0, audio.size, block):
        edges.feed(audio[i : i + block])
    return edges.span(lambda lo, hi: audio[lo:hi])
