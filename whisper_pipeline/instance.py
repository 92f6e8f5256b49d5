"""The embedded Dagster instance: SQLite storage under ``<workspace>/dagster_home``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from whisper_pipeline.workspace import REPO_ROOT, Workspace


def prepare_dagster_home(workspace: Workspace) -> Path:
    """Point ``DAGSTER_HOME`` at the workspace (unless set) and give it our ``dagster.yaml``."""
    home = Path(os.environ.get("DAGSTER_HOME") or workspace.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(REPO_ROOT / "configs" / "dagster.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return home
