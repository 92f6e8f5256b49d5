"""``make demo``: the whole graph, all three languages, real whisper-base on CPU, persisted runs.

Generates the espeak-ng sample corpus (if absent), materializes the data assets per language,
fine-tunes one multilingual model, evaluates it against the base model per language, and
prints WER/CER. Runs are recorded in the workspace's Dagster instance, so ``make dev`` shows them.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import yaml

from whisper_pipeline.instance import prepare_dagster_home
from whisper_pipeline.workspace import LANGUAGES, REPO_ROOT, Workspace


def run_demo(train_config: Path, languages: tuple[str, ...] = LANGUAGES) -> dict:
    import dagster as dg

    from whisper_pipeline.definitions import defs
    from whisper_pipeline.sample_data import generate_corpus

    ws = Workspace.at().ensure()
    prepare_dagster_home(ws)
    instance = dg.DagsterInstance.get()
    timings: dict[str, float] = {}

    started = time.time()
    print(generate_corpus(ws.uploads, languages))
    timings["sample corpus"] = time.time() - started

    def execute(job: str, partition: str | None = None, run_config: dict | None = None) -> None:
        t = time.time()
        result = defs.get_job_def(job).execute_in_process(
            instance=instance, partition_key=partition, run_config=run_config or {}, raise_on_error=False)
        if not result.success:
            raise SystemExit(f"{job}{f'[{partition}]' if partition else ''} failed; see the run in `make dev`")
        timings[f"{job}{f' [{partition}]' if partition else ''}"] = time.time() - t

    for lang in languages:
        execute("data_prep_job", lang)
    config = yaml.safe_load(train_config.read_text())
    config["ops"]["checkpoint"]["config"]["languages"] = list(languages)
    execute("training_job", run_config=config)
    run = config["ops"]["checkpoint"]["config"]["run_name"]
    for lang in languages:
        execute("evaluation_job", lang, {"ops": {"eval_report": {"config": {"run_name": run}}}})
    report_path = ws.manifests / f"eval_{run}.json"
    return {"report": report_path, "eval": json.loads(report_path.read_text()), "timings": timings,
            "total_s": time.time() - started}


def format_summary(summary: dict) -> str:
    lines = ["", f"{'language':<9} {'base WER':>9} {'tuned WER':>10} {'base CER':>9} {'tuned CER':>10} {'test utts':>10}"]
    for lang in LANGUAGES:
        entry = summary["eval"].get(lang)
        if not entry:
            continue
        base, tuned = entry["models"].get("base", {}), entry["models"]["finetuned"]
        lines.append(f"{lang:<9} {base.get('wer', float('nan')):>9.3f} {tuned['wer']:>10.3f} "
                     f"{base.get('cer', float('nan')):>9.3f} {tuned['cer']:>10.3f} {entry['utterances']:>10}")
    lines += ["", "step timings:"] + [f"  {k:<28} {v:7.1f} s" for k, v in summary["timings"].items()]
    lines += [f"  {'total':<28} {summary['total_s']:7.1f} s", "", f"evaluation report: {summary['report']}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the whole pipeline on the sample corpus")
    parser.add_argument("--train-config", type=Path, default=REPO_ROOT / "configs" / "train" / "base.yaml")
    parser.add_argument("--languages", nargs="+", default=list(LANGUAGES), choices=LANGUAGES)
    args = parser.parse_args(argv)
    print(format_summary(run_demo(args.train_config, tuple(args.languages))))


if __name__ == "__main__":
    main()
