"""DATA_LICENSES.md from real provenance sidecars: a harvested recording with its licence and channel, local
uploads without provenance as "licence unknown", and the run trained on each; by the command and the asset."""

from __future__ import annotations

import shutil

import dagster as dg

from whisper_pipeline.assets.data_licenses import data_licenses
from whisper_pipeline.governance.__main__ import main
from whisper_pipeline.governance.licenses import UNKNOWN, licence_table
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline_tests.governance.conftest import HARVESTED_URL, LANG, RUN, package_run


def table_rows(markdown: str) -> list[list[str]]:
    lines = markdown.split("## Per licence")[0].splitlines()
    return [[c.strip() for c in l.strip("|").split("|")] for l in lines if l.startswith("| ") and "---" not in l][1:]


def test_each_source_with_its_licence_channel_hours_downloads_and_runs(governed, capsys):
    ws = governed
    assert main(["--workspace", str(ws.root), "licenses"]) == 0
    assert str(ws.data_licenses) in capsys.readouterr().out
    rows = {r[0] + "/" + r[3]: r for r in table_rows(ws.data_licenses.read_text())}
    harvested = rows[f"{HARVESTED_URL}/{LANG}"]
    assert harvested[1:5] == ["Javni arhiv", "Creative Commons Attribution license (reuse allowed)", LANG, "1"]
    assert float(harvested[5]) > 0 and harvested[6] == harvested[7] == "2026-11-02T10:00:00+00:00"
    assert harvested[8] == RUN
    local = rows[f"local uploads ({LANG})/{LANG}"]
    assert local[2] == UNKNOWN and int(local[4]) >= 10 and local[8] == RUN
    assert rows["local uploads (sr)/sr"][2] == UNKNOWN and rows["local uploads (sr)/sr"][8] == "—"
    summary = ws.data_licenses.read_text().split("## Per licence")[1]
    assert f"| {UNKNOWN} | 3 |" in summary


def test_the_asset_writes_the_same_document(governed):
    expected = licence_table(governed)
    result = dg.materialize([data_licenses], resources={"workspace": WorkspaceResource(root=str(governed.root))})
    assert result.success
    meta = result.asset_materializations_for_node("data_licenses")[0].metadata
    assert meta["sources"].value == len(expected) == 4
    assert meta["files_licence_unknown"].value == sum(r["files"] for r in expected if r["licence"] == UNKNOWN)
    assert governed.data_licenses.is_file()


def test_a_run_packaged_without_a_training_data_record_is_traced_through_its_manifests(governed, tiny_model_dir):
    ws = governed
    shutil.rmtree(ws.run_dir(RUN))
    package_run(ws, tiny_model_dir)  # the manifests as they are in this workspace
    ws.run_training_data(RUN).unlink()
    assert {r["source"]: r["runs"] for r in licence_table(ws)}[HARVESTED_URL] == RUN
    (ws.training_manifest(LANG, "train")).write_text("")  # changed since: no longer evidence
    assert {r["source"]: r["runs"] for r in licence_table(ws)}[HARVESTED_URL] == "—"
