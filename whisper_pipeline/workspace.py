"""Where pipeline state lives: one root directory, and the name of every file one stage writes and another reads.

Default root: ``data/workspace`` in the repository; ``WHISPER_PIPELINE_HOME`` overrides it, and the
Dagster ``WorkspaceResource`` can override both. No other module builds a workspace path by hand:
each file has one method or property here, marked with the stage that writes it and the ones that
read it (``layout_table()`` renders those marks; the README's table is checked against it).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LANGUAGES: tuple[str, ...] = ("bs", "hr", "sr")
SPLITS: tuple[str, ...] = ("train", "validation", "test")
REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIGS = REPO_ROOT / "configs"
DEFAULT_HOME = REPO_ROOT / "data" / "workspace"
HOME_ENV_VAR = "WHISPER_PIPELINE_HOME"
RUN_MANIFEST = "run_manifest.json"  # in every packaged run directory (``Workspace.run_manifest``)
RUN_TRAINING_DATA = "training_data.json"  # beside it (``Workspace.run_training_data``)
RUN_CT2 = "ct2"  # a packaged run's CTranslate2 export, a directory beside its weights (``Workspace.run_ct2``)
KARAOKE_LRC = "karaoke.lrc"  # in a file's output directory (``Workspace.file_karaoke``), beside its alignments


def default_root() -> Path:
    return Path(os.environ.get(HOME_ENV_VAR) or DEFAULT_HOME).expanduser().resolve()


@dataclass(frozen=True)
class LanguageParts:
    """A file each language partition writes its own part of, and the combined file over every language
    that is rebuilt from the parts (``data/manifests.py:write_language_part``)."""

    combined: Path
    part_path: Callable[[str], Path]

    def part(self, lang: str) -> Path:
        return self.part_path(lang)

    @property
    def parts(self) -> dict[str, Path]:
        return {l: self.part(l) for l in LANGUAGES}


def shared(writer: str, *readers: str) -> Callable:
    """Marks a layout member as a file (or directory) shared between stages: who writes it, who reads it."""

    def mark(fn: Callable) -> Callable:
        fn.__layout__ = (writer, readers)
        return fn

    return mark


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def at(cls, root: str | Path | None = None) -> Workspace:
        return cls(Path(root).expanduser().resolve() if root else default_root())

    # --- top-level directories -------------------------------------------------------------------

    @property
    def uploads(self) -> Path:
        """The users' audio and transcripts, ``uploads/<lang>/<speaker>/…``: read, never modified."""
        return self.root / "uploads"

    @property
    def manifests(self) -> Path:
        return self.root / "manifests"

    @property
    def processed(self) -> Path:
        return self.root / "processed"

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    def lang_manifests(self, lang: str) -> Path:
        """Per-language manifests: each partition owns its own directory, so parallel runs never collide."""
        return self.manifests / lang

    def language_uploads(self, lang: str) -> Path:
        return self.uploads / lang

    # --- intake: raw_audio, deduped ----------------------------------------------------------------

    @shared("raw_audio", "raw_audio")
    def harvest_archive(self, lang: str) -> Path:
        """yt-dlp's download archive: items already harvested are not fetched again."""
        return self.lang_manifests(lang) / "harvest_archive.txt"

    @shared("raw_audio")
    def harvest_log(self, lang: str) -> Path:
        """One line per harvested item and run (appended)."""
        return self.lang_manifests(lang) / "harvest_log.jsonl"

    @shared("raw_audio", "raw_audio")
    def intake_cache(self, lang: str) -> Path:
        """Checks by content hash and stat, so unchanged files are never decoded twice."""
        return self.lang_manifests(lang) / "intake_cache.json"

    @shared("raw_audio", "deduped", "checks")
    def inventory(self, lang: str) -> Path:
        """Every upload classified (ok / unusable / no transcript …) with its reason and flags."""
        return self.lang_manifests(lang) / "inventory.jsonl"

    @property
    @shared("raw_audio")
    def dataset_inventory_csv(self) -> LanguageParts:
        """The inventory as a table (per language, and combined)."""
        return self._language_parts("dataset_inventory.csv")

    @property
    @shared("raw_audio")
    def dataset_inventory_parquet(self) -> LanguageParts:
        """The same table in Parquet, for corpora too large to browse as CSV."""
        return self._language_parts("dataset_inventory.parquet")

    @shared("deduped", "normalized_transcripts", "deduped")
    def deduped(self, lang: str) -> Path:
        """Usable, transcribed files, duplicates left out."""
        return self.lang_manifests(lang) / "deduped.jsonl"

    @property
    @shared("deduped")
    def validation_report(self) -> LanguageParts:
        """What was rejected and why, duplicates, kept hours."""
        return self._language_parts("validation_report.json")

    @property
    @shared("deduped")
    def dataset_balance(self) -> Path:
        """The balance audit over every language deduped so far, with recommendations."""
        return self.manifests / "dataset_balance.json"

    # --- dataset: normalized_transcripts, splits, processed_audio, alignments -----------------------

    @shared("normalized_transcripts", "splits")
    def normalized(self, lang: str) -> Path:
        """Deduped lines with their training text (``transcript_norm``)."""
        return self.lang_manifests(lang) / "normalized.jsonl"

    @shared("normalized_transcripts", "checks")
    def normalization_report(self, lang: str) -> Path:
        """Fraction normalized (target ≥ 95%), and every failure with its reason."""
        return self.lang_manifests(lang) / "normalization_report.json"

    @shared("normalized_transcripts", "training")
    def normalized_transcript(self, lang: str, file_id: str) -> Path:
        """The training text of one utterance."""
        return self.processed / "transcripts" / lang / f"{file_id}.norm.txt"

    @shared("splits", "splits")
    def split_assignments(self, lang: str) -> Path:
        """Which split each speaker (or fallback group) belongs to: kept as the corpus grows."""
        return self.lang_manifests(lang) / "split_assignments.json"

    @property
    def splits_dir(self) -> Path:
        """The split manifests: ``<split>.jsonl`` (every language) and ``<lang>/<split>.jsonl``."""
        return self.manifests / "splits"

    def split_manifest(self, lang: str, split: str) -> Path:
        return self.splits_dir / lang / f"{split}.jsonl"

    @shared("splits", "processed_audio", "checks")
    def split_manifests(self, split: str) -> LanguageParts:
        """Seeded, speaker-disjoint split manifests per language (``split_manifest``), and combined."""
        return LanguageParts(self.splits_dir / f"{split}.jsonl", lambda l: self.split_manifest(l, split))

    @property
    @shared("splits")
    def run1(self) -> Path:
        """Every split line of every language (the plan's run1 manifest)."""
        return self.manifests / "run1.jsonl"

    @property
    @shared("splits")
    def run1_small(self) -> LanguageParts:
        """A few lines per split and language, for smoke-test training."""
        return self._language_parts("run1_small.jsonl")

    @shared("processed_audio", "processed_audio", "alignments")
    def processed_manifest(self, lang: str, split: str) -> Path:
        """Split lines pointing at the processed audio, durations re-measured; also the reuse cache."""
        return self.manifests / "processed" / lang / f"{split}.jsonl"

    @shared("processed_audio", "processed_audio")
    def processed_audio_dir(self, lang: str) -> Path:
        """16 kHz mono 16-bit audio of every split line (``<file_id>.wav``), VAD-trimmed."""
        return self.processed / "audio" / lang

    def processed_audio(self, lang: str, file_id: str) -> Path:
        return self.processed_audio_dir(lang) / f"{file_id}.wav"

    @shared("retraining", "retraining")
    def prepared_uploads(self, lang: str) -> Path:
        """Fingerprint of the uploads the language's last successful data preparation saw (``retraining.py``):
        the retraining schedule re-runs the data stages of the languages whose uploads changed since."""
        return self.lang_manifests(lang) / "prepared_uploads.json"

    @shared("alignments", "alignments")
    def alignments(self, lang: str) -> Path:
        """One alignment result per processed file (status, reason, paths of its outputs)."""
        return self.lang_manifests(lang) / "alignments.jsonl"

    @shared("alignments", "alignments", "serving")
    def alignment_outputs(self, file_id: str) -> Path:
        """Word timestamps of one file: ``transcription_base.json`` (+ .txt, .srt, .vtt) and ``karaoke.lrc``."""
        return self.outputs / file_id

    # --- serving: the file store (POST /files) and what /process writes ------------------------------

    @property
    @shared("serving", "serving")
    def file_store(self) -> Path:
        """Audio uploaded to the service (``POST /files``), kept once per content; not under ``uploads/``, so
        the intake never takes it for training data."""
        return self.root / "files"

    @property
    @shared("serving", "serving")
    def file_store_index(self) -> Path:
        """The stored uploads by ``file_id`` (their SHA-256): original name, bytes, duration, format, when stored."""
        return self.file_store / "index.json"

    @property
    @shared("serving", "serving")
    def file_store_incoming(self) -> Path:
        """Uploads being received and checked; moved into the store once they decode as audio, else deleted."""
        return self.file_store / "incoming"

    @shared("serving", "serving")
    def stored_audio(self, file_id: str) -> Path:
        """One stored upload, byte for byte, named by its SHA-256 (``file_id``)."""
        return self.file_store / "audio" / file_id

    @shared("serving")
    def file_transcription(self, file_id: str, model: str) -> Path:
        """``POST /process/whisper/<file_id>``'s answer (text, segments, word timestamps) per model."""
        return self.alignment_outputs(file_id) / f"transcription_{model}.json"

    @shared("serving")
    def file_alignment(self, file_id: str, model: str) -> Path:
        """``POST /process/align/<file_id>``'s answer (a given text placed word by word) per model."""
        return self.alignment_outputs(file_id) / f"alignment_{model}.json"

    @shared("alignments", "serving")
    def file_karaoke(self, file_id: str) -> Path:
        """Enhanced LRC of a file's latest alignment or transcription (``GET /files/<file_id>/lrc``)."""
        return self.alignment_outputs(file_id) / KARAOKE_LRC

    @shared("alignments", "checkpoint")
    def segment_audio(self, lang: str, segment_id: str) -> Path:
        """Segments of at most 30 s cut from longer recordings at word boundaries."""
        return self.processed / "segments" / lang / f"{segment_id}.wav"

    @shared("alignments", "checkpoint", "eval_report", "hyperparameter_sweep")
    def training_manifest(self, lang: str, split: str) -> Path:
        """Lines ready for training and evaluation: processed lines of at most 30 s, plus the
        segments cut from longer recordings (written by the ``alignments`` asset)."""
        return self.manifests / "training" / lang / f"{split}.jsonl"

    def ready_manifest(self, lang: str, split: str) -> Path:
        """The training manifest when it exists, else the processed one."""
        path = self.training_manifest(lang, split)
        return path if path.is_file() else self.processed_manifest(lang, split)

    # --- models: checkpoint, hyperparameter_sweep, production_model --------------------------------

    @property
    @shared("base_model", "checkpoint", "eval_report", "serving")
    def base_model_dir(self) -> Path:
        """The base model converted to ``transformers`` format (from the built-in CTranslate2 weights)."""
        return self.models / "base"

    @property
    @shared("checkpoint", "serving")
    def processor_dir(self) -> Path:
        """The base model's feature extractor and tokenizer, saved once for training."""
        return self.models / "processor"

    @property
    def runs_dir(self) -> Path:
        return self.models / "whisper"

    @shared("checkpoint", "eval_report", "production_model", "serving")
    def run_dir(self, run: str) -> Path:
        """A packaged training run: the best model, its processor, ``run_manifest.json``, model card."""
        return self.runs_dir / run

    @shared("checkpoint", "serving")
    def run_manifest(self, run: str) -> Path:
        """What a run was trained on and with (data hashes, settings, code version, hardware)."""
        return self.run_dir(run) / RUN_MANIFEST

    @shared("checkpoint", "governance", "data_licenses")
    def run_training_data(self, run: str) -> Path:
        """What a run's data came from: utterances and seconds per language and source, and the SHA-256 of
        every source recording (so a removal knows which models were trained on what it removes)."""
        return self.run_dir(run) / RUN_TRAINING_DATA

    @shared("production_model", "serving")
    def run_ct2(self, run: str) -> Path:
        """A run's CTranslate2 (faster-whisper) export: written when the run is promoted (or by training with
        ``ct2_export``); the service decodes with it when it is there."""
        return self.run_dir(run) / RUN_CT2

    @property
    @shared("checkpoint", "eval_report", "production_model", "serving")
    def latest_run_marker(self) -> Path:
        """The name of the run trained last."""
        return self.runs_dir / "LATEST"

    @shared("checkpoint", "checkpoint")
    def training_job(self, run: str) -> Path:
        """The job the ``accelerate launch`` process reads: manifests, settings, device."""
        return self.logs / "training" / f"{run}.job.json"

    @shared("checkpoint")
    def training_log(self, run: str) -> Path:
        """The trainer's step-by-step log."""
        return self.logs / "training" / f"{run}.log"

    @property
    @shared("hyperparameter_sweep", "hyperparameter_sweep")
    def sweeps_db(self) -> Path:
        """Optuna's SQLite storage: the same study name resumes."""
        return self.manifests / "sweeps.db"

    @shared("hyperparameter_sweep")
    def sweep_dir(self, study: str) -> Path:
        """The trials' short training runs."""
        return self.models / "sweeps" / study

    @shared("hyperparameter_sweep")
    def sweep_results(self, study: str) -> Path:
        """Every trial: state, score and parameters."""
        return self.manifests / f"sweep_{study}.csv"

    @shared("hyperparameter_sweep", "checkpoint")
    def sweep_best(self, study: str) -> Path:
        """The best trial's parameters, which ``checkpoint``'s ``sweep_study`` applies."""
        return self.manifests / f"sweep_{study}_best.json"

    @property
    @shared("production_model", "eval_report", "serving")
    def registry(self) -> Path:
        """Which run is in production, and every promotion."""
        return self.models / "registry.json"

    # --- governance: data_licenses, removals ------------------------------------------------------------

    @property
    @shared("data_licenses")
    def data_licenses(self) -> Path:
        """Per source: URL, channel/uploader, licence, language, files, hours, first/last download, and the
        runs trained on it; generated from the provenance sidecars (``python -m whisper_pipeline.governance``)."""
        return self.root / "DATA_LICENSES.md"

    @property
    @shared("governance", "raw_audio", "governance")
    def removals(self) -> Path:
        """One JSON line per removal: selector, reason, time, files, manifest lines, affected runs, and the
        content hashes, sources and paths the intake must not take back."""
        return self.manifests / "removals.jsonl"

    # --- evaluation: eval_report ---------------------------------------------------------------------

    @shared("eval_report", "production_model", "checks", "serving")
    def evaluation(self, run: str) -> LanguageParts:
        """WER/CER of a run (and the models it was compared with) per language; combined ``eval_<run>.json``."""
        return LanguageParts(self.manifests / f"eval_{run}.json", lambda l: self.manifests / "eval" / run / f"{l}.json")

    @property
    @shared("eval_report", "checks")
    def last_evaluated_marker(self) -> Path:
        """The run evaluated last: what the gate checks judge."""
        return self.manifests / "eval" / "LAST_EVALUATED"

    @property
    @shared("alert_on_run_failure")
    def alerts_log(self) -> Path:
        """One JSON line per failed Dagster run: run id, job, partition, failed steps, error, time."""
        return self.logs / "alerts.jsonl"

    @shared("bench", "bench")
    def bench_cache(self, bench: str) -> Path:
        """A benchmark's cache (``bench/<bench>.py``): what it computed, kept so a re-run redoes only what
        changed (e.g. ``augmentation_effect``: degraded test audio and one evaluation per model and condition)."""
        return self.root / "bench" / bench

    @shared("eval_report")
    def report_dir(self, run: str) -> Path:
        """The evaluation dashboard: ``index.html`` and ``summary.png``."""
        return self.reports / run

    # --- review_queue: drafts of transcript-less audio, and pseudo-labels --------------------------------

    @shared("review_queue", "review_queue")
    def review_drafts(self, lang: str) -> Path:
        """Drafts of the language's transcript-less audio by content hash and model, with their confidence
        measures: a file already drafted by the same model is not transcribed again."""
        return self.lang_manifests(lang) / "review_drafts.json"

    @shared("review_queue", "checkpoint")
    def review_queue(self, lang: str) -> Path:
        """Transcript-less audio, least confident draft first: score, measures, draft, and the sidecar
        ``.txt`` path where the corrected transcript goes (read by ``checkpoint`` for pseudo-labels)."""
        return self.lang_manifests(lang) / "review_queue.csv"

    @shared("review_queue")
    def review_page(self, lang: str) -> Path:
        """The review queue as one self-contained page: audio players, drafts, where to save corrections."""
        return self.lang_manifests(lang) / "review_queue.html"

    @shared("checkpoint")
    def pseudo_label_manifest(self, lang: str) -> Path:
        """Confident drafts used as training lines (``pseudo_label: true``), when ``checkpoint``'s
        ``pseudo_labels`` is on."""
        return self.manifests / "training" / lang / "pseudo_labels.jsonl"

    @shared("checkpoint")
    def pseudo_label_audio(self, lang: str, file_id: str) -> Path:
        """16 kHz mono audio of one pseudo-labelled file (training reads only 16 kHz)."""
        return self.processed / "pseudo_labels" / lang / f"{file_id}.wav"

    def ensure(self) -> Workspace:
        for d in (self.uploads, self.manifests, self.processed, self.outputs, self.models, self.reports, self.logs):
            d.mkdir(parents=True, exist_ok=True)
        return self

    def _language_parts(self, name: str) -> LanguageParts:
        return LanguageParts(self.manifests / name, lambda l: self.lang_manifests(l) / name)


def layout_table() -> list[dict[str, Any]]:
    """Every shared workspace file: its path pattern (``<lang>``, ``<run>`` … for the varying parts),
    the stage that writes it, the ones that read it, and what it is."""
    ws = Workspace(Path("/<root>"))
    rows = []
    for name, member in vars(Workspace).items():
        fn = member.fget if isinstance(member, property) else member
        if not hasattr(fn, "__layout__"):
            continue
        params = list(inspect.signature(fn).parameters)[1:]
        value = fn(ws, *(f"<{p}>" for p in params))
        paths = [value.part("<lang>"), value.combined] if isinstance(value, LanguageParts) else [value]
        shown = [str(p.relative_to(ws.root)) for p in paths]
        writer, readers = fn.__layout__
        rows.append(
            {
                "name": name,
                "path": " + ".join(shown),
                "writer": writer,
                "readers": [f"{r} (next run)" if r == writer else r for r in readers],
                "about": inspect.getdoc(fn) or "",
            }
        )
    return rows


def layout_markdown() -> str:
    """The README's table of shared workspace files (``python -m whisper_pipeline.workspace``)."""
    lines = ["| file (under the workspace root) | written by | read by | what it is |", "|---|---|---|---|"]
    for row in layout_table():
        about = " ".join(row["about"].split()).replace("|", "\\|")
        path = " + ".join(f"`{p}`" for p in row["path"].split(" + "))
        readers = ", ".join(f"`{r}`" for r in row["readers"]) or "—"
        lines.append(f"| {path} | `{row['writer']}` | {readers} | {about} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(layout_markdown(), end="")
