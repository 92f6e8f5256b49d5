"""WER/CER a researcher can trust: jiwer on evaluation-normalized text, error counts, the most
frequent substitutions, 95% bootstrap confidence intervals, breakdowns by group, and a paired
bootstrap test of whether one model is really better than another on the same utterances.

Corpus WER is Σ errors / Σ reference words (not the mean of utterance WERs), so resampling works
on per-utterance (errors, words) pairs: each bootstrap replicate draws utterances with replacement
and recomputes the corpus figure.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import jiwer
import numpy as np

from whisper_pipeline.text.normalize import normalize_for_eval

BOOTSTRAP_SAMPLES = 1000


@dataclass
class UtteranceErrors:
    """Word and character edit counts of one (reference, hypothesis) pair, after normalization."""

    reference: str
    hypothesis: str
    words: int
    substitutions: int
    deletions: int
    insertions: int
    chars: int
    char_errors: int
    substitution_pairs: list[tuple[str, str]]

    @property
    def word_errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float | None:
        return round(self.word_errors / self.words, 4) if self.words else None


def utterance_errors(reference: str, hypothesis: str) -> UtteranceErrors | None:
    """None when the reference normalizes to nothing (it cannot be scored)."""
    ref, hyp = normalize_for_eval(reference), normalize_for_eval(hypothesis)
    if not ref:
        return None
    words = jiwer.process_words(ref, hyp)
    pairs = []
    for chunk in words.alignments[0]:
        if chunk.type == "substitute":
            pairs += zip(
                words.references[0][chunk.ref_start_idx : chunk.ref_end_idx],
                words.hypotheses[0][chunk.hyp_start_idx : chunk.hyp_end_idx],
            )
    chars = jiwer.process_characters(ref, hyp)
    return UtteranceErrors(
        ref,
        hyp,
        len(ref.split()),
        words.substitutions,
        words.deletions,
        words.insertions,
        len(ref),
        chars.substitutions + chars.deletions + chars.insertions,
        pairs,
    )


def _ratio(errors: np.ndarray, totals: np.ndarray) -> float | None:
    total = totals.sum()
    return round(float(errors.sum() / total), 4) if total else None


def bootstrap_interval(
    errors: np.ndarray, totals: np.ndarray, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0
) -> tuple[float, float] | None:
    """95% percentile interval of Σerrors/Σtotals over utterances resampled with replacement."""
    n = errors.size
    if n == 0 or totals.sum() == 0:
        return None
    idx = np.random.default_rng(seed).integers(0, n, size=(samples, n))
    ratios = errors[idx].sum(axis=1) / np.maximum(totals[idx].sum(axis=1), 1)
    return round(float(np.percentile(ratios, 2.5)), 4), round(float(np.percentile(ratios, 97.5)), 4)


def summarize(items: list[UtteranceErrors], seed: int = 0, top: int = 20) -> dict:
    """Corpus WER/CER with 95% CIs, edit counts and the most frequent substitutions."""
    if not items:
        return {"utterances": 0, "wer": None, "cer": None}
    w_err = np.array([i.word_errors for i in items], dtype=float)
    words = np.array([i.words for i in items], dtype=float)
    c_err = np.array([i.char_errors for i in items], dtype=float)
    chars = np.array([i.chars for i in items], dtype=float)
    subs = Counter(p for i in items for p in i.substitution_pairs)
    return {
        "utterances": len(items),
        "reference_words": int(words.sum()),
        "wer": _ratio(w_err, words),
        "wer_ci95": bootstrap_interval(w_err, words, seed=seed),
        "cer": _ratio(c_err, chars),
        "cer_ci95": bootstrap_interval(c_err, chars, seed=seed),
        "substitutions": sum(i.substitutions for i in items),
        "deletions": sum(i.deletions for i in items),
        "insertions": sum(i.insertions for i in items),
        "top_substitutions": [{"reference": r, "hypothesis": h, "count": n} for (r, h), n in subs.most_common(top)],
    }


def paired_comparison(
    a: list[UtteranceErrors], b: list[UtteranceErrors], samples: int = BOOTSTRAP_SAMPLES, seed: int = 0
) -> dict:
    """Is B's WER different from A's on the same utterances? Paired bootstrap of WER(B) − WER(A).

    ``significant`` when the 95% interval of the difference excludes 0; ``p_value`` is the two-sided
    share of replicates on the other side of 0 (Koehn-style paired bootstrap).
    """
    if len(a) != len(b) or not a:
        raise ValueError("paired comparison needs the same, non-empty set of utterances for both models")
    words = np.array([x.words for x in a], dtype=float)
    ea = np.array([x.word_errors for x in a], dtype=float)
    eb = np.array([x.word_errors for x in b], dtype=float)
    idx = np.random.default_rng(seed).integers(0, len(a), size=(samples, len(a)))
    total = np.maximum(words[idx].sum(axis=1), 1)
    diff = (eb[idx].sum(axis=1) - ea[idx].sum(axis=1)) / total
    observed = float((eb.sum() - ea.sum()) / words.sum())
    low, high = float(np.percentile(diff, 2.5)), float(np.percentile(diff, 97.5))
    p = 2 * min(float(np.mean(diff >= 0)), float(np.mean(diff <= 0)))
    return {
        "wer_difference": round(observed, 4),
        "difference_ci95": (round(low, 4), round(high, 4)),
        "p_value": round(min(1.0, p), 4),
        "significant": bool(low > 0 or high < 0),
    }


def breakdown(items: list[UtteranceErrors], groups: list[str], seed: int = 0) -> dict[str, dict]:
    """``summarize`` per group label (speaker, duration bucket, source…), without the substitution lists."""
    by: dict[str, list[UtteranceErrors]] = {}
    for item, group in zip(items, groups, strict=True):
        by.setdefault(group, []).append(item)
    out = {}
    for group in sorted(by):
        s = summarize(by[group], seed=seed, top=0)
        s.pop("top_substitutions")
        out[group] = s
    return out


def score(references: list[str], hypotheses: list[str]) -> dict:
    """Corpus-level WER and CER (plain jiwer, for quick use). Unscorable references are skipped."""
    pairs = [(normalize_for_eval(r), normalize_for_eval(h)) for r, h in zip(references, hypotheses, strict=True)]
    pairs = [(r, h) for r, h in pairs if r]
    if not pairs:
        return {"wer": None, "cer": None, "utterances": 0}
    refs, hyps = [p[0] for p in pairs], [p[1] for p in pairs]
    return {
        "wer": round(jiwer.wer(refs, hyps), 4),
        "cer": round(jiwer.cer(refs, hyps), 4),
        "utterances": len(pairs),
        "reference_words": sum(len(r.split()) for r in refs),
    }


def utterance_wer(reference: str, hypothesis: str) -> float | None:
    errors = utterance_errors(reference, hypothesis)
    return errors.wer if errors else None
