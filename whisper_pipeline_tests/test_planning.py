"""PLANNING.md is the planning script's current output, its numbers scale as they should, and every measured
figure says where it came from."""

import copy
import re

import pytest

from whisper_pipeline import planning


@pytest.fixture(scope="module")
def data() -> dict:
    return planning.load_measured()


def test_planning_md_is_current():
    assert planning.PLANNING_FILE.read_text(encoding="utf-8") == planning.render(), (
        f"PLANNING.md is stale: regenerate it with `{planning.COMMAND}` (python -m whisper_pipeline.planning --write)"
    )


@pytest.mark.parametrize("model", list(planning.PRESETS))
def test_ten_times_the_audio_is_ten_times_the_work(data, model):
    small, large = planning.estimate(100, model, data), planning.estimate(1000, model, data)
    for name in ("train_gpu_h", "align_gpu_h", "eval_gpu_h", "cpu_core_h", "raw_gb", "processed_gb"):
        assert getattr(large, name) == pytest.approx(10 * getattr(small, name), rel=1e-3), name
    assert large.checkpoints_gb == small.checkpoints_gb, "checkpoints depend on the model, not the data"


def test_bigger_models_cost_more_per_sample(data):
    base, small, turbo = (planning.estimate(100, m, data) for m in planning.PRESETS)
    per_sample = [
        e.train_gpu_h / (e.train_samples * planning.preset_settings(e.model).epochs) for e in (base, small, turbo)
    ]
    assert per_sample == sorted(per_sample) and per_sample[0] < per_sample[-1]
    assert base.model_gb < small.model_gb < turbo.model_gb


def test_a_new_measurement_replaces_the_extrapolation(data):
    rates = planning.rates("whisper-small", data)
    assert rates.train_how.startswith("extrapolated")
    changed = copy.deepcopy(data)
    changed["measured"]["gpu_train_whisper-small"] = {**data["measured"]["gpu_train_base"], "value": 50.0}
    assert planning.rates("whisper-small", changed).train_samples_s == 50.0
    assert planning.rates("whisper-small", changed).train_how == "measured"
    doubled = copy.deepcopy(data)
    doubled["measured"]["gpu_train_base"]["value"] *= 2
    before, after = planning.estimate(100, "whisper-base", data), planning.estimate(100, "whisper-base", doubled)
    assert after.train_gpu_h == pytest.approx(before.train_gpu_h / 2)


def test_every_measured_figure_names_its_source(data):
    text = planning.PLANNING_FILE.read_text(encoding="utf-8")
    assert data["measured"], "no measured figures"
    for name, figure in data["measured"].items():
        for key in ("value", "unit", "what", "source", "date", "hardware"):
            assert str(figure.get(key, "")).strip(), f"bench/measured.yaml: {name}: no {key}"
        assert isinstance(figure["value"], int | float), f"bench/measured.yaml: {name}: value is not a number"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(figure["date"])), f"{name}: date {figure['date']!r}"
        for path in re.findall(r"\b(bench/\w+\.py)", figure["source"]):
            assert (planning.REPO / path).is_file(), f"{name}: source {path} does not exist"
        row = next((line for line in text.splitlines() if line.startswith(f"| `{name}` |")), "")
        assert figure["source"] in row and str(figure["value"]) in row, f"PLANNING.md does not cite {name}"
    for name, model in data["models"].items():
        assert model["source"].strip() and model["params_m"] > 0, name
    assert set(data["models"]) == set(planning.PRESETS)
