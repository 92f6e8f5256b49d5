"""``make demo``: the whole graph, all three languages, real whisper-base on CPU, persisted runs.

Generates the espeak-ng sample corpus (if absent), materializes the data assets per language,
fine-tunes one multilingual model, evaluates it against the base model per language, promotes
it to production if it passes the gates, and prints WER/CER and how to serve it. Runs are
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
    train_config: Path, languages: tuple[str, ...] = LANGUAGES, speakers: int = 6, sentences: int = 10
) -> dict:
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
        chain = run_chain(ws, execute, yaml.safe_load(train_config.read_text()), list(languages))
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the whole pipeline on the sample corpus")
    parser.add_argument("--train-config", type=Path, default=CONFIGS / "train" / "base.yaml")
    parser.add_argument("--languages", nargs="+", default=list(LANGUAGES), choices=LANGUAGES)
    parser.add_argument("--speakers", type=int, default=6, help="sample-corpus speakers per language")
    parser.add_argument("--sentences", type=int, default=10, help="sentences per speaker")
    args = parser.parse_args(argv)
    print(format_summary(run_demo(args.train_config, tuple(args.languages), args.speakers, args.sentences)))


if __name__ == "__main__":
    main()
