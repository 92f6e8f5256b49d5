"""No credentials in the repository: detect-secrets (default plugins and filters) over every git-tracked file.

Verified false positives live in ``.secrets.baseline`` (detect-secrets' own format, each entry audited
``is_secret: false``): the SHA-256 digests of the packaged whisper-base files, a preprocess-key fixture and moto's
dummy ``testing`` credentials. After checking a new finding is not a secret:
``detect-secrets scan --baseline .secrets.baseline`` then ``detect-secrets audit .secrets.baseline``.
Secrets come from the environment only; ``.env.example`` lists every variable the package reads.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from pathlib import Path

from detect_secrets import SecretsCollection
from detect_secrets.settings import default_settings

from whisper_pipeline.workspace import REPO_ROOT

BASELINE = REPO_ROOT / ".secrets.baseline"
# Read or set by the package, but process plumbing rather than configuration (torch/accelerate/Dagster set them).
INTERNAL_VARIABLES = {
    "RANK",
    "LOCAL_RANK",
    "DAGSTER_PIPES_CONTEXT",
    "TENSORBOARD_LOGGING_DIR",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",  # set for the workers, not a setting
}


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    return [f for f in out.split("\0") if f and (REPO_ROOT / f).is_file() and REPO_ROOT / f != BASELINE]


def findings(root: Path, files: list[str]) -> list[str]:
    """``file:line: type`` for every potential secret not in the audited baseline."""
    found = SecretsCollection(root=str(root))
    with default_settings():
        for name in files:
            found.scan_file(name)
    allowed = SecretsCollection.load_from_baseline(json.loads(BASELINE.read_text()))
    allowed_keys = {(name, s.secret_hash, s.type) for name, s in allowed}
    return sorted(
        f"{name}:{s.line_number}: {s.type}" for name, s in found if (name, s.secret_hash, s.type) not in allowed_keys
    )


def test_no_credentials_in_tracked_files():
    files = tracked_files()
    assert len(files) > 100 and "whisper_pipeline/definitions.py" in files
    problems = findings(REPO_ROOT, files)
    assert not problems, (
        "possible credentials in tracked files (move them to the environment; if verified false positives, "
        "add them to .secrets.baseline):\n" + "\n".join(problems)
    )


def test_the_baseline_holds_only_audited_false_positives():
    results = json.loads(BASELINE.read_text())["results"]
    for name, entries in results.items():
        for entry in entries:
            assert entry.get("is_secret") is False, f".secrets.baseline: {name}:{entry['line_number']} is not audited"


def test_a_planted_key_is_reported_with_its_file_and_line(tmp_path):
    key_id = "AKIA" + "QX7Z3KD2" + "LMP4WV9B"  # built here, so this file holds no key
    secret = base64.b64encode(os.urandom(30)).decode()
    (tmp_path / "settings.py").write_text(f'REGION = "eu-central-1"\nAWS_KEY_ID = "{key_id}"\n')
    (tmp_path / "deploy.env").write_text(f"AWS_SECRET_ACCESS_KEY={secret}\n")
    problems = findings(tmp_path, ["settings.py", "deploy.env"])
    assert "settings.py:2: AWS Access Key" in problems
    assert any(p.startswith("deploy.env:1: ") for p in problems), problems


def test_env_example_lists_every_variable_the_package_reads():
    pattern = re.compile(
        r"""(?:environ\.get\(|environ\[|getenv\(|EnvVar\()\s*["']([A-Z][A-Z0-9_]+)["']"""
        r"""|^\w*_ENV(?:_VAR)?\w*\s*(?::\s*str\s*)?=\s*["']([A-Z][A-Z0-9_]+)["']""",
        re.M,
    )
    read: dict[str, str] = {}
    for path in sorted((REPO_ROOT / "whisper_pipeline").rglob("*.py")):
        for match in pattern.finditer(path.read_text(encoding="utf-8")):
            read.setdefault(match.group(1) or match.group(2), str(path.relative_to(REPO_ROOT)))
    assert {"WHISPER_PIPELINE_HOME", "WHISPER_PIPELINE_COOKIES_FILE", "AWS_ENDPOINT_URL"} <= set(read)
    example = (REPO_ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, re.M))
    missing = {name: where for name, where in read.items() if name not in listed | INTERNAL_VARIABLES}
    assert not missing, f".env.example does not list {missing} (variable: the file that reads it)"
