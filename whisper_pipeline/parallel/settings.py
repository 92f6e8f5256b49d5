"""Where the per-file work of the data stages runs: one settings dataclass, shared by every stage that maps."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

RAY_ADDRESS_ENV = "WHISPER_PIPELINE_RAY_ADDRESS"
"""Set it (e.g. ``ray://head:10001``) and every stage without its own ``ray_address`` runs on that cluster."""
OFF = "off"  # ``ray_address: off``: a local process pool even when the environment names a cluster
LOCAL_CLUSTER = "local"  # start a Ray cluster inside this process (a single-machine trial of the Ray path)


@dataclass(frozen=True)
class ParallelSettings:
    """How a stage spreads its files over processes or a Ray cluster: not part of what it makes."""

    workers: int = field(
        default=0,
        metadata={"help": "Worker processes on this machine (also a `local` Ray cluster's CPUs); 0 = one per core"},
    )
    ray_address: str = field(
        default="",
        metadata={
            "help": f"Run the per-file work on Ray: ray://host:10001, auto (the cluster of this node), host:port, "
            f"or local (start one in this process); empty = ${RAY_ADDRESS_ENV}, else a local process pool; "
            f"off = a local process pool whatever the environment says"
        },
    )
    worker_retries: int = field(
        default=3,
        metadata={"help": "Times a file's task is run again when its worker process dies (killed, out of memory)"},
    )

    def address(self) -> str:
        """The Ray address in force ('' = a local process pool): this setting, else the environment's."""
        address = (self.ray_address or os.environ.get(RAY_ADDRESS_ENV, "")).strip()
        return "" if address.lower() == OFF else address
