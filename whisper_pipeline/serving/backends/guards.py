"""Guards against Whisper's known failures on long or noisy audio: a window decoded into a loop of one
phrase, and text invented for silence or music. They are the standard ones (OpenAI's ``transcribe``,
faster-whisper), on by default on every backend and in evaluation, and can each be turned off:

- **Temperature fallback**: a window is decoded greedily (temperature 0); when its text compresses too
  well (``compression_ratio_threshold`` 2.4: zlib ratio of the text, mostly repeats) or is improbable
  (``log_prob_threshold`` -1.0: average log-probability of its tokens), it is decoded again at 0.2, 0.4,
  … 1.0, sampled, until one passes (on ``transformers`` and in evaluation only a looping window is retried:
  ``hf_retry_improbable``).
- **No-speech**: a window whose ``<|nospeech|>`` probability is above ``no_speech_threshold`` (0.6) *and*
  whose text is improbable (below ``log_prob_threshold``) is judged silent, and its text is dropped.
- **VAD-gated chunks**: only the stretches silero-VAD hears as speech are decoded (``vad``); the rest
  (silence, music, tones) never reaches the decoder, so nothing can be invented there.
- **Loop collapse**, after decoding: a phrase of 1 to ``MAX_LOOP_WORDS`` words said more than
  ``max_repeats`` (3) times back to back (within a segment or across consecutive ones) is kept once
  (``collapse_loops``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
MAX_LOOP_WORDS = 10  # the longest phrase looked for as a loop
# transformers measures compression on token bytes, not text: its documented equivalent of 2.4 is 1.35
HF_RATIO_PER_TEXT_RATIO = 1.35 / 2.4


@dataclass(frozen=True)
class Guards:
    """Which guards run, and their thresholds (None turns one off)."""

    compression_ratio_threshold: float | None = 2.4
    log_prob_threshold: float | None = -1.0
    no_speech_threshold: float | None = 0.6
    temperatures: tuple[float, ...] = FALLBACK_TEMPERATURES
    vad: bool = True
    vad_threshold: float = 0.5  # silero-VAD speech probability
    min_silence_s: float = 2.0  # a gap in speech shorter than this stays inside the chunk
    speech_pad_s: float = 0.4  # kept on each side of what VAD hears, so no word's edge is cut
    max_repeats: int | None = 3  # a phrase repeated back to back more than this is a loop (None: off)
    # transformers/evaluation only: a decode below this average log-probability (≈ 1.8 % a token) is not
    # retried: the model recognises nothing here (a random or wrong model), sampling from the same flat
    # distribution cannot do better, and five more decodes of up to 448 tokens cost five times the time
    hopeless_log_prob: float | None = -4.0
    # transformers/evaluation only: retry a window warmer when it is merely improbable (below
    # ``log_prob_threshold``), not only when it loops. Off: whisper-base on BCS is below -1.0 on most
    # windows, and each retry through the transformers pipeline (word timestamps) costs a full decode —
    # measured 10-13x the time for no better WER (bench/serving_latency.py). CT2 retries cheaply and
    # always does. The threshold still decides silence (the no-speech rule).
    hf_retry_improbable: bool = False

    def without(self) -> Guards:
        """Every guard off: greedy decoding of all the audio, nothing dropped or collapsed."""
        return replace(
            self,
            compression_ratio_threshold=None,
            log_prob_threshold=None,
            no_speech_threshold=None,
            temperatures=(0.0,),
            vad=False,
            max_repeats=None,
        )

    def schedule(self, temperature: float) -> tuple[float, ...]:
        """Temperatures to try: the fallback schedule for 0, the one asked for above 0 (sampled)."""
        return tuple(self.temperatures) if temperature <= 0 else (float(temperature),)

    def hf_generate_kwargs(self, temperature: float = 0.0) -> dict:
        """The same guards as ``transformers``' Whisper ``generate`` arguments (its compression ratio is
        measured on token bytes, so the threshold is scaled to its equivalent)."""
        temps = self.schedule(temperature)
        kwargs: dict = {"temperature": temps if len(temps) > 1 else temps[0]}
        if temps[0] > 0:
            kwargs["do_sample"] = True
        if len(temps) > 1 and self.compression_ratio_threshold is not None:
            kwargs["compression_ratio_threshold"] = self.compression_ratio_threshold * HF_RATIO_PER_TEXT_RATIO
        if self.log_prob_threshold is not None and (len(temps) > 1 or self.no_speech_threshold is not None):
            kwargs["logprob_threshold"] = self.log_prob_threshold
            if self.no_speech_threshold is not None:
                kwargs["no_speech_threshold"] = self.no_speech_threshold
        return kwargs


DEFAULT_GUARDS = Guards()
NO_GUARDS = Guards().without()


def speech_regions(
    audio: np.ndarray, guards: Guards = DEFAULT_GUARDS, sample_rate: int = 16000
) -> list[tuple[int, int]]:
    """(start, end) sample indices of the speech silero-VAD hears (the ONNX model faster-whisper ships,
    run on CPU, no torch), padded by ``speech_pad_s`` and merged across gaps shorter than
    ``min_silence_s``. Every region is speech with its pauses; between regions is what is not decoded."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if audio.size == 0:
        return []
    options = VadOptions(
        threshold=guards.vad_threshold,
        min_silence_duration_ms=int(guards.min_silence_s * 1000),
        speech_pad_ms=int(guards.speech_pad_s * 1000),
    )
    stamps = get_speech_timestamps(np.asarray(audio, dtype=np.float32), options, sampling_rate=sample_rate)
    regions: list[tuple[int, int]] = []
    for s in stamps:
        start, end = max(0, int(s["start"])), min(audio.size, int(s["end"]))
        if regions and start - regions[-1][1] < guards.min_silence_s * sample_rate:
            regions[-1] = (regions[-1][0], max(end, regions[-1][1]))
        elif end > start:
            regions.append((start, end))
    return regions


def _norm(word: str) -> str:
    return re.sub(r"[^\w]+", "", word.lower())


def loop_spans(tokens: list[str], max_repeats: int, max_words: int = MAX_LOOP_WORDS) -> list[tuple[int, int, int]]:
    """(start, period, copies) of every loop in ``tokens`` (normalised words): a phrase of ``period``
    words repeated back to back ``copies`` > ``max_repeats`` times, starting at ``start``. The shortest
    period wins ("a a a a" is "a" four times, not "a a" twice); loops do not overlap."""
    found, i, n = [], 0, len(tokens)
    while i < n:
        best = None
        for period in range(1, max_words + 1):
            if i + period * (max_repeats + 1) > n:
                break
            phrase = tokens[i : i + period]
            if not any(phrase):
                continue
            copies = 1
            while tokens[i + copies * period : i + (copies + 1) * period] == phrase:
                copies += 1
            if copies > max_repeats:
                best = (i, period, copies)
                break
        if best:
            found.append(best)
            i += best[1] * best[2]
        else:
            i += 1
    return found


def ends_in_loop(text: str, copies: int, max_words: int = MAX_LOOP_WORDS) -> bool:
    """Whether ``text`` ends with one phrase of 1 to ``max_words`` words said ``copies`` times back to back (its
    last word left out: a text being decoded may stop inside a word): the decoder is in a loop right now."""
    words = [_norm(w) for w in text.split()[:-1]]
    for period in range(1, max_words + 1):
        if period * copies > len(words):
            break
        phrase = words[len(words) - period :]
        if any(phrase) and all(
            words[len(words) - k * period : len(words) - (k - 1) * period] == phrase for k in range(2, copies + 1)
        ):
            return True
    return False


def collapse_loops(segments: list[dict], max_repeats: int | None = 3) -> tuple[list[dict], int]:
    """Segments with every loop (``loop_spans``) kept once: the words of the extra copies are dropped
    with their timestamps, and each segment's text is rebuilt from the words it keeps (a segment left
    without words goes). Loops are looked for over the words of consecutive segments, since faster-whisper
    often writes each copy of a looping phrase as a segment of its own. Returns the segments and how many
    words were dropped. A loop is a decoding failure, not speech: people do not say one phrase four times
    running, Whisper does when it is stuck."""
    if not max_repeats:
        return segments, 0
    where = [(k, i) for k, seg in enumerate(segments) for i in range(len(seg.get("words") or []))]
    tokens = [_norm(segments[k]["words"][i]["word"]) for k, i in where]
    drop: set[tuple[int, int]] = set()
    for start, period, copies in loop_spans(tokens, max_repeats):
        drop.update(where[j] for j in range(start + period, start + period * copies))
    if not drop:
        return segments, 0
    kept = []
    for k, seg in enumerate(segments):
        words = seg.get("words") or []
        if not any((k, i) in drop for i in range(len(words))):
            kept.append(seg)
            continue
        seg["words"] = [w for i, w in enumerate(words) if (k, i) not in drop]
        if seg["words"]:
            seg["text"] = " ".join("".join(w["word"] for w in seg["words"]).split())
            seg["start"], seg["end"] = seg["words"][0]["start"], seg["words"][-1]["end"]
            kept.append(seg)
    return kept, len(drop)


def collapse_text_loops(text: str, max_repeats: int | None = 3) -> str:
    """``collapse_loops`` for a text without word timestamps (evaluation's transcripts)."""
    words = text.split()
    if not max_repeats or not words:
        return text
    drop: set[int] = set()
    for start, period, copies in loop_spans([_norm(w) for w in words], max_repeats):
        drop.update(range(start + period, start + period * copies))
    return " ".join(w for i, w in enumerate(words) if i not in drop)
