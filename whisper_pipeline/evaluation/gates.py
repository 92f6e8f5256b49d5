"""Promotion gates on an evaluation: absolute WER ceilings per language, and no regression against
the production model beyond a margin. Shared by the asset checks and the promote step, with the same
settings (``GateSettings``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class GateSettings:
    """The promotion gates' thresholds (the gate checks' and the promote step's config)."""

    wer_ceiling: float = field(default=0.8, metadata={"help": "Highest acceptable fine-tuned WER, any language"})
    wer_ceiling_per_language: dict[str, float] = field(
        default_factory=dict, metadata={"help": "Overrides per language, e.g. {sr: 0.5}"}
    )
    regression_margin: float = field(
        default=0.02, metadata={"help": "How much worse than production (WER) is tolerated"}
    )
    cer_regression_margin: float = field(
        default=0.02,
        metadata={"help": "How much worse than production (CER) is tolerated; negative = CER not judged"},
    )

    def cer_margin(self) -> float | None:
        """The CER margin, or None when CER is not judged (a negative ``cer_regression_margin``)."""
        return None if self.cer_regression_margin < 0 else self.cer_regression_margin

    def ceiling(self, evals: dict[str, dict]) -> GateResult:
        """``wer_ceiling_gate`` with these settings."""
        return wer_ceiling_gate(evals, self.wer_ceiling, self.wer_ceiling_per_language)

    def regression(self, evals: dict[str, dict]) -> GateResult:
        """``regression_gate`` with these settings."""
        return regression_gate(evals, self.regression_margin, self.cer_margin())


@dataclass
class GateResult:
    passed: bool
    failures: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)


def wer_ceiling_gate(
    evals: dict[str, dict], ceiling: float, per_language: dict[str, float] | None = None
) -> GateResult:
    """Every language's fine-tuned WER at or under its ceiling (``per_language`` overrides ``ceiling``)."""
    failures, details = [], {}
    for lang, doc in sorted(evals.items()):
        wer = doc["models"]["finetuned"]["wer"]
        limit = (per_language or {}).get(lang, ceiling)
        details[lang] = {"wer": wer, "ceiling": limit}
        if wer is None or wer > limit:
            failures.append(f"{lang}: WER {wer} above the ceiling {limit}")
    return GateResult(not failures, failures, details)


def regression_gate(evals: dict[str, dict], margin: float, cer_margin: float | None = None) -> GateResult:
    """Fine-tuned WER may not exceed the production model's (on the same utterances) by more than ``margin``,
    nor its CER by more than ``cer_margin`` (None: CER not judged). Passes when there is no production model
    yet (nothing to regress from).

    Why CER too: WER is capped at 1.0 for a model that outputs nothing but unbounded for one that
    hallucinates, so against a weak production model a silent, broken model can look "better" on WER
    alone; its CER (every character deleted) still gives it away."""
    failures, details = [], {}
    for lang, doc in sorted(evals.items()):
        prod = doc["models"].get("production")
        if prod is None:
            details[lang] = {"production": None}
            continue
        ft = doc["models"]["finetuned"]
        comparison = doc.get("comparisons", {}).get("finetuned_vs_production", {})
        details[lang] = {
            "wer": ft["wer"],
            "production_wer": prod["wer"],
            "margin": margin,
            "significant": comparison.get("significant"),
            "p_value": comparison.get("p_value"),
        }
        if ft["wer"] is None or (prod["wer"] is not None and ft["wer"] > prod["wer"] + margin):
            failures.append(f"{lang}: WER {ft['wer']} is worse than production {prod['wer']} by more than {margin}")
        if cer_margin is not None and ft.get("cer") is not None and prod.get("cer") is not None:
            details[lang].update(cer=ft["cer"], production_cer=prod["cer"], cer_margin=cer_margin)
            if ft["cer"] > prod["cer"] + cer_margin:
                failures.append(
                    f"{lang}: CER {ft['cer']} is worse than production {prod['cer']} by more than {cer_margin}"
                )
    return GateResult(not failures, failures, details)
