"""Promotion gates on an evaluation: absolute WER ceilings per language, and no regression against
the production model beyond a margin. Shared by the asset checks and the promote step."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class GateResult:
    passed: bool
    failures: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)


def wer_ceiling_gate(evals: dict[str, dict], ceiling: float, per_language: dict[str, float] | None = None) -> GateResult:
    """Every language's fine-tuned WER at or under its ceiling (``per_language`` overrides ``ceiling``)."""
    failures, details = [], {}
    for lang, doc in sorted(evals.items()):
        wer = doc["models"]["finetuned"]["wer"]
        limit = (per_language or {}).get(lang, ceiling)
        details[lang] = {"wer": wer, "ceiling": limit}
        if wer is None or wer > limit:
            failures.append(f"{lang}: WER {wer} above the ceiling {limit}")
    return GateResult(not failures, failures, details)


def regression_gate(evals: dict[str, dict], margin: float) -> GateResult:
    """Fine-tuned WER may not exceed the production model's (on the same utterances) by more than ``margin``.
    Passes when there is no production model yet (nothing to regress from)."""
    failures, details = [], {}
    for lang, doc in sorted(evals.items()):
        prod = doc["models"].get("production")
        if prod is None:
            details[lang] = {"production": None}
            continue
        ft = doc["models"]["finetuned"]["wer"]
        comparison = doc.get("comparisons", {}).get("finetuned_vs_production", {})
        details[lang] = {"wer": ft, "production_wer": prod["wer"], "margin": margin,
                         "significant": comparison.get("significant"), "p_value": comparison.get("p_value")}
        if ft is None or (prod["wer"] is not None and ft > prod["wer"] + margin):
            failures.append(f"{lang}: WER {ft} is worse than production {prod['wer']} by more than {margin}")
    return GateResult(not failures, failures, details)
