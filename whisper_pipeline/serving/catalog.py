"""Which models the service can use: every packaged training run, the production model from the
registry, the latest run, and the base model. Resolved on every request, so a promotion takes effect
without a restart."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from whisper_pipeline.models.registry import production_run
from whisper_pipeline.models.source import BUILTIN_BASE, resolve_model_source
from whisper_pipeline.workspace import LANGUAGES, Workspace

ALIASES = ("production", "latest", "base")


class UnknownModel(LookupError):
    """The asked model id names no model here; the message lists the ones that exist."""


@dataclass
class ModelInfo:
    id: str
    path: str
    languages: list[str] = field(default_factory=list)
    wer: dict[str, float | None] = field(default_factory=dict)
    production: bool = False
    created: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _is_model_dir(path: Path) -> bool:
    return (path / "config.json").is_file() and any(
        (path / f).is_file() for f in ("model.safetensors", "pytorch_model.bin")
    )


class ModelCatalog:
    def __init__(self, workspace: Workspace, base_source: str = BUILTIN_BASE):
        self.ws = workspace
        self.base_source = base_source

    @property
    def runs_dir(self) -> Path:
        return self.ws.models / "whisper"

    def runs(self) -> list[ModelInfo]:
        """Packaged runs (a crashed run without its final model is left out), newest first."""
        prod = production_run(self.ws.models / "registry.json") or {}
        found = []
        for d in sorted(self._run_dirs()):
            if not _is_model_dir(d):
                continue
            manifest = _read_json(d / "run_manifest.json")
            languages = manifest.get("languages") or (manifest.get("hyperparameters") or {}).get("languages") or []
            wer = {
                l: (_read_json(p).get("models") or {}).get("finetuned", {}).get("wer")
                for l in LANGUAGES
                if (p := self.ws.manifests / "eval" / d.name / f"{l}.json").is_file()
            }
            found.append(
                ModelInfo(
                    d.name,
                    str(d),
                    list(languages),
                    wer,
                    production=prod.get("run") == d.name,
                    created=_mtime_iso(d / "config.json"),
                )
            )
        return sorted(found, key=lambda m: (m.created, m.id), reverse=True)

    def describe(self) -> dict:
        """What ``GET /models`` shows: the runs, and what each alias points at now."""
        return {
            "default": self.default_id(),
            "aliases": {a: self._alias_target(a) for a in ALIASES},
            "models": [m.as_dict() for m in self.runs()],
        }

    def default_id(self) -> str:
        """production if a run was promoted, else the latest run, else the base model."""
        for alias in ("production", "latest"):
            if self._alias_target(alias):
                return alias
        return "base"

    def _alias_target(self, alias: str) -> str | None:
        target = self._run_behind(alias) if alias != "base" else (self.base_source, "")
        return target[0] if target else None

    def _run_behind(self, alias: str) -> tuple[str, str] | None:
        """(run name, model dir) that ``production`` or ``latest`` points at now, if it is servable;
        one read of the registry, so a promotion during a request cannot mix two runs."""
        if alias == "production":
            prod = production_run(self.ws.models / "registry.json")
            return (prod["run"], prod["path"]) if prod and _is_model_dir(Path(prod["path"])) else None
        latest = self.runs_dir / "LATEST"
        run = latest.read_text().strip() if latest.is_file() else ""
        return (run, str(self.runs_dir / run)) if run and _is_model_dir(self.runs_dir / run) else None

    def resolve(self, model_id: str | None) -> tuple[str, str]:
        """(model id as asked or defaulted, local path). Raises ``UnknownModel``."""
        model_id = model_id or self.default_id()
        if model_id == "base":
            return model_id, resolve_model_source(self.base_source, self.ws.models / "base")
        if model_id in ("production", "latest"):
            target = self._run_behind(model_id)
            if target is None:
                raise UnknownModel(f"no {model_id} model yet; available: {self._available()}")
            return model_id, target[1]
        # looked up among the run directories, never joined to a path: a client's ``../x`` or a
        # 300-character name (was: "File name too long", a 500) must be an unknown model, a 404
        run = next((d for d in self._run_dirs() if d.name == model_id), None)
        if run is None or not _is_model_dir(run):
            raise UnknownModel(f"unknown model {model_id[:100]!r}; available: {self._available()}")
        return model_id, str(run)

    def _run_dirs(self) -> list[Path]:
        return [d for d in self.runs_dir.iterdir() if d.is_dir()] if self.runs_dir.is_dir() else []

    def _available(self) -> str:
        return ", ".join([a for a in ALIASES if self._alias_target(a)] + [m.id for m in self.runs()])


def _mtime_iso(path: Path) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(path.stat().st_mtime))


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except json.JSONDecodeError:
        return {}
