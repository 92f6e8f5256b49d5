"""Balance audit of the usable corpus: where the hours are, and what to do about the gaps.

Read by people deciding what to record or harvest next and how to weight sampling, so every
figure comes in hours and utterances, and every imbalance found becomes a concrete sentence.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

SNR_BUCKETS = (
    (10.0, "noisy (<10 dB)"),
    (20.0, "moderate (10-20 dB)"),
    (30.0, "good (20-30 dB)"),
    (float("inf"), "clean (>=30 dB)"),
)
DURATION_BUCKETS = ((2.0, "<2 s"), (5.0, "2-5 s"), (10.0, "5-10 s"), (20.0, "10-20 s"), (float("inf"), ">=20 s"))


@dataclass
class BalanceRules:
    """When an imbalance is worth a recommendation."""

    min_language_share: float = field(
        default=0.25,
        metadata={"help": "Recommend more hours for a language below this share of all hours (parity 0.33)"},
    )
    max_speaker_share: float = field(
        default=0.3, metadata={"help": "Warn when one speaker has more than this share of a language's hours"}
    )
    min_speakers: int = field(
        default=5, metadata={"help": "Speakers per language for a meaningful speaker-disjoint test split"}
    )
    min_hours: float = field(default=10.0, metadata={"help": "Hours per language for a fine-tune that clearly helps"})
    max_clean_share: float = field(
        default=0.9, metadata={"help": "Share of hours at SNR >= 30 dB above which the model will not learn noise"}
    )
    max_noisy_share: float = field(default=0.2, metadata={"help": "Share of hours below 10 dB SNR worth a warning"})
    min_long_share: float = field(default=0.1, metadata={"help": "Share of hours in utterances >= 10 s, at least"})
    max_foreign_dialect_share: float = field(
        default=0.05,
        metadata={"help": "Share of ekavian hours in bs/hr above which they are probably mislabelled Serbian"},
    )


def snr_bucket(snr_db: float | None) -> str:
    if snr_db is None:
        return "unknown"
    return next(label for limit, label in SNR_BUCKETS if snr_db < limit)


def duration_bucket(seconds: float) -> str:
    return next(label for limit, label in DURATION_BUCKETS if seconds < limit)


def _tally(rows: list[dict], key) -> dict[str, dict]:
    out: dict[str, dict] = defaultdict(lambda: {"hours": 0.0, "utterances": 0})
    for r in rows:
        cell = out[key(r)]
        cell["hours"] += r["duration_s"] / 3600
        cell["utterances"] += 1
    total = sum(c["hours"] for c in out.values()) or 1.0
    return {
        k: {
            "hours": round(c["hours"], 4),
            "utterances": c["utterances"],
            "share_of_hours": round(c["hours"] / total, 3),
        }
        for k, c in sorted(out.items(), key=lambda kv: -kv[1]["hours"])
    }


def build_balance(rows_by_language: dict[str, list[dict]], rules: BalanceRules | None = None) -> dict:
    """The ``dataset_balance.json`` document from each language's usable rows."""
    rules = rules or BalanceRules()
    all_rows = [r for rows in rows_by_language.values() for r in rows]
    report = {
        "total": {
            "hours": round(sum(r["duration_s"] for r in all_rows) / 3600, 4),
            "utterances": len(all_rows),
            "speakers": len({(r["language"], r["speaker"]) for r in all_rows}),
        },
        "by_language": _tally(all_rows, lambda r: r["language"]),
        "by_speaker": {},
        "by_dialect": {},
        "by_snr": {},
        "by_duration": {},
        "snr_buckets": [label for _, label in SNR_BUCKETS],
        "duration_buckets": [label for _, label in DURATION_BUCKETS],
    }
    for lang in rows_by_language:
        report["by_language"].setdefault(lang, {"hours": 0.0, "utterances": 0, "share_of_hours": 0.0})
    for lang, rows in sorted(rows_by_language.items()):
        if not rows:
            continue
        report["by_speaker"][lang] = _tally(rows, lambda r: r["speaker"])
        report["by_dialect"][lang] = _tally(rows, lambda r: r.get("dialect") or "no yat word")
        report["by_snr"][lang] = _tally(rows, lambda r: snr_bucket(r.get("snr_db")))
        report["by_duration"][lang] = _tally(rows, lambda r: duration_bucket(r["duration_s"]))
    report["recommendations"] = recommend(report, rules)
    return report


def recommend(report: dict, rules: BalanceRules) -> list[dict]:
    """Concrete next steps, most important first: language gaps, speakers, dialect, noise, length."""
    out: list[dict] = []

    def say(severity: str, topic: str, language: str, message: str) -> None:
        out.append({"severity": severity, "topic": topic, "language": language, "message": message})

    languages = report["by_language"]
    largest = max((c["hours"] for c in languages.values()), default=0.0)
    for lang, cell in languages.items():
        if cell["utterances"] == 0:
            say(
                "warning",
                "language",
                lang,
                f"{lang} has no usable audio: upload or harvest {lang} speech before training",
            )
            continue
        if len(languages) > 1 and cell["share_of_hours"] < rules.min_language_share:
            factor = largest / cell["hours"]
            say(
                "warning",
                "language",
                lang,
                f"{lang} has {cell['share_of_hours']:.0%} of hours: harvest about {largest - cell['hours']:.2f} h more "
                f"{lang} speech to match the largest language, or weight {lang} sampling by about x{factor:.1f}",
            )
        if cell["hours"] < rules.min_hours:
            say(
                "info",
                "size",
                lang,
                f"{lang} has {cell['hours']:.2f} h of usable audio; fine-tuning usually needs "
                f">= {rules.min_hours:.0f} h per language for a solid gain",
            )
    for lang, speakers in report["by_speaker"].items():
        if 0 < len(speakers) < rules.min_speakers:
            say(
                "warning",
                "speakers",
                lang,
                f"{lang} has only {len(speakers)} speaker(s): the speaker-disjoint test split will be tiny and its WER "
                f"noisy; add recordings from at least {rules.min_speakers - len(speakers)} more speaker(s)",
            )
        for speaker, cell in speakers.items():
            if len(speakers) >= rules.min_speakers and cell["share_of_hours"] > rules.max_speaker_share:
                say(
                    "warning",
                    "speakers",
                    lang,
                    f"speaker {speaker} is {cell['share_of_hours']:.0%} of {lang} hours: cap this speaker's hours per "
                    f"epoch or add other speakers, or the model will fit this voice",
                )
    for lang, dialects in report["by_dialect"].items():
        ekavian = dialects.get("ekavian", {}).get("share_of_hours", 0.0)
        ijekavian = dialects.get("ijekavian", {}).get("share_of_hours", 0.0)
        if lang in ("bs", "hr") and ekavian > rules.max_foreign_dialect_share:
            say(
                "warning",
                "dialect",
                lang,
                f"{ekavian:.0%} of {lang} hours have ekavian transcripts (standard only in Serbian): check whether "
                f"these are Serbian recordings declared as {lang} (see the inventory's language flags)",
            )
        if lang == "sr" and ijekavian > 0 and ekavian > 0:
            say(
                "info",
                "dialect",
                lang,
                f"sr mixes ekavian ({ekavian:.0%}) and ijekavian ({ijekavian:.0%}) transcripts: report WER per "
                f"dialect, and keep both in the test split",
            )
    for lang, buckets in report["by_snr"].items():
        clean = buckets.get(SNR_BUCKETS[-1][1], {}).get("share_of_hours", 0.0)
        noisy = buckets.get(SNR_BUCKETS[0][1], {}).get("share_of_hours", 0.0)
        if clean > rules.max_clean_share:
            say(
                "info",
                "noise",
                lang,
                f"{clean:.0%} of {lang} hours are clean (SNR >= 30 dB): enable noise augmentation "
                f"(configs/augment.yaml) or harvest field recordings, so the model copes with real-world audio",
            )
        if noisy > rules.max_noisy_share:
            say(
                "warning",
                "noise",
                lang,
                f"{noisy:.0%} of {lang} hours are noisy (SNR < 10 dB): check their transcripts and consider denoising "
                f"or down-weighting them",
            )
    for lang, buckets in report["by_duration"].items():
        long_share = sum(c["share_of_hours"] for b, c in buckets.items() if b in ("10-20 s", ">=20 s"))
        if long_share < rules.min_long_share:
            say(
                "info",
                "duration",
                lang,
                f"only {long_share:.0%} of {lang} hours are in utterances of 10 s or more: Whisper decodes 30 s "
                f"windows, so add long-form speech (or concatenate consecutive utterances of a speaker) "
                f"for long-form accuracy",
            )
    order = {"warning": 0, "info": 1}
    return sorted(out, key=lambda r: order[r["severity"]])
