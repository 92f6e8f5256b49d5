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

    def execute(job: str, partition: str | None = None, run_config: dict | None = None, must_succeed: bool = True):
        t = time.time()
        result = defs.get_job_def(job).execute_in_process(
            instance=instance, partition_key=partition, run_config=run_config or {}, raise_on_error=False
        )
        if must_succeed and not result.success:
            raise SystemExit(f"{job}{f'[{partition}]' if partition else ''} failed; see the run in `make dev`")
        timings[f"{job}{f' [{partition}]' if partition else ''}"] = time.time() - t
        return result

    for lang in languages:
        execute("data_prep_job", lang)
    config = yaml.safe_load(train_config.read_text())
    config["ops"]["checkpoint"]["config"]["languages"] = list(languages)
    execute("training_job", run_config=config)
    run = config["ops"]["checkpoint"]["config"]["run_name"]
    gate_failures = {}
    for lang in languages:
        # the job also runs the blocking gate checks: a model that fails them is still reported, not an error
        result = execute(
            "evaluation_job", lang, {"ops": {"eval_report": {"config": {"run_name": run}}}}, must_succeed=False
        )
        if not result.get_asset_materialization_events():
            raise SystemExit(f"evaluation_job[{lang}] failed; see the run in `make dev`")
        gate_failures[lang] = [c.check_name for c in result.get_asset_check_evaluations() if not c.passed]
    promotion = execute(
        "promotion_job", run_config={"ops": {"production_model": {"config": {"run_name": run}}}}, must_succeed=False
    )
    refusal = next(
        (
            e.step_failure_data.error.message.strip().removeprefix("dagster._core.definitions.events.Failure: ")
            for e in promotion.all_events
            if e.is_step_failure
        ),
        "",
    )
    return {
        "report": ws.evaluation(run).combined,
        "eval": registry.evaluations(ws, run),
        "timings": timings,
        "total_s": time.time() - started,
        "dashboard": page_path(ws.report_dir(run)),
        "gate_failures": gate_failures,
        "promotion": f"{run} is the production model" if promotion.success else f"not promoted: {refusal}",
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
