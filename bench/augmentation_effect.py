"""Benchmark: does waveform augmentation (``augment: true``, ``configs/augment.yaml``) help on degraded audio?

Same data, same recipe (the demo's ``configs/train/base.yaml``), same seed, trained twice: plain and with
augmentation; then base whisper-base, the plain fine-tune and the augmented fine-tune are scored on the test
split clean and under degraded conditions (``audio/degrade.py``), in one table with the augmented-minus-plain
difference.

The data is made as the demo makes it: the espeak-ng sample corpus, then ``data_prep_job`` per language, and
the models with ``training_job`` (Dagster, in process, runs recorded in the bench workspace's instance).
Everything is cached in ``--workspace``: the corpus and prepared data (kept when present), each trained model
(named after a hash of its training settings and augmentation config, so a changed config trains a new model
and leaves the old one), and each evaluation (one JSON per model × condition). A re-run redoes only what changed.

    nice -n 10 .venv/bin/python bench/augmentation_effect.py --workspace /tmp/augbench   # all of it
    ... --reuse-plain data/workspace/models/whisper/run1   # make demo's run as the plain model: one training less
    ... --only-eval --models plain --conditions clean pink_10db babble_10db   # score what is trained, a few rows
    ... --table-only                                        # the table of what is cached, nothing computed

Cost on a quiet 2-core CPU: data preparation ~12 min, each training ~15–20 min (the demo's), and one evaluation
(30 utterances) a few minutes per model × condition; a machine loaded by other work is many times slower
(README, "Does augmentation help?"). Each finished piece is kept, so it can be run in parts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from whisper_pipeline.data.manifests import ManifestLine, read_lines
from whisper_pipeline.io import atomic_path, write_json
from whisper_pipeline.workspace import CONFIGS, LANGUAGES, REPO_ROOT, Workspace

DEFAULT_TRAIN_CONFIG = CONFIGS / "train" / "base.yaml"
DEFAULT_AUGMENT_CONFIG = CONFIGS / "augment.yaml"
BENCH = "augmentation_effect"
MODELS = ("base", "plain", "augmented")
DEGRADE_SOURCE = REPO_ROOT / "whisper_pipeline" / "audio" / "degrade.py"
AUGMENT_CODE = (REPO_ROOT / "whisper_pipeline" / "audio" / "augment.py", DEGRADE_SOURCE)


def _hash(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:8]


def run_names(train_config: Path, augment_config: Path) -> dict[str, str]:
    """The two runs' names: a changed recipe, augmentation config or augmentation code (``augment.py`` and the
    ``degrade.py`` transforms it shares) names, and so trains, a new model."""
    recipe = train_config.read_text(encoding="utf-8")
    augmentation = [augment_config.read_text(encoding="utf-8")] + [p.read_text(encoding="utf-8") for p in AUGMENT_CODE]
    return {"plain": f"plain-{_hash(recipe)}", "augmented": f"augmented-{_hash(recipe, *augmentation)}"}


def _runner(ws: Workspace):
    import dagster as dg

    from whisper_pipeline.definitions import defs
    from whisper_pipeline.instance import prepare_dagster_home
    from whisper_pipeline.retraining import in_process_runner

    os.environ["WHISPER_PIPELINE_HOME"] = str(ws.root)  # the jobs' WorkspaceResource reads it
    prepare_dagster_home(ws)
    return in_process_runner(defs.resolve_job_def, dg.DagsterInstance.get())


def prepare_data(ws: Workspace, languages: list[str], speakers: int, sentences: int) -> dict[str, float]:
    """The demo's data: sample corpus + ``data_prep_job`` per language, skipped for a language whose uploads are
    unchanged since its last successful preparation (the retraining chain's record)."""
    from whisper_pipeline.retraining import prepared_fingerprint, record_prepared, uploads_fingerprint
    from whisper_pipeline.sample_data import generate_corpus

    timings: dict[str, float] = {}
    started = time.time()
    generate_corpus(ws.uploads, tuple(languages), speakers=speakers, sentences_per_speaker=sentences)
    timings["sample corpus"] = time.time() - started
    execute = None
    for lang in languages:
        fingerprint = uploads_fingerprint(ws, lang)
        if fingerprint == prepared_fingerprint(ws, lang) and ws.ready_manifest(lang, "test").is_file():
            continue
        execute = execute or _runner(ws)
        started = time.time()
        outcome = execute("data_prep_job", lang)
        if not outcome.success:
            raise SystemExit(f"data_prep_job[{lang}] failed: {outcome.failure}")
        record_prepared(ws, lang, fingerprint, outcome.run_id)
        timings[f"data_prep_job [{lang}]"] = time.time() - started
    return timings


def train(ws: Workspace, run: str, train_config: Path, languages: list[str], augment_config: Path | None) -> float:
    """``training_job`` with the demo's preset under ``run`` (resumes a crashed run); 0 s when already trained."""
    if ws.run_manifest(run).is_file():
        return 0.0
    config = yaml.safe_load(train_config.read_text(encoding="utf-8")) or {}
    settings = config.setdefault("ops", {}).setdefault("checkpoint", {}).setdefault("config", {})
    settings.update({"run_name": run, "languages": list(languages)})
    if augment_config is not None:
        settings.update({"augment": True, "augment_config": str(augment_config.resolve())})
    started = time.time()
    outcome = _runner(ws)("training_job", run_config=config)
    if not outcome.success:
        raise SystemExit(f"training_job {run} failed: {outcome.failure}")
    return time.time() - started


def adopt_plain(ws: Workspace, run: str, source: Path, train_config: Path, languages: list[str]) -> None:
    """Use a model already trained with this recipe on this data (e.g. ``make demo``'s run) as the plain run:
    its recorded hyperparameters must equal the recipe's and its training set must have as many utterances as
    this workspace's; its weights and run manifest (not its checkpoints) are copied in."""
    import shutil
    import tempfile
    from dataclasses import asdict

    from whisper_pipeline.training.settings import TrainSettings
    from whisper_pipeline.workspace import RUN_MANIFEST

    if ws.run_manifest(run).is_file():
        return
    manifest_path = source / RUN_MANIFEST
    if not manifest_path.is_file():
        raise SystemExit(f"--reuse-plain {source}: no {RUN_MANIFEST}, not a trained run directory")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    recipe = (yaml.safe_load(train_config.read_text(encoding="utf-8")) or {}).get("ops", {}).get("checkpoint", {})
    wanted = asdict(TrainSettings.from_dict({**recipe.get("config", {}), "languages": list(languages)}))
    recorded = manifest.get("hyperparameters", {})
    differ = [k for k in wanted if k != "run_name" and k in recorded and recorded[k] != wanted[k]]
    if differ:
        raise SystemExit(f"--reuse-plain {source}: trained with other settings than {train_config}: {differ}")
    rows = sum(len(read_lines(ws.ready_manifest(l, "train"))) for l in languages)
    if manifest.get("train_samples") != rows:
        raise SystemExit(f"--reuse-plain {source}: trained on {manifest.get('train_samples')} utterances, not {rows}")
    target = ws.run_dir(run)
    if target.exists() and any(target.iterdir()):
        raise SystemExit(f"--reuse-plain: {target} exists (a training cut short?); remove it or train instead")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{run}.", dir=target.parent))
    try:
        for path in source.iterdir():
            if path.is_file():
                shutil.copy2(path, tmp / path.name)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# --- evaluation ---------------------------------------------------------------------------------------


def test_lines(ws: Workspace, languages: list[str]) -> list[ManifestLine]:
    """The test split of every language (the same utterances ``eval_report`` scores)."""
    missing = [str(ws.ready_manifest(l, "test")) for l in languages if not ws.ready_manifest(l, "test").is_file()]
    if missing:
        raise SystemExit(f"no test manifest: {', '.join(missing)}; run without --only-eval to prepare the data")
    return [line for l in languages for line in read_lines(ws.ready_manifest(l, "test"))]


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def model_fingerprint(model_dir: Path) -> str:
    """Changes when the model is trained again: names, sizes and modification times of its top-level files."""
    files = sorted(p for p in model_dir.iterdir() if p.is_file())
    return _hash(*(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files))


def babble_pools(
    lines: list[ManifestLine], training_speakers: frozenset[str] = frozenset()
) -> Callable[[ManifestLine], list[np.ndarray]]:
    """Babble talkers for an utterance, picked as ``eval_report`` picks them (``babble_candidates``: the other
    test speakers of its language, or the other languages' when it has one), never its own speaker."""
    from whisper_pipeline.evaluation.conditions import babble_candidates
    from whisper_pipeline.training.data import load_audio_16k

    audio = {l.id: load_audio_16k(l.audio) for l in lines}

    def pool(line: ManifestLine) -> list[np.ndarray]:
        own = [l for l in lines if l.language == line.language]
        others = [l for l in lines if l.language != line.language]
        chosen = babble_candidates(own, others, set(training_speakers))
        return [audio[l.id] for l in chosen if l.speaker != line.speaker]

    return pool


def degraded_audio(cache: Path, lines: list[ManifestLine], condition: str) -> list[str]:
    """The test audio under ``condition`` as WAV files in the cache (made once; remade when ``degrade.py``
    changes). Seeds are ``eval_report``'s (``eval_seed``), so the audio is what ``eval_report`` scores."""
    from whisper_pipeline.audio.degrade import degrade
    from whisper_pipeline.audio.ffmpeg import write_wav16
    from whisper_pipeline.evaluation.conditions import eval_seed
    from whisper_pipeline.training.data import load_audio_16k

    if condition == "clean":
        return [l.audio for l in lines]
    folder = cache / "degraded" / condition
    stamp, version = folder / "degrade_version.txt", _file_hash(DEGRADE_SOURCE)
    paths = [folder / f"{l.id}.wav" for l in lines]
    if stamp.is_file() and stamp.read_text() == version and all(p.is_file() for p in paths):
        return [str(p) for p in paths]
    pool = babble_pools(lines) if condition.startswith("babble") else None
    for line, path in zip(lines, paths):
        out = degrade(
            load_audio_16k(line.audio), condition, eval_seed(line.id, condition), pool(line) if pool else None
        )
        with atomic_path(path, suffix=".wav") as tmp:
            write_wav16(tmp, out)
    with atomic_path(stamp) as tmp:
        tmp.write_text(version)
    return [str(p) for p in paths]


def evaluate(
    cache: Path,
    name: str,
    model_dir: Path,
    lines: list[ManifestLine],
    conditions: list[str],
    batch_size: int = 8,
    device: str | None = None,
    log: Callable[[str], None] = print,
    loaded: dict[str, Any] | None = None,
    compute: bool = True,
) -> dict[str, dict]:
    """WER/CER of model ``name`` per condition, each cached as ``<cache>/eval/<name>/<condition>.json`` with the
        key it was computed under (model, test lines, degradation code, decoding): a cached result whose key still
        matches is reused, anything else is transcribed again. The model is loaded only when something is missing
    (and kept in ``loaded``, by directory, for the next call). Without ``compute``, only cached results."""
    from whisper_pipeline.evaluation.metrics import summarize, utterance_errors

    utterances = _hash(*(f"{l.id}|{l.language}|{l.audio}|{l.transcript}" for l in lines))
    base_key = {"model": str(model_dir), "model_fingerprint": model_fingerprint(model_dir), "utterances": utterances}
    results = {}
    loaded = {} if loaded is None else loaded
    for condition in conditions:
        key = {**base_key, "condition": condition, "degrade": _file_hash(DEGRADE_SOURCE), "num_beams": 1}
        path = cache / "eval" / name / f"{condition}.json"
        if path.is_file():
            cached = json.loads(path.read_text(encoding="utf-8"))
            if cached.get("key") == key:
                results[condition] = cached
                continue
        if not compute:
            continue
        if str(model_dir) not in loaded:
            from whisper_pipeline.evaluation.transcribe import WhisperTranscriber

            loaded[str(model_dir)] = WhisperTranscriber(str(model_dir), device)
        transcriber = loaded[str(model_dir)]
        audio = degraded_audio(cache, lines, condition)
        started, hyps = time.time(), {}
        for lang in sorted({l.language for l in lines}):
            index = [i for i, l in enumerate(lines) if l.language == lang]
            texts = transcriber.transcribe([audio[i] for i in index], lang, batch_size)
            hyps.update(dict(zip(index, texts)))
        errors = [utterance_errors(l.transcript, hyps[i]) for i, l in enumerate(lines)]
        result = {
            "key": key,
            "seconds": round(time.time() - started, 1),
            **summarize([e for e in errors if e is not None]),
            "per_utterance": [
                {"id": l.id, "language": l.language, "hypothesis": hyps[i], "wer": e.wer if e else None}
                for i, (l, e) in enumerate(zip(lines, errors))
            ],
        }
        write_json(path, result)
        results[condition] = json.loads(path.read_text(encoding="utf-8"))  # as a cached one reads
        log(f"{name} {condition}: WER {result['wer']} ({result['seconds']} s)")
    return results


# --- the table ------------------------------------------------------------------------------------------


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def paired_difference(plain: dict, augmented: dict, references: dict[str, str]) -> dict | None:
    """Paired bootstrap of augmented − plain WER on the same utterances (``metrics.paired_comparison``), from the
    cached per-utterance hypotheses; None when either result lacks them."""
    from whisper_pipeline.evaluation.metrics import paired_comparison, utterance_errors

    rows = [r.get("per_utterance") for r in (plain, augmented)]
    if not all(rows) or [u["id"] for u in rows[0]] != [u["id"] for u in rows[1]]:
        return None
    pairs = [
        (utterance_errors(references[a["id"]], a["hypothesis"]), utterance_errors(references[b["id"]], b["hypothesis"]))
        for a, b in zip(*rows)
        if a["id"] in references
    ]
    pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
    return paired_comparison([a for a, _ in pairs], [b for _, b in pairs]) if pairs else None


def format_table(
    results: dict[str, dict[str, dict]], conditions: list[str], references: dict[str, str] | None = None
) -> str:
    """Condition × model WER, with augmented − plain (negative: augmentation helped; with ``references``, id →
    transcript, its paired-bootstrap 95% interval) and augmented / plain; the last row is the mean over the
    degraded conditions."""
    labels = [m for m in MODELS if m in results]
    lines = [
        "| condition | " + " | ".join(f"{m} WER" for m in labels) + " | augmented − plain | augmented / plain |",
        "|---|" + "---:|" * (len(labels) + 2),
    ]

    def row(name: str, wers: dict[str, float | None], paired: dict | None = None) -> str:
        plain, aug = wers.get("plain"), wers.get("augmented")
        diff = f"{aug - plain:+.3f}" if plain is not None and aug is not None else "—"
        if paired:
            low, high = paired["difference_ci95"]
            diff += f" [{low:+.3f}, {high:+.3f}]"
        ratio = f"{aug / plain:.2f}" if plain and aug is not None else "—"
        return f"| {name} | " + " | ".join(_cell(wers.get(m)) for m in labels) + f" | {diff} | {ratio} |"

    for condition in conditions:
        pair = [results.get(m, {}).get(condition) for m in ("plain", "augmented")]
        paired = paired_difference(*pair, references) if references and all(pair) else None
        lines.append(row(condition, {m: results[m].get(condition, {}).get("wer") for m in labels}, paired))
    degraded = [c for c in conditions if c != "clean"]
    if degraded:
        means = {}
        for m in labels:
            values = [results[m].get(c, {}).get("wer") for c in degraded]
            means[m] = None if None in values else sum(values) / len(values)
        lines.append(row(f"mean of {len(degraded)} degraded", means))
    return "\n".join(lines)


def verdict(
    results: dict[str, dict[str, dict]],
    conditions: list[str],
    clean_margin: float = 0.02,
    references: dict[str, str] | None = None,
) -> str:
    """The issue's criterion: better on the degraded conditions, at most ``clean_margin`` worse on clean (on the point
    estimates); with ``references``, also whether the clean difference is outside the test set's noise."""
    plain, aug = results.get("plain", {}), results.get("augmented", {})
    degraded = [c for c in conditions if c != "clean" and c in plain and c in aug]
    if not degraded:
        return "verdict: needs both fine-tuned models evaluated on degraded conditions"
    diffs = [aug[c]["wer"] - plain[c]["wer"] for c in degraded]
    better = sum(d < 0 for d in diffs)
    text = f"augmented better on {better}/{len(degraded)} degraded conditions, mean difference {np.mean(diffs):+.3f}"
    if "clean" in plain and "clean" in aug:
        clean = aug["clean"]["wer"] - plain["clean"]["wer"]
        text += f"; clean {clean:+.3f} (allowed +{clean_margin:.2f})"
        ok = np.mean(diffs) < 0 and clean <= clean_margin
        text += " → criterion " + ("met" if ok else "NOT met")
        paired = paired_difference(plain["clean"], aug["clean"], references) if references else None
        if paired:
            low, high = paired["difference_ci95"]
            noise = "significant" if paired["significant"] else "within the test set's noise"
            text += f" (clean difference 95% CI [{low:+.3f}, {high:+.3f}], p {paired['p_value']:.2f}: {noise})"
    return "verdict: " + text


def machine() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load}"


def main(argv: list[str] | None = None) -> None:
    from whisper_pipeline.audio.degrade import CONDITIONS, check_conditions
    from whisper_pipeline.models.source import BUILTIN_BASE, resolve_model_source

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, required=True, help="bench workspace (created, reused)")
    parser.add_argument("--train-config", type=Path, default=DEFAULT_TRAIN_CONFIG)
    parser.add_argument("--augment-config", type=Path, default=DEFAULT_AUGMENT_CONFIG)
    parser.add_argument("--languages", nargs="+", default=list(LANGUAGES), choices=LANGUAGES)
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS), help=f"of: {' '.join(CONDITIONS)}")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS, help="models to score")
    parser.add_argument("--speakers", type=int, default=6, help="sample-corpus speakers per language")
    parser.add_argument("--sentences", type=int, default=10, help="sentences per speaker")
    parser.add_argument("--batch-size", type=int, default=8, help="utterances per transcription batch")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best available)")
    parser.add_argument(
        "--reuse-plain",
        type=Path,
        help="a run directory trained with the same recipe on the same data (e.g. make demo's models/whisper/run1) "
        "to use as the plain model instead of training it again",
    )
    parser.add_argument(
        "--augmented-run",
        help="score this run of the workspace as the augmented model (e.g. an earlier recipe's, to compare recipes "
        "from the cache) instead of the one the augmentation config names",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--only-train", action="store_true", help="prepare data and train; no evaluation")
    mode.add_argument("--only-eval", action="store_true", help="evaluate the models already trained (no training)")
    mode.add_argument("--table-only", action="store_true", help="print the table of what is cached; compute nothing")
    args = parser.parse_args(argv)
    conditions = check_conditions(args.conditions)
    if "clean" not in conditions:
        conditions.insert(0, "clean")
    ws = Workspace.at(args.workspace).ensure()
    names = run_names(args.train_config, args.augment_config)
    if args.augmented_run:  # an existing run: scored, never trained (a typo must not train the current recipe)
        if not ws.run_manifest(args.augmented_run).is_file():
            parser.error(f"--augmented-run {args.augmented_run}: no such run in {ws.root}")
        names["augmented"] = args.augmented_run
    timings: dict[str, float] = {}
    if not (args.only_eval or args.table_only):
        timings.update(prepare_data(ws, args.languages, args.speakers, args.sentences))
        if args.reuse_plain:
            adopt_plain(ws, names["plain"], args.reuse_plain, args.train_config, args.languages)
        timings[f"train {names['plain']}"] = train(ws, names["plain"], args.train_config, args.languages, None)
        if not args.augmented_run:
            timings[f"train {names['augmented']}"] = train(
                ws, names["augmented"], args.train_config, args.languages, args.augment_config
            )
    if args.only_train:
        print(json.dumps(timings, indent=1))
        return
    recipe = yaml.safe_load(args.train_config.read_text(encoding="utf-8")) or {}
    source = recipe.get("resources", {}).get("base_model", {}).get("config", {}).get("source", BUILTIN_BASE)
    models = {"base": Path(resolve_model_source(source, ws.base_model_dir))} if "base" in args.models else {}
    trained = [m for m in ("plain", "augmented") if m in args.models and ws.run_manifest(names[m]).is_file()]
    models.update({m: ws.run_dir(names[m]) for m in trained})
    lines = test_lines(ws, args.languages)
    cache = ws.bench_cache(BENCH)
    results: dict[str, dict[str, dict]] = {label: {} for label in models}
    loaded: dict[str, Any] = {}
    for condition in conditions:  # condition by condition: an interrupted run has comparable rows
        for label, model_dir in models.items():
            started = time.time()
            name = names.get(label, label)
            found = evaluate(
                cache,
                name,
                model_dir,
                lines,
                [condition],
                args.batch_size,
                args.device,
                loaded=loaded,
                compute=not args.table_only,
            )
            results[label].update(found)
            timings[f"evaluate {label}"] = timings.get(f"evaluate {label}", 0.0) + time.time() - started
    conditions = [c for c in CONDITIONS if c in conditions]  # the table in the usual order
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\n{len(lines)} test utterances ({', '.join(args.languages)}); {stamp}; {machine()}")
    print("models: " + "; ".join(f"{m} = {d}" for m, d in models.items()))
    print(f"augment config: {'that of run ' + args.augmented_run if args.augmented_run else args.augment_config}\n")
    references = {l.id: l.transcript for l in lines}
    print(format_table(results, conditions, references))
    print("\n" + verdict(results, conditions, references=references))
    print("\ntimings: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    summary = {m: {c: r["wer"] for c, r in results[m].items()} for m in results}
    write_json(cache / "summary.json", {"date": stamp, "machine": machine(), "runs": names, "wer": summary})


if __name__ == "__main__":
    main()
