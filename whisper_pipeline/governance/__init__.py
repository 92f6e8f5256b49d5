"""Data governance, without Dagster: where the data came from under which licence (``licenses.py``,
``DATA_LICENSES.md``), and removing a source, speaker or files with everything made from them
(``removal.py``). Command line: ``python -m whisper_pipeline.governance licenses | remove SELECTOR``."""
