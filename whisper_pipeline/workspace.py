"""Where pipeline state lives: one root directory with the plan's fixed layout below it.

Default root: ``data/workspace`` in the repository; ``WHISPER_PIPELINE_HOME`` overrides it,
and the Dagster ``WorkspaceResource`` can override both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

LANGUAGES: tuple[str, ...] = ("bs", "hr", "sr")
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOME = REPO_ROOT / "data" / "workspace"
HOME_ENV_VAR = "WHISPER_PIPELINE_HOME"


def default_root() -> Path:
    return Path(os.environ.get(HOME_ENV_VAR) or DEFAULT_HOME).expanduser().resolve()


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def at(cls, root: str | Path | None = None) -> Workspace:
        return cls(Path(root).expanduser().resolve() if root else default_root())

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    @property
    def manifests(self) -> Path:
        return self.root / "manifests"

    @property
    def processed(self) -> Path:
        return self.root / "processed"

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    def lang_manifests(self, lang: str) -> Path:
        """Per-language manifests: each partition owns its own directory, so parallel runs never collide."""
        return self.manifests / lang

    def split_manifest(self, lang: str, split: str) -> Path:
        return self.manifests / "splits" / lang / f"{split}.jsonl"

    def processed_manifest(self, lang: str, split: str) -> Path:
        return self.manifests / "processed" / lang / f"{split}.jsonl"

    def training_manifest(self, lang: str, split: str) -> Path:
        """Lines ready for training and evaluation: processed lines of at most 30 s, plus the
        segments cut from longer recordings (written by the ``alignments`` asset)."""
        return self.manifests / "training" / lang / f"{split}.jsonl"

    def ready_manifest(self, lang: str, split: str) -> Path:
        """The training manifest when it exists, else the processed one."""
        path = self.training_manifest(lang, split)
        return path if path.is_file() else self.processed_manifest(lang, split)

    def segment_audio(self, lang: str, segment_id: str) -> Path:
        return self.processed / "segments" / lang / f"{segment_id}.wav"

    def normalized_transcript(self, lang: str, file_id: str) -> Path:
        return self.processed / "transcripts" / lang / f"{file_id}.norm.txt"

    def processed_audio(self, lang: str, file_id: str) -> Path:
        return self.processed / "audio" / lang / f"{file_id}.wav"

    def run_dir(self, run: str) -> Path:
        return self.models / "whisper" / run

    def ensure(self) -> Workspace:
        for d in (self.uploads, self.manifests, self.processed, self.outputs, self.models, self.reports, self.logs):
            d.mkdir(parents=True, exist_ok=True)
        return self
