import dagster as dg
from pydantic import Field

from whisper_pipeline.device import pick_device
from whisper_pipeline.parallel import ParallelSettings, device_for


class ComputeResource(dg.ConfigurableResource):
    """Which device heavy steps use: ``auto`` picks CUDA when present, else CPU."""

    device: str = Field(default="auto", description="auto | cuda | cpu")

    def pick(self) -> str:
        return pick_device(self.device)

    def pick_for(self, parallel: ParallelSettings) -> str:
        """The device where ``parallel`` runs the work: this machine's, or the Ray cluster's (``device_for``)."""
        return device_for(parallel, self.device)
