import dagster as dg
from pydantic import Field

from whisper_pipeline.models.source import BUILTIN_BASE, resolve_model_source
from whisper_pipeline.workspace import Workspace


class ModelSourceResource(dg.ConfigurableResource):
    """The base Whisper model: ``builtin:whisper-base``, a local transformers or CTranslate2 dir, or a hub id."""

    source: str = Field(
        default=BUILTIN_BASE, description="builtin:whisper-base | /path/to/hf-dir | /path/to/ct2-dir | hub id"
    )

    def resolve(self, workspace: Workspace) -> str:
        return resolve_model_source(self.source, workspace.base_model_dir)
