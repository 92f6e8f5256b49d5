"""The Dagster instance: embedded SQLite under ``<workspace>/dagster_home`` by default, PostgreSQL for a team.

``$WHISPER_PIPELINE_INSTANCE`` picks the instance config copied into ``$DAGSTER_HOME/dagster.yaml``:
``sqlite`` (default: ``configs/dagster.yaml``), ``postgres`` (``configs/dagster-postgres.yaml``, whose
credentials come from the ``DAGSTER_PG_*`` environment variables only), or the path of your own ``dagster.yaml``.
``python -m whisper_pipeline.instance`` prepares the home and prints its path (the containers use it).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import yaml

from whisper_pipeline.io import atomic_path
from whisper_pipeline.workspace import CONFIGS, Workspace

INSTANCE_ENV_VAR = "WHISPER_PIPELINE_INSTANCE"
INSTANCE_CONFIGS = {"sqlite": CONFIGS / "dagster.yaml", "postgres": CONFIGS / "dagster-postgres.yaml"}
POSTGRES_ENV_VARS = (
    "DAGSTER_PG_USERNAME",
    "DAGSTER_PG_PASSWORD",
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_DB",
)


class InstanceConfigError(ValueError):
    pass


def instance_config(choice: str | None = None) -> Path:
    """The instance config file for ``choice`` (default: ``$WHISPER_PIPELINE_INSTANCE``, else ``sqlite``)."""
    choice = choice or os.environ.get(INSTANCE_ENV_VAR) or "sqlite"
    if choice in INSTANCE_CONFIGS:
        return INSTANCE_CONFIGS[choice]
    path = Path(choice).expanduser()
    if not path.is_file():
        raise InstanceConfigError(
            f"{INSTANCE_ENV_VAR}={choice!r}: expected 'sqlite', 'postgres' or the path of an existing dagster.yaml"
        )
    return path


def env_vars_in(config: Path) -> list[str]:
    """Every environment variable the config reads (``{env: NAME}``), in order: Dagster would only name the
    first missing one, at the first run."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if set(node) == {"env"} and isinstance(node["env"], str):
                found.append(node["env"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    try:
        walk(yaml.safe_load(config.read_text(encoding="utf-8")))
    except yaml.YAMLError as exc:
        raise InstanceConfigError(f"{config}: not valid YAML ({exc})") from exc
    return list(dict.fromkeys(found))


def prepare_dagster_home(workspace: Workspace) -> Path:
    """Point ``DAGSTER_HOME`` at the workspace (unless set) and give it the selected instance config.

    An existing ``dagster.yaml`` is kept (it may be edited by hand), unless ``$WHISPER_PIPELINE_INSTANCE``
    explicitly asks for a different one: that is an error rather than a silent switch of the run history."""
    config = instance_config()
    missing = [name for name in env_vars_in(config) if name not in os.environ]
    if missing:
        raise InstanceConfigError(f"{config}: set the environment variable(s) {', '.join(missing)} (see .env.example)")
    home = Path(os.environ.get("DAGSTER_HOME") or workspace.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists():
        with atomic_path(target) as tmp:  # containers prepare the shared home at the same time
            shutil.copyfile(config, tmp)
    elif os.environ.get(INSTANCE_ENV_VAR) and target.read_bytes() != config.read_bytes():
        raise InstanceConfigError(
            f"{target} exists and is not {config} ({INSTANCE_ENV_VAR}={os.environ[INSTANCE_ENV_VAR]}): "
            "remove it to switch (the old history stays in that folder) or point DAGSTER_HOME elsewhere"
        )
    os.environ["DAGSTER_HOME"] = str(home)
    return home


if __name__ == "__main__":
    print(prepare_dagster_home(Workspace.at().ensure()))
