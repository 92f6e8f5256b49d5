"""One module per pipeline stage; each asset is a thin wrapper around library code."""

from whisper_pipeline.assets.alignments import alignments
from whisper_pipeline.assets.checkpoint import checkpoint
from whisper_pipeline.assets.deduped import deduped
from whisper_pipeline.assets.eval_report import eval_report
from whisper_pipeline.assets.normalized_transcripts import normalized_transcripts
from whisper_pipeline.assets.processed_audio import processed_audio
from whisper_pipeline.assets.promote import production_model
from whisper_pipeline.assets.raw_audio import raw_audio
from whisper_pipeline.assets.splits import splits
from whisper_pipeline.assets.sweep import hyperparameter_sweep

DATA_ASSETS = [raw_audio, deduped, normalized_transcripts, splits, processed_audio, alignments]

__all__ = [
    "DATA_ASSETS",
    "alignments",
    "checkpoint",
    "deduped",
    "eval_report",
    "hyperparameter_sweep",
    "normalized_transcripts",
    "processed_audio",
    "production_model",
    "raw_audio",
    "splits",
]
