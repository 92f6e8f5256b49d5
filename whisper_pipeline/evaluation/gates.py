"""Promotion gates on an evaluation: absolute WER ceilings per language, and no regression against
the production model beyond a margin. Shared by the asset checks and the promote step, with the same
settings (``GateSettings``). With ``gate_conditions`` both gates also judge the fine-tuned model on chosen
degraded conditions (``eval_report``'s ``conditions``), e.g. ``[pink_10db, telephone]``."""

from __future__ import annotations

from dataclasses import dataclass, field

from whisper_pipeline.audio.degrade import check_conditions


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

    gate_conditions: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Degraded conditions the gates also judge (e.g. [pink_10db]): fine-tuned WER vs production "
            "within regression_margin, and under condition_wer_ceiling; each must be in eval_report's conditions"
        },
    )
    condition_wer_ceiling: float = field(
        default=-1.0, metadata={"help": "Highest acceptable fine-tuned WER on each gate condition; negative = none"}
    )

    def __post_init__(self):
        check_conditions(list(self.gate_conditions))

    def cer_margin(self) -> float | None:
        """The CER margin, or None when CER is not judged (a negative ``cer_regression_margin``)."""
        return None if self.cer_regression_margin < 0 else self.cer_regression_margin

    def ceiling(self, evals: dict[str, dict]) -> GateResult:
        """``wer_ceiling_gate`` with these settings."""
        result = wer_ceiling_gate(evals, self.wer_ceiling, self.wer_ceiling_per_language)
        if self.gate_conditions and self.condition_wer_ceiling >= 0:
            result = result.merge(condition_ceiling_gate(evals, self.gate_conditions, self.condition_wer_ceiling))
        return result

    def regression(self, evals: dict[str, dict]) -> GateResult:
        """``regression_gate`` with these settings."""
        result = regression_gate(evals, self.regression_margin, self.cer_margin())
        if self.gate_conditions:
            result = result.merge(condition_regression_gate(evals, self.gate_conditions, self.regression_margin))
        return result


@dataclass
class GateResult:
    passed: bool
    failures: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)

    def merge(self, other: GateResult) -> GateResult:
        """Both verdicts in one: fails if either fails; the other's details under ``conditions``."""
        details = {**self.details, "conditions": other.details}
        return GateResult(self.passed and other.passed, self.failures + other.failures, details)


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


def _condition_scores(doc: dict, condition: str, lang: str) -> tuple[dict | None, str | None]:
    """The condition's per-model scores in one evaluation document, or why they are missing."""
    entry = (doc.get("conditions") or {}).get(condition)
    if entry is None:
        return None, f"{lang}: condition {condition} was not evaluated (add it to eval_report's conditions)"
    if "skipped" in entry:
        return None, f"{lang}: condition {condition} was skipped in evaluation: {entry['skipped']}"
    return entry["models"], None


def condition_ceiling_gate(evals: dict[str, dict], conditions: list[str], ceiling: float) -> GateResult:
    """Every language's fine-tuned WER on each of ``conditions`` at or under ``ceiling``."""
    failures, details = [], {}
    for lang, doc in sorted(evals.items()):
        for condition in conditions:
            models, missing = _condition_scores(doc, condition, lang)
            if missing:
                failures.append(missing)
                continue
            wer = models["finetuned"]["wer"]
            details.setdefault(lang, {})[condition] = {"wer": wer, "ceiling": ceiling}
            if wer is None or wer > ceiling:
                failures.append(f"{lang}: WER {wer} on {condition} above the ceiling {ceiling}")
    return GateResult(not failures, failures, details)


def condition_regression_gate(evals: dict[str, dict], conditions: list[str], margin: float) -> GateResult:
    """On each of ``conditions``, fine-tuned WER may not exceed production's (the same degraded utterances)
    by more than ``margin``. Passes for a language without a production model."""
    failures, details = [], {}
    for lang, doc in sorted(evals.items()):
        if "production" not in doc["models"]:
            details[lang] = {"production": None}
            continue
        for condition in conditions:
            models, missing = _condition_scores(doc, condition, lang)
            if missing:
                failures.append(missing)
                continue
            ft, prod = models["finetuned"]["wer"], (models.get("production") or {}).get("wer")
            details.setdefault(lang, {})[condition] = {"wer": ft, "production_wer": prod, "margin": margin}
            if ft is None or (prod is not None and ft > prod + margin):
                failures.append(
                    f"{lang}: WER {ft} on {condition} is worse than production {prod} by more than {margin}"
                )
    return GateResult(not failures, failures, details)
