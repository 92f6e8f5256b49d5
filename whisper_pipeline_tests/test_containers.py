"""``Dockerfile.train`` and ``docker-compose.train.yml``, checked statically (no image can be pulled or built on
these machines): every file the image copies exists, every file, config, module, CLI and asset a command names
(in the Dockerfile, its header's usage lines and the compose services) exists or imports, and the compose file
wires one workspace volume, the PostgreSQL instance, secrets from ``.env`` and a GPU for training."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
import yaml

from whisper_pipeline.instance import INSTANCE_CONFIGS, INSTANCE_ENV_VAR, POSTGRES_ENV_VARS
from whisper_pipeline.workspace import HOME_ENV_VAR, REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile.train"
COMPOSE = REPO_ROOT / "docker-compose.train.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
PIPELINE_SERVICES = ("webserver", "daemon", "trainer")
SHELL_SEPARATORS = {"&&", "||", ";", "|"}


@dataclass
class Dockerfile:
    header: list[str]  # the leading comment block's usage commands, continuation lines joined
    instructions: list[tuple[str, str]]  # (KEYWORD, arguments), continuation lines joined

    def args(self, keyword: str) -> list[str]:
        return [a for k, a in self.instructions if k == keyword]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for args in self.args("ENV"):
            values.update(dict(token.split("=", 1) for token in shlex.split(args)))
        return values

    def copied(self) -> list[str]:
        """Every ``COPY`` source (``--from`` stages excluded), as written."""
        sources = []
        for args in self.args("COPY"):
            tokens = shlex.split(args)
            if any(t.startswith("--from") for t in tokens):
                continue
            sources += [t for t in tokens[:-1] if not t.startswith("--")]
        return sources


def join_continuations(lines: list[str]) -> list[str]:
    joined, pending = [], ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
        else:
            joined.append(pending + line)
            pending = ""
    return joined + ([pending] if pending else [])


@cache
def dockerfile(path: Path = DOCKERFILE) -> Dockerfile:
    lines = path.read_text(encoding="utf-8").splitlines()
    first = next(i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#"))
    header = [line.lstrip("#").strip() for line in lines[:first]]
    usage = []
    for line in join_continuations(header):
        if m := re.match(r"^[A-Z][\w ]*:\s+(.*)$", line):  # "Build:  docker build ..."
            usage.append(re.split(r"\s{2,}\(", m.group(1))[0])  # drop a trailing "  (remark)"
    body = join_continuations([line for line in lines[first:] if not line.lstrip().startswith("#")])
    instructions = [tuple(line.strip().split(None, 1)) for line in body if line.strip()]
    return Dockerfile(usage, [(k.upper(), a) for k, a in instructions])


@dataclass
class References:
    """What a command line names: files on the host (``-f``), files inside the image (``-c``, ``-w``, ``-r``),
    modules (``-m``), dagster executables, and selected assets."""

    host_files: list[str] = field(default_factory=list)
    image_files: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    executables: list[str] = field(default_factory=list)
    assets: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)

    def scan(self, tokens: list[str]) -> References:
        commands: list[list[str]] = [[]]
        for token in tokens:
            if token in SHELL_SEPARATORS:
                commands.append([])
            else:
                commands[-1].append(token)
        for command in filter(None, commands):
            if command[0] == "exec":
                command = command[1:]
            if command[0].startswith("dagster"):
                self.executables.append(command[0])
            for flag, value in zip(command, command[1:], strict=False):
                if flag in ("-c", "--config") and " " in value:  # sh -c "a script"
                    self.scan(shlex.split(value))
                elif flag in ("-c", "--config", "-w", "--workspace", "-r", "--requirement"):
                    self.image_files.append(value)
                elif flag in ("-f", "--file"):
                    self.host_files.append(value)
                elif flag in ("-m", "--module-name", "--module"):
                    self.modules.append(value)
                elif flag == "--select":
                    self.assets += value.split(",")
                elif flag in ("-v", "--volume"):
                    self.volumes.append(value)
        return self


def command_tokens(value: str | list[str]) -> list[str]:
    """A Dockerfile/compose command in exec (JSON list) or shell form, as tokens."""
    if isinstance(value, list):
        return value
    value = value.strip()
    return json.loads(value) if value.startswith("[") else shlex.split(value)


@cache
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def image_home() -> str:
    return dockerfile().env()[HOME_ENV_VAR]


def assert_in_image(path: str, where: str) -> None:
    """The path exists in the repository and one of the Dockerfile's ``COPY`` sources carries it to the image."""
    assert (REPO_ROOT / path).exists(), f"{where}: {path} does not exist"
    copied = [c.rstrip("/") for c in dockerfile().copied()]
    assert any(path == c or path.startswith(c + "/") for c in copied), f"{where}: {path} is not copied into the image"


def assert_references_exist(refs: References, where: str) -> None:
    for path in refs.image_files:
        assert_in_image(path, where)
    for path in refs.host_files:
        assert (REPO_ROOT / path).is_file(), f"{where}: {path} does not exist"
    for module in refs.modules:
        assert importlib.util.find_spec(module) is not None, f"{where}: module {module} does not import"
    for exe in refs.executables:
        assert (Path(sys.executable).parent / exe).is_file(), f"{where}: {exe} is not installed by the package"
    if refs.assets:
        from whisper_pipeline.definitions import defs

        known = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
        assert set(refs.assets) <= known, f"{where}: unknown assets {set(refs.assets) - known}"


def test_every_copy_source_exists_and_survives_dockerignore():
    ignored = [
        p.strip() for p in (REPO_ROOT / ".dockerignore").read_text().splitlines() if p.strip() and not p.startswith("#")
    ]
    sources = dockerfile().copied()
    assert "requirements.lock" in sources and "whisper_pipeline" in sources
    for source in sources:
        assert (REPO_ROOT / source).exists(), f"{DOCKERFILE.name}: COPY {source}: no such file"
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), f".dockerignore drops {source}"
    for args in dockerfile().args("COPY"):  # the image mirrors the repository under WORKDIR
        *srcs, dest = shlex.split(args)
        assert dest == "./" or (len(srcs) == 1 and dest == f"./{srcs[0]}"), f"COPY {args}: not mirrored"


def test_the_image_installs_the_lock_with_hashes_and_runs_as_a_user():
    runs = " ".join(dockerfile().args("RUN"))
    assert "pip install --require-hashes -r requirements.lock" in runs
    assert "pip install --no-deps -e ." in runs
    assert dockerfile().args("USER"), "the image does not run as root"
    assert dockerfile().args("WORKDIR") == ["/app"] and image_home() == "/app/data/workspace"


def test_dockerfile_commands_name_existing_files_and_modules():
    for keyword in ("RUN", "CMD", "ENTRYPOINT"):
        for args in dockerfile().args(keyword):
            assert_references_exist(References().scan(command_tokens(args)), f"{DOCKERFILE.name} {keyword}")
    (cmd,) = dockerfile().args("CMD")
    assert References().scan(command_tokens(cmd)).modules == ["whisper_pipeline.demo"]


def test_the_header_usage_commands_reference_existing_files():
    usage = dockerfile().header
    assert len(usage) >= 3, f"{DOCKERFILE.name}: the header has usage lines (Build/Train/...)"
    refs = References()
    for line in usage:
        refs.scan(shlex.split(line))
    assert_references_exist(refs, f"{DOCKERFILE.name} header")
    assert {"Dockerfile.train", "docker-compose.train.yml"} <= set(refs.host_files)
    assert any(p.startswith("configs/train/") for p in refs.image_files), "the Train line names a preset"
    assert all(v.split(":")[1] == image_home() for v in refs.volumes), "docker run mounts the workspace"


def test_compose_services_reference_existing_files():
    services = compose()["services"]
    assert set(services) >= {"postgres", *PIPELINE_SERVICES}
    assert services["postgres"]["image"].startswith("postgres:15")
    for name in PIPELINE_SERVICES:
        service = services[name]
        build = service["build"]
        assert (REPO_ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
        assert service["env_file"] in (".env", [".env"]), f"{name}: secrets come from .env"
        refs = References().scan(command_tokens(service["command"]))
        assert_references_exist(refs, f"{COMPOSE.name} {name}")
        assert "whisper_pipeline.instance" in refs.modules, f"{name}: prepares DAGSTER_HOME first"
    assert [e for e in References().scan(command_tokens(services["trainer"]["command"])).assets] == ["checkpoint"]


def test_compose_shares_one_workspace_volume_and_the_postgres_instance():
    services, declared = compose()["services"], set(compose()["volumes"])
    mounts = set()
    for name in PIPELINE_SERVICES:
        env = services[name]["environment"]
        (volume,) = services[name]["volumes"]
        source, target = volume.split(":")[:2]
        assert source in declared and target == image_home() == env[HOME_ENV_VAR]
        mounts.add(source)
        assert env[INSTANCE_ENV_VAR] == "postgres" and INSTANCE_CONFIGS["postgres"].is_file()
        assert env["DAGSTER_HOME"].startswith(image_home() + "/"), "the Dagster home lives on the shared volume"
        assert env["DAGSTER_PG_HOST"] == "postgres"
    assert len(mounts) == 1, "one workspace volume for every service"
    (pg_volume,) = services["postgres"]["volumes"]
    assert pg_volume.split(":")[0] in declared


def test_compose_secrets_come_from_the_env_file():
    example = ENV_EXAMPLE.read_text()
    interpolated = set(re.findall(r"(?<!\$)\$\{(\w+)", COMPOSE.read_text()))  # $${X}: the container's own
    assert interpolated >= {"DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB"}
    for name in interpolated:
        assert re.search(rf"^#? ?{name}=", example, re.M), f"{COMPOSE.name} reads ${name}: list it in .env.example"
    tracked = subprocess.run(["git", "ls-files", ".env.example", ".env"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert tracked.stdout.split() == [".env.example"], ".env itself is never committed"
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=REPO_ROOT)
    assert ignored.returncode == 0, ".env must be git-ignored"
    for name in PIPELINE_SERVICES:
        assert not set(compose()["services"][name]["environment"]) & {"DAGSTER_PG_PASSWORD", "DAGSTER_PG_USERNAME"}


def test_training_and_the_daemon_get_the_gpu():
    for name in ("trainer", "daemon"):
        devices = compose()["services"][name]["deploy"]["resources"]["reservations"]["devices"]
        assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices), name


def test_the_entry_module_prepares_a_postgres_home(tmp_path):
    """What every compose service runs first, as a real process: it writes the PostgreSQL instance config."""
    env = {
        **os.environ,
        HOME_ENV_VAR: str(tmp_path / "ws"),
        INSTANCE_ENV_VAR: "postgres",
        "DAGSTER_HOME": str(tmp_path / "ws" / "dagster_home"),
        **dict.fromkeys(POSTGRES_ENV_VARS, "x"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "whisper_pipeline.instance"], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    home = Path(proc.stdout.strip())
    assert home == tmp_path / "ws" / "dagster_home"
    assert (home / "dagster.yaml").read_bytes() == INSTANCE_CONFIGS["postgres"].read_bytes()

    del env["DAGSTER_PG_PASSWORD"]
    env["DAGSTER_HOME"] = str(tmp_path / "other")
    proc = subprocess.run(
        [sys.executable, "-m", "whisper_pipeline.instance"], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode != 0 and "DAGSTER_PG_PASSWORD" in proc.stderr


@pytest.mark.parametrize(
    "line,problem",
    [
        ("docker build -f Dockerfile.nope .", "Dockerfile.nope does not exist"),
        ("dagster asset materialize -m whisper_pipeline.nope --select checkpoint", "whisper_pipeline.nope"),
        ("dagster asset materialize -m whisper_pipeline.definitions -c configs/train/nope.yaml", "nope.yaml"),
        ("dagster asset materialize -m whisper_pipeline.definitions --select no_such_asset", "no_such_asset"),
        ("sh -c 'python -m whisper_pipeline.instance && exec dagster-nope run'", "dagster-nope"),
        ("pip install -r scripts/setup.sh", "scripts/setup.sh is not copied"),
    ],
)
def test_the_checks_catch_a_broken_reference(line, problem):
    with pytest.raises(AssertionError, match=re.escape(problem)):
        assert_references_exist(References().scan(shlex.split(line)), "planted")


SERVE_DOCKERFILE = REPO_ROOT / "Dockerfile.serve"


def test_the_serving_image_copies_existing_files_and_installs_the_lock():
    serve = dockerfile(SERVE_DOCKERFILE)
    ignored = [
        p.strip() for p in (REPO_ROOT / ".dockerignore").read_text().splitlines() if p.strip() and not p.startswith("#")
    ]
    assert {"requirements.lock", "whisper_pipeline"} <= set(serve.copied())
    for source in serve.copied():
        assert (REPO_ROOT / source).exists(), f"Dockerfile.serve: COPY {source}: no such file"
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), f".dockerignore drops {source}"
    runs = " ".join(serve.args("RUN"))
    assert "pip install --require-hashes -r requirements.lock" in runs and "pip install --no-deps -e ." in runs
    assert serve.args("USER") and serve.args("WORKDIR") == ["/app"]
    assert serve.env()[HOME_ENV_VAR] == image_home(), "the same workspace path as the training image"


def test_the_serving_command_parses_and_listens_where_it_is_published():
    from whisper_pipeline.serving.__main__ import build_parser

    serve = dockerfile(SERVE_DOCKERFILE)
    (cmd,) = serve.args("CMD")
    tokens = command_tokens(cmd)
    assert tokens[:3] == ["python", "-m", "whisper_pipeline.serving"]
    args = build_parser().parse_args(tokens[3:])  # every option the image passes exists
    assert args.host == "0.0.0.0" and args.log_format == "json"
    assert serve.args("EXPOSE") == [str(args.port)]
    (health,) = serve.args("HEALTHCHECK")
    assert f"127.0.0.1:{args.port}/health" in health, "the health check uses the open /health"
    usage = serve.header
    assert any(line.startswith("docker build -f Dockerfile.serve ") for line in usage)
    runs = [shlex.split(line) for line in usage if line.startswith("docker run")]
    assert runs, "the header documents a run command"
    for line in runs:
        refs = References().scan(line)
        assert any(v.split(":")[1] == image_home() for v in refs.volumes), "docker run mounts the workspace"
        assert f"{args.port}:{args.port}" in line, "the port is published"
        for module in refs.modules:
            assert importlib.util.find_spec(module) is not None, module
        if "whisper_pipeline.serving" in line:  # an overridden command must parse too
            build_parser().parse_args(line[line.index("whisper_pipeline.serving") + 1 :])
