"""Importing whisper_pipeline opts the process out of its libraries' telemetry (the package's ``__init__``):
ONNX Runtime, which faster-whisper's VAD loads in the service, otherwise writes a device id under ~/.cache and
a ``.ses`` file into TMPDIR, and tries to upload to Microsoft."""

import os
import subprocess
import sys

from whisper_pipeline import TELEMETRY_OPT_OUTS

# ONNX Runtime's telemetry writes from a thread of its own, a moment after the session is made: the child waits
# for the .ses file (up to WAIT_S) before it exits, so that a busy machine cannot hide it
WAIT_S = 20
LOAD_AN_ONNX_MODEL = (
    "import pathlib, tempfile, time, onnxruntime, silero_vad; "
    "model = next(pathlib.Path(silero_vad.__file__).parent.glob('data/*.onnx')); "
    "onnxruntime.InferenceSession(str(model), providers=['CPUExecutionProvider']); "
    "ses, deadline = pathlib.Path(tempfile.gettempdir(), '.ses'), time.time() + WAIT_S\n"
    "while not ses.exists() and time.time() < deadline: time.sleep(0.1)"
).replace("WAIT_S", str(WAIT_S))


# ONNX Runtime stays quiet where these say it runs under CI (CI=true is .ci/run's): the control needs them unset
CI_MARKERS = {"CI", "GITHUB_ACTIONS", "GITLAB_CI", "TF_BUILD", "JENKINS_URL", "BUILDKITE", "CIRCLECI", "TRAVIS"}


def run_python(tmp_path, code: str, **env: str) -> tuple[str, list[str]]:
    """Run ``code`` with a TMPDIR and HOME of its own and none of the opt-outs set; its output and the files
    it left in either."""
    tmp, home = tmp_path / "tmp", tmp_path / "home"
    tmp.mkdir(parents=True, exist_ok=True)
    home.mkdir(exist_ok=True)
    unset = {*TELEMETRY_OPT_OUTS, *CI_MARKERS, "XDG_CACHE_HOME"}
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "TMPDIR": str(tmp), "HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    return out, sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())


def test_onnx_runtime_leaves_nothing_behind_in_a_process_that_imported_the_package(tmp_path):
    _, left = run_python(tmp_path / "plain", LOAD_AN_ONNX_MODEL)
    assert "tmp/.ses" in left, f"the control: ONNX Runtime alone reports and leaves files ({left})"
    _, left = run_python(tmp_path / "ours", "import whisper_pipeline; " + LOAD_AN_ONNX_MODEL)
    assert left == []


def test_a_value_the_user_set_wins(tmp_path):
    show = (
        "import os, whisper_pipeline; print(os.environ['ORT_DISABLE_TELEMETRY'], os.environ['RAY_USAGE_STATS_ENABLED'])"
    )
    assert run_python(tmp_path, show)[0].split() == ["1", "0"]
    assert run_python(tmp_path, show, ORT_DISABLE_TELEMETRY="0")[0].split() == ["0", "0"]


def test_ray_and_the_hugging_face_hub_read_the_opt_outs(tmp_path):
    """The libraries themselves, asked after the import, say their telemetry is off (and on without it)."""
    ask = (
        "import huggingface_hub.constants as hub; from ray._common.usage import usage_lib; "
        "print(hub.HF_HUB_DISABLE_TELEMETRY, usage_lib.usage_stats_enabled())"
    )
    assert run_python(tmp_path, ask)[0].split() == ["False", "True"], "the control: both on by default"
    assert run_python(tmp_path, "import whisper_pipeline; " + ask)[0].split() == ["True", "False"]
