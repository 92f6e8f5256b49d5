"""One Ray cluster on 127.0.0.1 for the tests of this package, started by them and always shut down.

Package-scoped (it lives while these tests run): Ray start-up costs seconds on a small machine, and the rest of the
suite then forks its process pools from a process no longer connected to Ray."""

from __future__ import annotations

import pytest

from whisper_pipeline.parallel import RAY_ADDRESS_ENV, ParallelSettings


@pytest.fixture(autouse=True)
def no_deployment_address(monkeypatch):
    """A developer's exported cluster address must not decide which backend a test uses."""
    monkeypatch.delenv(RAY_ADDRESS_ENV, raising=False)


@pytest.fixture(scope="package")
def ray_cluster() -> ParallelSettings:
    """Settings that run a map on the test's own local Ray cluster (2 CPUs, no dashboard)."""
    import ray

    assert not ray.is_initialized(), "another test left Ray connected"
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=100 * 2**20,
        _node_ip_address="127.0.0.1",
    )
    try:
        yield ParallelSettings(ray_address="local", workers=2)
    finally:
        ray.shutdown()
