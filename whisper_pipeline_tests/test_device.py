"""One meaning of "auto" for every device choice (assets, training, evaluation, the service)."""

import pytest
import torch

from whisper_pipeline.device import on_gpu, pick_device, training_device
from whisper_pipeline.resources import ComputeResource


def test_auto_follows_the_hardware_and_explicit_choices_are_kept():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert pick_device() == pick_device(None) == pick_device("") == pick_device("auto") == expected
    assert ComputeResource(device="auto").pick() == expected
    assert pick_device("cpu") == ComputeResource(device="cpu").pick() == "cpu"
    assert pick_device("cuda:1") == "cuda:1"


def test_an_unknown_device_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="use auto, cpu, cuda or cuda:N"):
        pick_device("gpu")


def test_an_indexed_gpu_is_a_gpu_everywhere_a_stage_chooses_by_device():
    from whisper_pipeline.serving.backends.ct2_backend import default_compute_type
    from whisper_pipeline.training.features import resolve_feature_device
    from whisper_pipeline.training.train import pick_precision

    assert on_gpu("cuda") and on_gpu("cuda:1") and not on_gpu("cpu") and not on_gpu(None)
    assert default_compute_type("cuda:1") == default_compute_type("cuda") == "float16"
    assert resolve_feature_device("auto", "cuda:1") == "device"
    assert pick_precision("bf16", "cuda:1") == "bf16"  # was refused as "needs a GPU"
    with pytest.raises(ValueError, match="needs a GPU"):
        pick_precision("bf16", "cpu")


def test_training_takes_the_visible_gpu_and_says_how_to_choose_another():
    assert training_device("cpu") == "cpu"
    assert training_device("cuda:0") == training_device("cuda") == "cuda"
    assert training_device("cuda:00") == "cuda"
    with pytest.raises(ValueError, match="make GPU 2 the one it sees with CUDA_VISIBLE_DEVICES"):
        training_device("cuda:2")
    with pytest.raises(ValueError, match="use auto, cpu, cuda or cuda:N"):
        training_device("cuda:")
