"""The workspace layout is written once: the README's table of shared files is generated from
``workspace.py``, and no other module builds a workspace path by hand."""

import ast
import re
from pathlib import Path

import pytest

from whisper_pipeline.workspace import REPO_ROOT, LanguageParts, Workspace, layout_markdown, layout_table

PACKAGE = REPO_ROOT / "whisper_pipeline"
BEGIN, END = "<!-- layout:begin (python -m whisper_pipeline.workspace) -->", "<!-- layout:end -->"
# Workspace members that are directories or path-building helpers: ``ws.<member> / "literal"`` is what
# the layout exists to prevent.
DIRECTORY_MEMBERS = {
    "root", "uploads", "manifests", "processed", "outputs", "models", "reports", "logs", "dagster_home",
    "lang_manifests", "language_uploads", "runs_dir", "run_dir", "processed_audio_dir", "report_dir", "sweep_dir",
    "base_model_dir", "processor_dir", "alignment_outputs",
}  # fmt: skip


def _modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if p.name != "workspace.py" or p.parent != PACKAGE]


def _file_names() -> set[str]:
    """Literal names of the shared files (the parts of their patterns without placeholders)."""
    names = set()
    for row in layout_table():
        for path in row["path"].split(" + "):
            last = path.rsplit("/", 1)[-1]
            names.update(part for part in re.split(r"<[a-z_]+>", last) if len(part) > 4 and "." in part.strip("."))
            if "<" not in last and "." in last:
                names.add(last)
    return names


def test_readme_table_is_generated_from_the_layout():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert BEGIN in readme and END in readme, "README lacks the generated layout table"
    block = readme.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"
    assert block == layout_markdown(), "README layout table is stale: paste `python -m whisper_pipeline.workspace`"


def test_every_shared_file_says_who_writes_it_and_what_it_is():
    rows = layout_table()
    assert len(rows) >= 35
    for row in rows:
        assert row["writer"] and row["about"], row["name"]
    names = [r["name"] for r in rows]
    assert len(names) == len(set(names))


def test_language_parts_name_a_part_per_language_and_one_combined_file(tmp_path):
    ws = Workspace(tmp_path)
    parts = ws.dataset_inventory_csv
    assert isinstance(parts, LanguageParts)
    assert set(parts.parts) == {"bs", "hr", "sr"} and parts.combined == ws.manifests / "dataset_inventory.csv"
    assert parts.part("hr") == ws.lang_manifests("hr") / "dataset_inventory.csv"
    assert ws.evaluation("run7").part("sr") == ws.manifests / "eval" / "run7" / "sr.json"


def _hand_built_paths(source: str) -> list[tuple[int, str]]:
    """``<workspace>.<directory member> / "literal"`` expressions, and string literals naming a shared file."""
    found, names = [], _file_names()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            left = node.left.func if isinstance(node.left, ast.Call) else node.left
            if isinstance(left, ast.Attribute) and left.attr in DIRECTORY_MEMBERS:
                if isinstance(node.right, ast.Constant | ast.JoinedStr):
                    found.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if any(node.value == n or node.value.endswith("/" + n) for n in names):
                found.append((node.lineno, repr(node.value)))
    return found


def test_no_module_builds_a_workspace_path_by_hand():
    offenders = [
        f"{p.relative_to(REPO_ROOT)}:{line}: {what}"
        for p in _modules()
        for line, what in _hand_built_paths(p.read_text())
    ]
    assert not offenders, "build these paths with the layout (whisper_pipeline/workspace.py):\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    "source",
    ['p = ws.manifests / "eval" / run', 'p = ws.lang_manifests(lang) / "inventory.jsonl"', 'open("registry.json")'],
)
def test_the_check_catches_hand_built_paths(source):
    assert _hand_built_paths(source)


def test_dagster_configs_are_generated_from_library_settings():
    """A config class written by hand in an asset module would copy library defaults: configs come from
    ``assets/common.py:config_from`` (the library dataclass is the one definition)."""
    by_hand = []
    for path in (PACKAGE / "assets").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any("Config" in ast.unparse(b) for b in node.bases):
                by_hand.append(f"{path.name}: class {node.name}")
    assert not by_hand, by_hand
