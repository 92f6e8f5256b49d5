"""The guards of ``guards.py`` for a ``transformers`` Whisper, decoded window by window.

``transformers``' own ``generate`` has the same fallback (``temperature`` as a list with thresholds), but
behind its pipeline with word timestamps three short clips (a sentence, 10 s of silence, two sentences)
did not come back within 10 minutes on a busy 2-core machine (not investigated further), so the
decisions are made here: each window is decoded greedily, then scored with one
teacher-forced pass of the decoder over its text (average log-probability of the text's tokens and the
end token, as OpenAI's ``transcribe`` computes it; ``<|nospeech|>`` probability at the start token), and
only the windows that fail are decoded again, sampled, at the next temperature of the schedule."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from whisper_pipeline.serving.backends.base import compression_ratio
from whisper_pipeline.serving.backends.guards import Guards

SEED = 0  # sampled retries are seeded: the same audio gives the same text
TOKENS_PER_SECOND = 12  # about twice what BCS speech needs (≈ 2.5 words/s, ≈ 2.5 tokens a word)


def retry_token_budget(seconds: float, ceiling: int = 444) -> int:
    """New tokens a sampled retry of ``seconds`` of audio may produce: a warm decode that runs away
    (a loop, hallucinated text) stops at what the audio could hold, not at the model's limit, which
    bounds what a window failing every temperature costs."""
    return max(16, min(ceiling, int(TOKENS_PER_SECOND * seconds) + 16))


LOOP_CHECK_EVERY = 8  # tokens between two looks at a row's text (a decode and a zlib of < 1 kB each)
LOOP_MIN_CHARS = 64  # shorter texts are not judged: zlib's own overhead keeps their ratio low anyway
LOOP_TAIL_COPIES = 4  # a phrase said this often at the end (one more than collapse's max_repeats): looping now


def loop_stop(tokenizer, threshold: float | None):
    """A ``generate`` stopping criterion that ends a row while it loops: its text so far already fails the
    fallback's compression-ratio check (``threshold``) *and* ends with one phrase said ``LOOP_TAIL_COPIES`` times
    in a row (``guards.ends_in_loop``), so the decoder is in the loop now, not past one it has left. Such a
    decode fails the check and is retried either way; the tokens it would add until the budget only repeat the
    phrase, so the batch no longer runs to the budget for one looping row. Rows are looked at every
    ``LOOP_CHECK_EVERY`` tokens; ``.stopped`` holds the rows stopped in the last ``generate`` (their texts have
    no end of text: ``score_texts(ended=...)`` scores them without one). None when there is no threshold."""
    if threshold is None:
        return None
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    from whisper_pipeline.serving.backends.guards import ends_in_loop

    class LoopStop(StoppingCriteria):
        def __init__(self) -> None:
            self.stopped: set[int] = set()

        def __call__(self, input_ids, scores, **kwargs):
            done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
            if input_ids.shape[1] % LOOP_CHECK_EVERY:
                return done
            for row, text in enumerate(tokenizer.batch_decode(input_ids, skip_special_tokens=True)):
                if row in self.stopped or len(text) < LOOP_MIN_CHARS or (compression_ratio(text) or 0.0) <= threshold:
                    continue
                if ends_in_loop(text, LOOP_TAIL_COPIES):
                    self.stopped.add(row)
            done[list(self.stopped)] = True
            return done

    return StoppingCriteriaList([LoopStop()])


def no_speech_token(tokenizer) -> int:
    """``<|nospeech|>`` (large-v3 tokenizers) or ``<|nocaptions|>`` (the older ones)."""
    for token in ("<|nospeech|>", "<|nocaptions|>"):
        tid = tokenizer.convert_tokens_to_ids(token)
        if tid is not None and tid != tokenizer.unk_token_id:
            return int(tid)
    raise ValueError("this tokenizer has no no-speech token")


def score_texts(
    model, tokenizer, features, texts: list[str], language: str, ended: list[bool] | None = None
) -> list[tuple[float, float]]:
    """(average log-probability, no-speech probability) of each ``texts[i]`` given the log-mel
    ``features[i]``: one forward pass of the model with the text as the decoder's input. The end-of-text token
    counts as the text's last token, except where ``ended[i]`` is False (a decode stopped mid-loop by
    ``loop_stop``: it did not end there, and an end token in the middle of a loop is improbable enough to tip a
    short text's average)."""
    import torch

    prefix = [
        tokenizer.convert_tokens_to_ids("<|startoftranscript|>"),
        tokenizer.convert_tokens_to_ids(f"<|{language}|>"),
        tokenizer.convert_tokens_to_ids("<|transcribe|>"),
        tokenizer.convert_tokens_to_ids("<|notimestamps|>"),
    ]
    eot = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    bodies = [tokenizer.encode(" " + t.strip(), add_special_tokens=False)[:440] if t.strip() else [] for t in texts]
    ended = ended or [True] * len(texts)
    seqs = [prefix + body + ([eot] if end or not body else []) for body, end in zip(bodies, ended)]
    width = max(len(s) for s in seqs)
    ids = torch.tensor([s + [eot] * (width - len(s)) for s in seqs], device=model.device)
    with torch.inference_mode():
        logits = model(input_features=features.to(model.device, model.dtype), decoder_input_ids=ids).logits.float()
    logp = torch.log_softmax(logits, dim=-1)
    nospeech = torch.softmax(logits[:, 0], dim=-1)[:, no_speech_token(tokenizer)]
    out = []
    for i, seq in enumerate(seqs):
        positions = torch.arange(len(prefix) - 1, len(seq) - 1, device=logp.device)
        targets = torch.tensor(seq[len(prefix) :], device=logp.device)
        avg = float(logp[i, positions, targets].sum()) / (len(seq) - len(prefix))
        out.append((avg, float(nospeech[i])))
    return out


def failed(text: str, avg_logprob: float, guards: Guards) -> bool:
    """Whether a decode fails the fallback checks: it repeats itself, or (``guards.hf_retry_improbable``)
    it is improbable."""
    ratio = compression_ratio(text) or 0.0
    too_repetitive = guards.compression_ratio_threshold is not None and ratio > guards.compression_ratio_threshold
    improbable = guards.log_prob_threshold is not None and avg_logprob < guards.log_prob_threshold
    return too_repetitive or (improbable and guards.hf_retry_improbable)


def silent(avg_logprob: float, no_speech_prob: float, guards: Guards) -> bool:
    """Whisper's no-speech rule: the no-speech token is likely and the text improbable."""
    if guards.no_speech_threshold is None:
        return False
    improbable = guards.log_prob_threshold is None or avg_logprob < guards.log_prob_threshold
    return no_speech_prob > guards.no_speech_threshold and improbable


def guarded_decode(
    decode: Callable[[list[int], float], list],
    text_of: Callable[[object], str],
    score: Callable[[list[int], list[str]], list[tuple[float, float]]],
    n: int,
    guards: Guards,
) -> list[object | None]:
    """Decode items ``0..n-1`` under the guards. ``decode(indices, temperature)`` decodes those items
    (greedy at 0, sampled above) and returns one result each; ``text_of`` gives a result's text;
    ``score(indices, texts)`` their (average log-probability, no-speech probability). Items judged silent
    come back as None; the others as the first decode that passes the checks, or, when none does, the
    best one tried (faster-whisper's rule: not too repetitive first, then the most probable), so a greedy
    decode that just missed the threshold is not replaced by a hotter, worse one. A greedy decode below
    ``guards.hopeless_log_prob`` is kept as it is (no retries)."""
    import torch

    temps = guards.temperatures or (0.0,)
    results: list[object | None] = list(decode(list(range(n)), temps[0])) if n else []
    checks = guards.log_prob_threshold is not None or guards.no_speech_threshold is not None
    if not checks and (guards.compression_ratio_threshold is None or len(temps) == 1):
        return results
    stats = score(list(range(n)), [text_of(r) for r in results]) if checks else [(0.0, 0.0)] * n
    pending = []
    hopeless = guards.hopeless_log_prob if guards.hopeless_log_prob is not None else float("-inf")
    best: dict[int, tuple[tuple[bool, float], object]] = {}
    for i, (avg, nospeech) in enumerate(stats):
        if silent(avg, nospeech, guards):
            results[i] = None
        elif failed(text_of(results[i]), avg, guards) and avg >= hopeless:
            pending.append(i)
            best[i] = (_rank(text_of(results[i]), avg, guards), results[i])
    for temperature in temps[1:]:
        if not pending:
            break
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(SEED)
            retried = decode(pending, temperature)
        stats = score(pending, [text_of(r) for r in retried]) if checks else [(0.0, 0.0)] * len(pending)
        still = []
        for i, r, (avg, _) in zip(pending, retried, stats):
            if not failed(text_of(r), avg, guards):
                results[i] = r
                continue
            still.append(i)
            rank = _rank(text_of(r), avg, guards)
            if rank > best[i][0]:
                best[i] = (rank, r)
            results[i] = best[i][1]
        pending = still
    return results


def _rank(text: str, avg_logprob: float, guards: Guards) -> tuple[bool, float]:
    """How good a failed decode is: one under the compression-ratio threshold beats one over it, then
    the higher average log-probability."""
    ratio = compression_ratio(text) or 0.0
    threshold = guards.compression_ratio_threshold
    return (threshold is None or ratio <= threshold, avg_logprob)


def features_of(feature_extractor, clips: list[np.ndarray]):
    return feature_extractor(clips, sampling_rate=16000, return_tensors="pt").input_features
