import dagster as dg
from pydantic import Field

from whisper_pipeline.workspace import Workspace


class WorkspaceResource(dg.ConfigurableResource):
    """The workspace root. Empty means ``$WHISPER_PIPELINE_HOME`` or ``data/workspace``."""

    root: str = Field(
        default="", description="Workspace root directory; empty = WHISPER_PIPELINE_HOME or data/workspace"
    )

    def get(self) -> Workspace:
        return Workspace.at(self.root or None).ensure()
