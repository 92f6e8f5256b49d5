# whisper-pipeline: `make demo` runs the whole graph on the sample corpus; `make test` runs the tests.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo lint test test-fast dev serve validate doctor lock clean-workspace

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock scripts/setup.sh
	bash scripts/setup.sh
	touch $@

demo: setup
	$(PY) -m whisper_pipeline.demo

lint: setup
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

test: lint
	$(VENV)/bin/pytest

test-fast: setup
	$(VENV)/bin/pytest -m "not slow"

validate: setup
	$(VENV)/bin/dagster definitions validate -w workspace.yaml

dev: setup
	DAGSTER_HOME=$$($(PY) -m whisper_pipeline.instance) \
		$(VENV)/bin/dagster dev -w workspace.yaml

serve: setup
	$(PY) -m whisper_pipeline.serving

.PHONY: planning
planning: setup  # PLANNING.md from bench/measured.yaml and configs/train/
	$(PY) -m whisper_pipeline.planning --write

# The smoke check: Python, torch/CUDA/GPU, ffmpeg, espeak-ng, the base model's digest, the workspace, the instance.
doctor: setup
	$(PY) -m whisper_pipeline.doctor

# Re-compile requirements.lock from pyproject.toml (existing pins kept; UPGRADE=1 moves all to the newest allowed).
# Order-only: a stale lock must not force a set-up from it first.
lock: | $(STAMP)
	$(PY) -m whisper_pipeline.lockfile $(if $(UPGRADE),--upgrade)

clean-workspace:
	@echo "This deletes data/workspace (generated data, models, Dagster history). Ctrl-C to stop."; sleep 3
	rm -rf data/workspace
