"""``make demo``: the whole graph, all three languages, real whisper-base on CPU, persisted runs.

Generates the espeak-ng sample corpus (if absent), materializes the data assets per language,
fine-tunes one multilingual model, evaluates it against the base model per language (clean and under
the degraded conditions of ``eval_report``'s ``conditions``), promotes it to production if it passes the
gates, and prints WER/CER, the WER per condition, what the conditions cost, and how to serve it. Runs are
recorded in the workspace's Dagster instance, so ``make dev`` shows them.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import yaml

from whisper_pipeline.evaluation.dashboard import page_path
from whisper_pipeline.instance import prepare_dagster_home
from whisper_pipeline.models import registry
from whisper_pipeline.retraining import ChainError, in_process_runner, run_chain
from whisper_pipeline.workspace import CONFIGS, LANGUAGES, Workspace


def run_demo(
    train_config: Path,
    languages: tuple[str, ...] = LANGUAGES,
    speakers: int = 6,
    sentences: int = 10,
    conditions: list[str] | None = None,
) -> dict:
    """``conditions``: eval_report's degraded conditions (None: its default set)."""
    import dagster as dg

    from whisper_pipeline.definitions import defs
    from whisper_pipeline.sample_data import generate_corpus

    ws = Workspace.at().ensure()
    prepare_dagster_home(ws)
    instance = dg.DagsterInstance.get()
    timings: dict[str, float] = {}

    started = time.time()
    print(generate_corpus(ws.uploads, languages, speakers=speakers, sentences_per_speaker=sentences))
    timings["sample corpus"] = time.time() - started

    execute = in_process_runner(defs.resolve_job_def, instance)
    try:
        evaluation = None if conditions is None else {"conditions": list(conditions)}
        chain = run_chain(ws, execute, yaml.safe_load(train_config.read_text()), list(languages), evaluation=evaluation)
    except ChainError as exc:
        where = f"{exc.job}[{exc.partition}]" if exc.partition else exc.job
        raise SystemExit(f"{where} failed; see the run in `make dev`") from exc
    timings.update(chain.timings)
    run, gate_failures = chain.run, chain.gate_failures
    return {
        "report": ws.evaluation(run).combined,
        "eval": registry.evaluations(ws, run),
        "timings": timings,
        "total_s": time.time() - started,
        "dashboard": page_path(ws.report_dir(run)),
        "gate_failures": gate_failures,
        "promotion": f"{run} is the production model" if chain.promoted else f"not promoted: {chain.refusal}",
    }


def format_summary(summary: dict) -> str:
    lines = [
        "",
        f"{'language':<9} {'base WER':>9} {'tuned WER':>10} {'base CER':>9} {'tuned CER':>10} {'test utts':>10}  gates",
    ]
    for lang in LANGUAGES:
        entry = summary["eval"].get(lang)
        if not entry:
            continue
        base, tuned = entry["models"].get("base", {}), entry["models"]["finetuned"]
        lines.append(
            f"{lang:<9} {base.get('wer', float('nan')):>9.3f} {tuned['wer']:>10.3f} "
            f"{base.get('cer', float('nan')):>9.3f} {tuned['cer']:>10.3f} {entry['utterances']:>10}  "
            + (", ".join(f"failed {c}" for c in summary["gate_failures"].get(lang, [])) or "passed")
        )
    lines += format_conditions(summary)
    lines += ["", "step timings:"] + [f"  {k:<28} {v:7.1f} s" for k, v in summary["timings"].items()]
    lines += [
        f"  {'total':<28} {summary['total_s']:7.1f} s",
        "",
        f"evaluation report: {summary['report']}",
        f"dashboard: {summary['dashboard']}",
        f"promotion: {summary['promotion']}",
        "serve it: make serve, then curl -F file=@clip.wav -F language=hr http://127.0.0.1:8000/transcribe",
    ]
    return "\n".join(lines)


def format_conditions(summary: dict) -> list[str]:
    """WER per degraded condition (base / tuned, per language), and the evaluation time the conditions took."""
    evals = {l: summary["eval"][l] for l in LANGUAGES if summary["eval"].get(l, {}).get("conditions")}
    if not evals:
        return []
    names = list(dict.fromkeys(c for doc in evals.values() for c in doc["conditions"]))

    def cell(doc: dict, name: str) -> str:
        entry = doc["models"] if name == "clean" else doc["conditions"].get(name, {}).get("models")
        if not entry:
            return "skipped" if name in doc["conditions"] else "-"
        base, tuned = entry.get("base", {}).get("wer"), entry.get("finetuned", {}).get("wer")
        return " / ".join("  -  " if v is None else f"{v:.3f}" for v in (base, tuned))

    lines = [
        "",
        "WER under degraded conditions (base / tuned):",
        f"{'condition':<12}" + "".join(f" {l:>15}" for l in evals),
    ]
    lines += [
        f"{name:<12}" + "".join(f" {cell(doc, name):>15}" for doc in evals.values()) for name in ["clean", *names]
    ]
    for lang, doc in evals.items():
        total = summary["timings"].get(f"evaluation_job [{lang}]")
        of = f" of the {total:.1f} s evaluation_job" if total else ""
        lines.append(f"{lang}: {len(names)} degraded conditions added {doc.get('conditions_seconds', 0):.1f} s{of}")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the whole pipeline on the sample corpus")
    parser.add_argument("--train-config", type=Path, default=CONFIGS / "train" / "base.yaml")
    parser.add_argument("--languages", nargs="+", default=list(LANGUAGES), choices=LANGUAGES)
    parser.add_argument("--speakers", type=int, default=6, help="sample-corpus speakers per language")
    parser.add_argument("--sentences", type=int, default=10, help="sentences per speaker")
    parser.add_argument(
        "--conditions",
        nargs="*",
        default=None,
        help="eval_report's degraded conditions (audio/degrade.py names); default its full set, none = clean only",
    )
    args = parser.parse_args(argv)
    summary = run_demo(args.train_config, tuple(args.languages), args.speakers, args.sentences, args.conditions)
    print(format_summary(summary))


if __name__ == "__main__":
    main()
