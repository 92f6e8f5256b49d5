"""The team instance: ``configs/dagster-postgres.yaml`` against a real PostgreSQL server that the test starts
itself from Debian's binaries (``initdb`` / ``pg_ctl`` in a temp dir on a free loopback port).

PostgreSQL refuses to run as root (CI runs as root), so there the server runs as the ``postgres`` user that
Debian's package creates (``runuser``). Missing binaries skip the test on a laptop and fail it under CI=true.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psycopg
import pytest
import yaml
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from whisper_pipeline.assets.raw_audio import raw_audio
from whisper_pipeline.instance import (
    INSTANCE_CONFIGS,
    INSTANCE_ENV_VAR,
    POSTGRES_ENV_VARS,
    InstanceConfigError,
    env_vars_in,
    prepare_dagster_home,
)
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline_tests.ci_required import run_test_file
from whisper_pipeline_tests.conftest import ON_CI, free_port

SQLITE, POSTGRES = INSTANCE_CONFIGS["sqlite"], INSTANCE_CONFIGS["postgres"]


def server_bin_dir() -> Path | None:
    """Debian keeps initdb/pg_ctl in /usr/lib/postgresql/<major>/bin (newest first), else whatever PATH has."""
    majors = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(re.sub(r"\D", "", d) or 0), reverse=True)
    on_path = shutil.which("pg_ctl")
    for candidate in [*majors, *([str(Path(on_path).resolve().parent)] if on_path else [])]:
        if (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    return None


def server_user() -> str | None:
    """Who runs the server: ourselves, unless we are root (PostgreSQL refuses); then Debian's ``postgres``."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    pytest.fail("running as root and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL")


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    user: str
    password: str
    db: str

    def env(self) -> dict[str, str]:
        values = (self.user, self.password, self.host, str(self.port), self.db)
        return dict(zip(POSTGRES_ENV_VARS, values, strict=True))

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname=self.db, autocommit=True
        )


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[Server]:
    bin_dir = server_bin_dir()
    if bin_dir is None:
        if ON_CI:
            pytest.fail("PostgreSQL's initdb/pg_ctl are not installed, and CI=true: scripts/setup.sh installs them")
        pytest.skip("PostgreSQL's server binaries (Debian package postgresql) are installed by scripts/setup.sh")
    user = server_user()
    root = Path(tempfile.mkdtemp(prefix="whisper-pg-"))  # not tmp_path: its parents are closed to other users
    password = secrets.token_urlsafe(16)
    (root / "pwfile").write_text(password + "\n")
    if user:
        account = pwd.getpwnam(user)
        for path in (root, root / "pwfile"):
            os.chown(path, account.pw_uid, account.pw_gid)

    def as_server(*cmd: str) -> None:
        prefix = ["runuser", "-u", user, "--"] if user else []
        proc = subprocess.run([*prefix, *cmd], cwd=root, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"

    data, port = root / "data", free_port()
    role, db = "whisper_team", "whisper_dagster"
    as_server(
        str(bin_dir / "initdb"), "-D", str(data), "-U", role, f"--pwfile={root / 'pwfile'}", "-A", "scram-sha-256"
    )
    as_server(
        str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "60",
        "-o", f"-h 127.0.0.1 -p {port} -k {root}", "start",
    )  # fmt: skip
    try:
        with psycopg.connect(
            host="127.0.0.1", port=port, user=role, password=password, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f"CREATE DATABASE {db}")
        yield Server("127.0.0.1", port, role, password, db)
    finally:
        as_server(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def test_postgres_config_reads_credentials_from_the_environment_and_shares_the_default_settings():
    sqlite, postgres = (yaml.safe_load(p.read_text()) for p in (SQLITE, POSTGRES))
    assert "storage" not in sqlite, "the default instance is Dagster's SQLite one under DAGSTER_HOME"
    shared = {k: v for k, v in postgres.items() if k != "storage"}
    assert shared == sqlite, f"{POSTGRES} and {SQLITE} must share concurrency/telemetry settings"
    db = postgres["storage"]["postgres"]["postgres_db"]
    assert db.pop("scheme") == "postgresql+psycopg2", "the driver dagster-postgres works with (see the yaml)"
    assert all(set(v) == {"env"} for v in db.values()), f"{POSTGRES}: every connection field comes from {{env: ...}}"
    assert env_vars_in(POSTGRES) == list(POSTGRES_ENV_VARS)
    example = (POSTGRES.parent.parent / ".env.example").read_text()
    assert all(re.search(rf"^{name}=", example, re.M) for name in POSTGRES_ENV_VARS), ".env.example lists them"


def test_instance_selection(workspace, tmp_path, monkeypatch):
    for name in POSTGRES_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(INSTANCE_ENV_VAR, raising=False)
    home = prepare_dagster_home(workspace)
    assert (home / "dagster.yaml").read_bytes() == SQLITE.read_bytes(), "default: SQLite"

    monkeypatch.setenv(INSTANCE_ENV_VAR, "postgres")
    with pytest.raises(InstanceConfigError, match="DAGSTER_PG_USERNAME, DAGSTER_PG_PASSWORD, DAGSTER_PG_HOST"):
        prepare_dagster_home(workspace)
    for name in POSTGRES_ENV_VARS:
        monkeypatch.setenv(name, "x")
    with pytest.raises(InstanceConfigError, match="exists and is not .*dagster-postgres.yaml"):
        prepare_dagster_home(workspace)  # never a silent switch of an existing home's history

    monkeypatch.setenv(INSTANCE_ENV_VAR, str(tmp_path / "nowhere.yaml"))
    with pytest.raises(InstanceConfigError, match="nowhere.yaml.*'sqlite', 'postgres'"):
        prepare_dagster_home(workspace)


def test_runs_and_materializations_survive_reopening_the_postgres_instance(
    postgres_server, workspace, tmp_path, monkeypatch
):
    for name, value in postgres_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(INSTANCE_ENV_VAR, "postgres")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    home = prepare_dagster_home(workspace)
    assert "password" not in (home / "dagster.yaml").read_text().replace("password: {env:", "")

    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        result = dg.materialize(
            [raw_audio],
            partition_key="hr",
            resources={"workspace": WorkspaceResource(root=str(workspace.root))},
            run_config={"ops": {"raw_audio": {"config": {"harvest": False}}}},
            instance=instance,
        )
        assert result.success
        written = result.asset_materializations_for_node("raw_audio")[0].metadata

    with dg.DagsterInstance.from_config(str(home)) as reopened:
        assert isinstance(reopened.run_storage, PostgresRunStorage)
        assert isinstance(reopened.event_log_storage, PostgresEventLogStorage)
        assert isinstance(reopened.schedule_storage, PostgresScheduleStorage)
        run = reopened.get_run_by_id(result.run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags.get("dagster/partition") == "hr"
        event = reopened.get_latest_materialization_event(dg.AssetKey("raw_audio"))
        assert event is not None and event.run_id == result.run_id
        kept = event.asset_materialization
        assert kept.partition == "hr"
        assert set(kept.metadata) == set(written) and kept.metadata["files"] == written["files"]
    assert not (home / "history").exists() and not (home / "schedules").exists(), "nothing went to SQLite"

    with postgres_server.connect() as conn:  # the rows really are in the server
        runs = conn.execute("SELECT status FROM runs WHERE run_id = %s", (result.run_id,)).fetchall()
        assert runs == [("SUCCESS",)]
        (count,) = conn.execute(
            "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
            (result.run_id,),
        ).fetchone()
        assert count == 1


@pytest.mark.parametrize("ci,outcome", [("true", "1 error"), ("", "1 skipped")])
def test_missing_server_binaries_fail_only_on_ci(tmp_path, ci, outcome):
    (tmp_path / "test_no_server.py").write_text(
        "import whisper_pipeline_tests.test_instance_postgres as pg\n"
        "from whisper_pipeline_tests.test_instance_postgres import postgres_server  # noqa: F401  (the fixture)\n\n"
        "pg.server_bin_dir = lambda: None  # as on a machine without Debian's postgresql\n\n"
        "def test_server(postgres_server):\n    assert postgres_server\n"
    )
    out = run_test_file(tmp_path / "test_no_server.py", ci)
    assert outcome in out, out[-2000:]
    if ci:
        assert "initdb/pg_ctl are not installed, and CI=true" in out
