"""The Windows entry points, checked statically (no PowerShell on these machines): .vscode/tasks.json and
scripts/*.ps1 name only files, modules and make targets that exist, and the scripts are well-formed."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from whisper_pipeline import lockfile
from whisper_pipeline.workspace import REPO_ROOT

TASKS = REPO_ROOT / ".vscode" / "tasks.json"
SETUP_PS1 = REPO_ROOT / "scripts" / "setup_env.ps1"
ALLOW_PS1 = REPO_ROOT / "scripts" / "enable-pwsh-allow.ps1"
PS1_FILES = sorted((REPO_ROOT / "scripts").glob("*.ps1"))


def make_targets() -> set[str]:
    text = (REPO_ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w-]*):", text, flags=re.M))


def runnable_module(module: str) -> bool:
    """``python -m module`` works: a module, or a package with ``__main__``."""
    spec = importlib.util.find_spec(module)
    if spec is None:
        return False
    return not spec.submodule_search_locations or importlib.util.find_spec(f"{module}.__main__") is not None


def references(command: str) -> list[str]:
    """Every problem with what one shell command names (empty when all of it exists)."""
    problems = []
    for target in re.findall(r"\bmake\s+([\w-]+)", command):
        if target not in make_targets():
            problems.append(f"make target {target!r} is not in the Makefile")
    for module in re.findall(r"\s-m\s+([\w.]+)", command):
        if not runnable_module(module):
            problems.append(f"python -m {module}: no such runnable module")
    for path in re.findall(r"(?:\.\\\\?|\./)?(scripts[\\/]+[\w.-]+\.(?:ps1|sh))", command):
        if not (REPO_ROOT / path.replace("\\", "/")).is_file():
            problems.append(f"{path}: no such file")
    for config in re.findall(r"\s-w\s+([\w./-]+)", command):
        if not (REPO_ROOT / config).is_file():
            problems.append(f"{config}: no such file")
    for exe in re.findall(r"\.venv\\+Scripts\\+([\w-]+)", command):
        if not (REPO_ROOT / ".venv" / "bin" / exe).exists():  # the same console scripts as on Linux
            problems.append(f".venv\\Scripts\\{exe}: not installed by the set-up")
    return problems


def test_tasks_json_is_strict_json_and_tracked():
    tasks = json.loads(TASKS.read_text(encoding="utf-8"))  # strict JSON: no comments, no trailing commas
    assert tasks["version"] == "2.0.0"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(TASKS)], cwd=REPO_ROOT).returncode == 0
    assert not ignored, ".gitignore must not hide .vscode/tasks.json"


def test_every_task_runs_on_linux_and_windows_and_names_what_exists():
    tasks = json.loads(TASKS.read_text(encoding="utf-8"))["tasks"]
    labels = [t["label"] for t in tasks]
    for needed in ("setup", "doctor", "demo", "test", "dev", "serve"):
        assert needed in labels
    assert any("enable" in label for label in labels)
    problems = []
    for task in tasks:
        for command in (task["command"], task["windows"]["command"]):
            problems += [f"{task['label']}: {p}" for p in references(command)]
        assert "make" not in task["windows"]["command"], "make may not exist on Windows: call .venv's python"
    assert problems == []


def test_the_reference_check_catches_a_missing_target_module_or_script():
    assert references("make demo") == []
    assert references("make no-such-target") == ["make target 'no-such-target' is not in the Makefile"]
    assert references("& .\\.venv\\Scripts\\python -m whisper_pipeline.nope") == [
        "python -m whisper_pipeline.nope: no such runnable module"
    ]
    assert references("python -m whisper_pipeline.models") == [
        "python -m whisper_pipeline.models: no such runnable module"
    ]
    assert references("& .\\scripts\\gone.ps1") == ["scripts\\gone.ps1: no such file"]


def strip_powershell(text: str) -> str:
    """The code without comments, strings and here-strings, so bracket balance means something."""
    text = re.sub(r'@"\n.*?\n"@', '""', text, flags=re.S)
    text = re.sub(r"@'\n.*?\n'@", "''", text, flags=re.S)
    text = re.sub(r"<#.*?#>", "", text, flags=re.S)
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "`":  # the escape character: skip the next one
            i += 2
            continue
        if c == "#":
            i = text.find("\n", i) if "\n" in text[i:] else len(text)
            continue
        if c in "'\"":
            end = i + 1
            while end < len(text) and not (text[end] == c and text[end - 1] != "`"):
                end += 1
            i = end + 1
            out.append("''")
            continue
        out.append(c)
        i += 1
    return "".join(out)


@pytest.mark.parametrize("script", PS1_FILES, ids=lambda p: p.name)
def test_powershell_scripts_are_well_formed(script: Path):
    raw = script.read_bytes()
    assert raw.isascii(), f"{script.name}: Windows PowerShell 5.1 reads BOM-less files as ANSI; keep them ASCII"
    text = raw.decode()
    assert text.startswith("<#") and ".SYNOPSIS" in text.split("#>")[0], f"{script.name}: a comment-based help header"
    code = strip_powershell(text)
    for open_, close in ("{}", "()", "[]"):
        assert code.count(open_) == code.count(close), f"{script.name}: unbalanced {open_}{close}"
    assert '$ErrorActionPreference = "Stop"' in text, f"{script.name}: stop on the first error"


def test_the_strip_keeps_code_and_drops_comments_and_strings():
    assert strip_powershell('if ($a) { "}" } # {\n<# ( #>x') == "if ($a) { '' } \nx"


@pytest.mark.parametrize("script", PS1_FILES, ids=lambda p: p.name)
def test_powershell_scripts_name_existing_files_and_modules(script: Path):
    text = script.read_text(encoding="utf-8")
    for module in re.findall(r"-m\s+(whisper_pipeline[\w.]*)", text):
        assert runnable_module(module), f"{script.name}: python -m {module} does not exist"
    for path in re.findall(r"scripts\\([\w.-]+\.ps1)", text):
        assert (REPO_ROOT / "scripts" / path).is_file(), f"{script.name}: scripts\\{path} does not exist"


def test_setup_env_installs_what_linux_installs():
    text = SETUP_PS1.read_text(encoding="utf-8")
    setup_sh = (REPO_ROOT / "scripts" / "setup.sh").read_text()
    # the same install as scripts/setup.sh (the lock, then the project without its dependencies)
    assert (
        '"--require-hashes", "-r", "requirements.lock"' in text and "--require-hashes -r requirements.lock" in setup_sh
    )
    assert '"--no-deps", "-e", "."' in text and "--no-deps -e ." in setup_sh
    assert lockfile.LOCK_PATH.is_file()
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert '".[test]"' in text and "test" in pyproject["optional-dependencies"]
    assert "sys.version_info >= (3, 11)" in text and pyproject["requires-python"] == ">=3.11"
    # the CUDA swap installs exactly the torch/torchaudio versions the lock pins
    _, pins = lockfile.read_lock()
    for name in ("torch", "torchaudio"):
        assert f'"{name}=={pins[name][0].version}"' in text
    assert "-m whisper_pipeline.doctor" in text and "$LASTEXITCODE" in text


def test_enable_script_warns_and_asks_before_changing_the_policy():
    text = ALLOW_PS1.read_text(encoding="utf-8")
    header, code = text.split("#>", 1)
    assert "SECURITY WARNING" in header and "-Revert" in header
    warn = code.index("Write-Warning")
    ask = code.index("if (-not $Force)")
    change = code.index("Set-ExecutionPolicy -Scope CurrentUser -ExecutionPolicy Bypass")
    assert warn < ask < change, "the warning is printed and confirmation asked before the policy changes"
    assert "Unblock-File" in code[change:]
    assert "-Scope LocalMachine" not in code, "only the current user's policy may change"
