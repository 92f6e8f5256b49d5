"""Which model a request gets: runs, aliases, promotion taking effect without a restart."""

import shutil

import pytest

from whisper_pipeline.io import write_json
from whisper_pipeline.models.registry import promote, set_latest_run
from whisper_pipeline.serving.catalog import ModelCatalog, UnknownModel
from whisper_pipeline.workspace import Workspace


@pytest.fixture
def catalog(tmp_path, tiny_model_dir) -> ModelCatalog:
    ws = Workspace.at(tmp_path / "ws").ensure()
    for run in ("first", "second"):
        shutil.copytree(tiny_model_dir, ws.run_dir(run))
        write_json(
            ws.run_dir(run) / "run_manifest.json",
            {"run": run, "languages": ["hr", "sr"]},
        )
    (ws.run_dir("crashed") / "checkpoints").mkdir(parents=True)  # no final model: not servable
    set_latest_run(ws, "second")
    write_json(
        ws.evaluation("first").part("hr"),
        {"models": {"finetuned": {"wer": 0.31}}},
    )
    return ModelCatalog(ws, base_source=tiny_model_dir)


def test_runs_aliases_and_default(catalog):
    assert sorted(m.id for m in catalog.runs()) == ["first", "second"]
    first = next(m for m in catalog.runs() if m.id == "first")
    assert first.languages == ["hr", "sr"] and first.wer == {"hr": 0.31} and not first.production
    assert catalog.default_id() == "latest", "nothing promoted yet: the latest run"
    assert catalog.resolve(None) == ("latest", str(catalog.ws.run_dir("second")))
    assert catalog.resolve("first") == ("first", str(catalog.ws.run_dir("first")))
    assert catalog.resolve("base")[1] == catalog.base_source


def test_a_promotion_changes_the_default_without_a_restart(catalog):
    with pytest.raises(UnknownModel, match="no production model yet"):
        catalog.resolve("production")
    promote(catalog.ws, "first", {"hr": 0.31})
    assert catalog.default_id() == "production"
    assert catalog.resolve(None) == ("production", str(catalog.ws.run_dir("first")))
    assert catalog.describe()["aliases"] == {
        "production": "first",
        "latest": "second",
        "base": catalog.base_source,
    }
    assert [m.id for m in catalog.runs() if m.production] == ["first"]


@pytest.mark.parametrize(
    "name",
    [
        "crashed",
        "nope",
        "../second",
        ".",
        "..",
        "/etc",
        "second/../second",
        "x\x00y",
        "x" * 300,
    ],
)
def test_unknown_or_unservable_models_are_refused_with_the_choices(catalog, name):
    with pytest.raises(UnknownModel) as err:
        catalog.resolve(name)
    assert "available: latest, base, " in str(err.value) and "first" in str(err.value)
