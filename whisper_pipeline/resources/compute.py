import dagster as dg
from pydantic import Field

from whisper_pipeline.device import pick_device


class ComputeResource(dg.ConfigurableResource):
    """Which device heavy steps use: ``auto`` picks CUDA when present, else CPU."""

    device: str = Field(default="auto", description="auto | cuda | cpu")

    def pick(self) -> str:
        return pick_device(self.device)
