"""Which models the service can use: every packaged training run, the production model from the
registry, the latest run, and the base model. Resolved on every request, so a promotion takes effect
without a restart."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from whisper_pipeline.models import registry
from whisper_pipeline.models.source import BUILTIN_BASE, resolve_model_source
from whisper_pipeline.workspace import Workspace

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
    # trained on data since removed (``python -m whisper_pipeline.governance remove``): {reason, removal}
    needs_retraining: dict | None = None

    def as_dict(self) -> dict:
        return asdict(self)


class ModelCatalog:
    def __init__(self, workspace: Workspace, base_source: str = BUILTIN_BASE):
        self.ws = workspace
        self.base_source = base_source

    def runs(self) -> list[ModelInfo]:
        """Packaged runs (a crashed run without its final model is left out), newest first."""
        prod = registry.production_run(self.ws) or {}
        marked = registry.runs_needing_retraining(self.ws)
        found = [
            ModelInfo(
                run,
                str(self.ws.run_dir(run)),
                registry.run_languages(self.ws, run),
                registry.evaluated_wer(self.ws, run),
                production=prod.get("run") == run,
                created=registry.model_created(self.ws.run_dir(run)),
                needs_retraining=_mark(marked.get(run)),
            )
            for run in registry.servable_runs(self.ws)
        ]
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
        return registry.production_servable(self.ws) if alias == "production" else registry.latest_servable(self.ws)

    def resolve(self, model_id: str | None) -> tuple[str, str]:
        """(model id as asked or defaulted, local path). Raises ``UnknownModel``."""
        model_id = model_id or self.default_id()
        if model_id == "base":
            return model_id, resolve_model_source(self.base_source, self.ws.base_model_dir)
        if model_id in ("production", "latest"):
            target = self._run_behind(model_id)
            if target is None:
                raise UnknownModel(f"no {model_id} model yet; available: {self._available()}")
            return model_id, target[1]
        # looked up among the run directories, never joined to a path: a client's ``../x`` or a
        # 300-character name (was: "File name too long", a 500) must be an unknown model, a 404
        run = registry.find_servable_run(self.ws, model_id)
        if run is None:
            raise UnknownModel(f"unknown model {model_id[:100]!r}; available: {self._available()}")
        return model_id, str(run)

    def _available(self) -> str:
        return ", ".join([a for a in ALIASES if self._alias_target(a)] + [m.id for m in self.runs()])


def _mark(mark: dict | None) -> dict | None:
    """What ``/models`` says about a run trained on removed data: why, and which removal."""
    return {"reason": mark.get("reason", ""), "removal": mark.get("removal", "")} if mark else None
