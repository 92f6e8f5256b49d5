"""One meaning of "auto" for every device choice (assets, training, evaluation, the service)."""

import pytest
import torch

from whisper_pipeline.device import pick_device
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
