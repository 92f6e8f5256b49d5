"""WER/CER with jiwer on evaluation-normalized text (lower case, no punctuation, Latin script)."""

from __future__ import annotations

import jiwer

from whisper_pipeline.text.normalize import normalize_for_eval


def score(references: list[str], hypotheses: list[str]) -> dict:
    """Corpus-level WER and CER. Utterances whose reference normalizes to nothing are skipped."""
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
    ref = normalize_for_eval(reference)
    return round(jiwer.wer(ref, normalize_for_eval(hypothesis)), 4) if ref else None
