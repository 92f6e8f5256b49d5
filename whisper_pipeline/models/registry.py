"""Runs, their evaluations, and the model registry: which run is latest, which runs can be served, which
evaluations exist, which run was evaluated last, and which run is in production. The stages, the gate
checks, the demo and the service ask here; no other module reads these files.

- the latest run: ``ws.latest_run_marker`` (written by ``checkpoint`` through ``set_latest_run``);
- a run: a directory under ``ws.runs_dir``; servable once it holds a model (``config.json`` and weights);
- its evaluation: one document per language, ``ws.evaluation(run).part(lang)``, combined into
  ``ws.evaluation(run).combined`` (``record_evaluation``, which also sets ``ws.last_evaluated_marker``);
- production: ``ws.registry``, written atomically under a lock. A run is promoted only through
  ``promote`` after the gates (``evaluation/gates.py``) passed; earlier production runs stay listed in
  ``history``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from whisper_pipeline.data.manifests import write_language_part
from whisper_pipeline.io import file_lock, write_json, write_text
from whisper_pipeline.workspace import RUN_CT2, Workspace

MODEL_CONFIG = "config.json"
MODEL_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


# --- runs ------------------------------------------------------------------------------------------


def latest_run(ws: Workspace) -> str:
    """The run trained last ('' if none)."""
    marker = ws.latest_run_marker
    return marker.read_text().strip() if marker.is_file() else ""


def set_latest_run(ws: Workspace, run: str) -> None:
    """Record ``run`` as the run trained last."""
    write_text(ws.latest_run_marker, run + "\n")


def has_model_config(ws: Workspace, run: str) -> bool:
    """Whether ``run`` names a run directory with its model's ``config.json`` (what evaluation needs to start)."""
    return bool(run) and _has_config(ws.run_dir(run))


def is_servable(path: str | Path) -> bool:
    """Whether ``path`` holds a complete model: its ``config.json`` and its weights (a run that crashed
    before packaging its final model has neither)."""
    path = Path(path)
    return _has_config(path) and any((path / name).is_file() for name in MODEL_WEIGHTS)


def run_dirs(ws: Workspace) -> list[Path]:
    """Every run directory, servable or not, in no particular order."""
    return [d for d in ws.runs_dir.iterdir() if d.is_dir()] if ws.runs_dir.is_dir() else []


def servable_runs(ws: Workspace) -> list[str]:
    """The names of the runs that hold a complete model, sorted by name."""
    return [d.name for d in sorted(run_dirs(ws)) if is_servable(d)]


def find_servable_run(ws: Workspace, name: str) -> Path | None:
    """The directory of the servable run called ``name``, or None. ``name`` is looked up among the run
    directories, never joined to a path: a client's ``../x`` or a 300-character name is simply not found."""
    run = next((d for d in run_dirs(ws) if d.name == name), None)
    return run if run is not None and is_servable(run) else None


def latest_servable(ws: Workspace) -> tuple[str, str] | None:
    """(run name, model directory) of the latest run if it is servable."""
    run = latest_run(ws)
    return (run, str(ws.run_dir(run))) if run and is_servable(ws.run_dir(run)) else None


def ct2_export(model_dir: str | Path) -> Path | None:
    """The complete CTranslate2 export of the model in ``model_dir`` (a run directory, or any model
    directory packaged the same way: its ``RUN_CT2`` subdirectory with ``model.bin`` and the tokenizer),
    or None."""
    export = Path(model_dir) / RUN_CT2
    return export if (export / "model.bin").is_file() and (export / "tokenizer.json").is_file() else None


def model_created(path: str | Path) -> str:
    """When the model in ``path`` was written (its ``config.json``), as ISO 8601 UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((Path(path) / MODEL_CONFIG).stat().st_mtime))


def run_manifest(ws: Workspace, run: str) -> dict:
    """What ``run`` was trained on and with (``{}`` when the manifest is missing or unreadable)."""
    return _read_json_or_empty(ws.run_manifest(run))


def run_languages(ws: Workspace, run: str) -> list[str]:
    """The languages ``run`` was trained on, from its manifest ([] when unknown)."""
    manifest = run_manifest(ws, run)
    return list(manifest.get("languages") or (manifest.get("hyperparameters") or {}).get("languages") or [])


# --- evaluations -----------------------------------------------------------------------------------


def evaluations(ws: Workspace, run: str, strict: bool = True) -> dict[str, dict]:
    """The per-language evaluation documents of ``run`` (languages not evaluated are absent). An unreadable
    document raises ``json.JSONDecodeError``, or reads as ``{}`` when ``strict`` is False."""
    files = {lang: path for lang, path in ws.evaluation(run).parts.items() if path.is_file()}
    if strict:
        return {lang: json.loads(path.read_text(encoding="utf-8")) for lang, path in files.items()}
    return {lang: _read_json_or_empty(path) for lang, path in files.items()}


def evaluated_wer(ws: Workspace, run: str) -> dict[str, float | None]:
    """The fine-tuned WER of ``run`` per evaluated language (None where a document is unreadable)."""
    return {
        lang: (doc.get("models") or {}).get("finetuned", {}).get("wer")
        for lang, doc in evaluations(ws, run, strict=False).items()
    }


def record_evaluation(ws: Workspace, run: str, lang: str, document: dict) -> Path:
    """Write ``run``'s evaluation document for ``lang``, rebuild the combined one, and mark ``run`` as
    the run evaluated last (what the gate checks judge). Returns the combined document."""
    combined = write_language_part(ws.evaluation(run), lang, document, extra={"run": run})
    write_text(ws.last_evaluated_marker, run + "\n")
    return combined


def last_evaluated_run(ws: Workspace) -> str:
    """The run evaluated last; the latest run when nothing was evaluated yet ('' if neither)."""
    marker = ws.last_evaluated_marker
    return marker.read_text().strip() if marker.is_file() else latest_run(ws)


# --- the registry: which run is in production --------------------------------------------------------


def load_registry(ws: Workspace) -> dict:
    """The registry: ``production`` (an entry, or None) and ``history`` (every promotion, oldest first)."""
    path = ws.registry
    return json.loads(path.read_text()) if path.is_file() else {"production": None, "history": []}


def production_run(ws: Workspace) -> dict | None:
    """The production entry (``run``, ``path``, ``promoted_at``, ``wer``, ``reason``), or None: one read."""
    return load_registry(ws).get("production")


def production_servable(ws: Workspace) -> tuple[str, str] | None:
    """(run name, model directory) of the production run if its model is servable; one registry read, so
    a promotion meanwhile cannot mix two runs."""
    prod = production_run(ws)
    return (prod["run"], prod["path"]) if prod and is_servable(prod["path"]) else None


def promote(ws: Workspace, run: str, wer_by_language: dict[str, float], reason: str = "") -> dict:
    """Make ``run`` the production model (appended to the history); returns its registry entry. Call it
    only once the gates passed."""
    path = ws.registry
    with file_lock(path):
        registry = load_registry(ws)
        entry = {
            "run": run,
            "path": str(ws.run_dir(run)),
            "promoted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "wer": wer_by_language,
            "reason": reason,
        }
        registry["production"] = entry
        registry["history"].append(entry)
        write_json(path, registry)
    return entry


def record_refusal(ws: Workspace, run: str, reason: str) -> dict:
    """Record that ``run`` was judged and not promoted (its gates failed): appended to the registry's
    ``refused`` list, so a refusal is on record next to the promotions; production is untouched."""
    path = ws.registry
    with file_lock(path):
        registry = load_registry(ws)
        entry = {"run": run, "refused_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "reason": reason}
        registry.setdefault("refused", []).append(entry)
        write_json(path, registry)
    return entry


def last_refusal(ws: Workspace) -> dict | None:
    """The most recent refusal (``run``, ``refused_at``, ``reason``), or None."""
    refused = load_registry(ws).get("refused") or []
    return refused[-1] if refused else None


def _has_config(path: Path) -> bool:
    return (path / MODEL_CONFIG).is_file()


def _read_json_or_empty(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except json.JSONDecodeError:
        return {}


# --- models trained on removed data --------------------------------------------------------------------


def mark_needs_retraining(ws: Workspace, run: str, reason: str, removal: str = "") -> dict:
    """Record in the registry that ``run`` was trained on data since removed (``removal``: when, as the
    removal record says), so the service can say so; marks accumulate. Returns the run's mark."""
    path = ws.registry
    with file_lock(path):
        registry = load_registry(ws)
        marks = registry.setdefault("needs_retraining", {})
        mark = marks.get(run) or {"reasons": [], "removals": []}
        if reason not in mark["reasons"]:
            mark["reasons"].append(reason)
        if removal and removal not in mark["removals"]:
            mark["removals"].append(removal)
        mark.update(reason="; ".join(mark["reasons"]), removal=mark["removals"][-1] if mark["removals"] else "")
        marks[run] = mark
        write_json(path, registry)
    return mark


def needs_retraining(ws: Workspace, run: str) -> dict | None:
    """``{reason, removal, …}`` when ``run`` was trained on data since removed, else None."""
    return (load_registry(ws).get("needs_retraining") or {}).get(run)


def runs_needing_retraining(ws: Workspace) -> dict[str, dict]:
    """Every marked run and its mark: one registry read."""
    return dict(load_registry(ws).get("needs_retraining") or {})
