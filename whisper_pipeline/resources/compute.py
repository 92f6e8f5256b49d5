import dagster as dg
from pydantic import Field


class ComputeResource(dg.ConfigurableResource):
    """Which device heavy steps use: ``auto`` picks CUDA when present, else CPU."""

    device: str = Field(default="auto", description="auto | cuda | cpu")

    def pick(self) -> str:
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
