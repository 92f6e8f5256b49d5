"""whisper-pipeline: BCS speech to a fine-tuned Whisper, its evaluation and a transcription service.

Importing the package opts the process, and the workers and tools it starts, out of the telemetry that its
libraries send by default: ONNX Runtime ≥ 1.32 on Linux uploads process, model and device details to Microsoft,
keeps a device id under ~/.cache/Microsoft and drops a ``.ses`` file in TMPDIR; Ray reports cluster usage;
the Hugging Face hub counts downloads. A pipeline over private speech sends nothing anywhere it was not told to.
A value already in the environment wins (set ``ORT_DISABLE_TELEMETRY=0`` to let ONNX Runtime report)."""

import os

TELEMETRY_OPT_OUTS = {"ORT_DISABLE_TELEMETRY": "1", "RAY_USAGE_STATS_ENABLED": "0", "HF_HUB_DISABLE_TELEMETRY": "1"}
for _name, _value in TELEMETRY_OPT_OUTS.items():
    os.environ.setdefault(_name, _value)
