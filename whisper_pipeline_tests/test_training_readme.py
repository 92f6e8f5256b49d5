"""WHISPER_TRAINING_README.md stays true: every dagster command it gives names existing assets, jobs and config
files, its run config validates against the job it launches, and the thresholds it states are the code's."""

import re
import shlex
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._cli.workspace.cli_target import get_run_config_from_file_list

from whisper_pipeline.assets import DATA_ASSETS
from whisper_pipeline.audio.inspect import MAX_SOURCE_DURATION_S, MAX_TRAIN_DURATION_S, MIN_DURATION_S
from whisper_pipeline.data.inventory import IntakeRules
from whisper_pipeline.definitions import defs
from whisper_pipeline.evaluation.gates import GateSettings
from whisper_pipeline.planning import load_measured
from whisper_pipeline.text.normalize import TARGET_FRACTION
from whisper_pipeline.training.settings import TrainSettings
from whisper_pipeline.workspace import LANGUAGES

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "WHISPER_TRAINING_README.md"
COMMAND = re.compile(r"(?:\.venv/bin/dagster|\.venv\\Scripts\\dagster\.exe) (?:asset materialize|job execute)[^`\n]*")
JOB_OF = {
    **{asset.key.to_user_string(): "data_prep_job" for asset in DATA_ASSETS},
    "checkpoint": "training_job",
    "eval_report": "evaluation_job",
    "hyperparameter_sweep": "sweep_job",
    "production_model": "promotion_job",
}


def commands(text: str) -> list[list[str]]:
    """Every dagster command in the document (bash and PowerShell spellings), split into arguments."""
    return [shlex.split(match.replace("\\", "/")) for match in COMMAND.findall(text)]


def option(args: list[str], *names: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a in names]


def user_file(text: str, name: str, tmp_path: Path) -> Path:
    """A config file the document asks the reader to write (the YAML block right after its name)."""
    found = re.search(rf"`{re.escape(name)}`:\s*\n+```yaml\n(.*?)```", text, re.S)
    assert found, f"{DOC.name}: `{name}` is used in a command but its contents are not given"
    path = tmp_path / name
    path.write_text(found.group(1))
    return path


@pytest.fixture(scope="module")
def text() -> str:
    return DOC.read_text(encoding="utf-8")


def test_commands_name_existing_files_and_valid_config(text, tmp_path):
    found = commands(text)
    assert len(found) >= 8, found
    for args in found:
        where = f"{DOC.name}: {' '.join(args)}"
        assert option(args, "-m") == ["whisper_pipeline.definitions"], where
        if "job" in args[1:3]:
            (job_name,) = option(args, "-j")
        else:
            (selection,) = option(args, "--select")
            jobs = {JOB_OF.get(asset) for asset in selection.split(",")}
            assert None not in jobs, f"{where}: unknown asset in {selection}"
            assert len(jobs) == 1, f"{where}: assets of different jobs"
            (job_name,) = jobs
        for partition in option(args, "--partition"):
            assert partition in LANGUAGES, where
        files = []
        for name in option(args, "-c", "--config"):
            path = REPO / name
            if not path.exists() and "/" not in name:
                path = user_file(text, name, tmp_path)
            assert path.is_file(), f"{where}: {name} does not exist"
            files.append(str(path))
        config = get_run_config_from_file_list(files) if files else {}
        result = dg.validate_run_config(defs.resolve_job_def(job_name), config)
        assert result, where


def test_every_preset_has_its_command_and_row(text):
    launched = {Path(c).name for args in commands(text) for c in option(args, "-c")}
    presets = sorted((REPO / "configs" / "train").glob("*.yaml"))
    assert presets
    for preset in presets:
        assert preset.name in launched, f"{DOC.name}: no training command for {preset.name}"
        doc = yaml.safe_load(preset.read_text())
        settings = TrainSettings.from_dict(doc["ops"]["checkpoint"]["config"])
        row = next(line for line in text.splitlines() if line.startswith(f"| `{preset.name}` |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == f"`{doc['resources']['base_model']['config']['source']}`", row
        epochs = f"{settings.max_steps} steps (`max_steps`)" if settings.max_steps > 0 else f"{settings.epochs:g}"
        assert cells[2] == epochs, row
        assert float(cells[3]) == settings.learning_rate, row
        assert cells[4] == f"{settings.batch_size} × {settings.gradient_accumulation_steps}", row
        assert cells[5].split(" ")[0] == settings.precision, row


def test_turbo_override_takes_precedence(text, tmp_path):
    """The last ``-c`` file wins, as the document says (``--help`` says the first)."""
    assert "-c configs/train/large-v3-gpu.yaml -c turbo.yaml" in text
    turbo = user_file(text, "turbo.yaml", tmp_path)
    config = get_run_config_from_file_list([str(REPO / "configs/train/large-v3-gpu.yaml"), str(turbo)])
    assert config["resources"]["base_model"]["config"]["source"] == "openai/whisper-large-v3-turbo"
    assert config["ops"]["checkpoint"]["config"]["gradient_checkpointing"] is True


def test_stated_thresholds_are_the_code_defaults(text):
    gates, rules, measured = GateSettings(), IntakeRules(), load_measured()["measured"]
    expected = [
        f"`wer_ceiling`: {gates.wer_ceiling}",
        f"`regression_margin`: {gates.regression_margin}",
        f"`cer_regression_margin`: {gates.cer_regression_margin}",
        "**evaluation normalizer `EvalNormalizer`**",
        f"At least {TARGET_FRACTION:.0%} of a language's transcripts",
        f"fewer than {rules.min_chars_per_second:g} or more than {rules.max_chars_per_second:g} characters",
        f"shorter than {MIN_DURATION_S:g} s",
        f"longer than {MAX_SOURCE_DURATION_S / 3600:g} h",
        f"longer than {MAX_TRAIN_DURATION_S:g} s",
        f"{measured['gpu_train_base']['value']} samples/s",
        f"about {measured['feature_extraction_per_core']['value']} samples/s per core",
    ]
    missing = [phrase for phrase in expected if phrase not in " ".join(text.split())]
    assert not missing, f"{DOC.name} does not state the code's values: {missing}"
    assert gates.wer_ceiling_per_language == {}, "the document says the ceiling is the same for every language"


def test_documents_it_names_exist(text):
    for path in ("PLANNING.md", "README.md", "configs/sources.yaml", "configs/augment.yaml", "configs/dagster.yaml"):
        assert (REPO / path).is_file(), path
    for module in ("training/settings.py", "evaluation/gates.py", "text/normalize.py", "training/package.py"):
        assert f"`{module}`" in text and (REPO / "whisper_pipeline" / module).is_file(), module
