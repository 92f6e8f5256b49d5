"""Benchmark: how often the service's automatic language identification (Whisper's language token,
restricted to bs/hr/sr) picks the right language, for a trained model against the base model, on
the workspace's test split. Run ``make demo`` (or the pipeline) first.

    .venv/bin/python bench/language_id.py [--model production] [--baseline base]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from whisper_pipeline.data.manifests import read_lines
from whisper_pipeline.serving.catalog import ModelCatalog
from whisper_pipeline.serving.engine import TranscriptionEngine
from whisper_pipeline.training.data import load_audio_16k
from whisper_pipeline.workspace import LANGUAGES, Workspace


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="", help="run name or alias; empty = the service's default")
    ap.add_argument("--baseline", default="base")
    args = ap.parse_args()
    ws = Workspace.at()
    catalog = ModelCatalog(ws)
    lines = [
        l
        for lang in LANGUAGES
        if ws.training_manifest(lang, "test").is_file()
        for l in read_lines(ws.training_manifest(lang, "test"))
    ]
    if not lines:
        raise SystemExit(f"no test split ({ws.training_manifest('<lang>', 'test')}): run `make demo` first")
    audio = {l.id: load_audio_16k(l.audio) for l in lines}
    engine = TranscriptionEngine("cpu", max_loaded=1)
    rows = []
    for label, model_id in (("baseline", args.baseline), ("model", args.model)):
        resolved, path = catalog.resolve(model_id or None)
        started = time.perf_counter()
        guesses = {l.id: engine.detect_language(path, audio[l.id]) for l in lines}
        elapsed = time.perf_counter() - started
        picked = {i: max(p, key=p.get) for i, p in guesses.items()}
        per_lang = {lang: [picked[l.id] == lang for l in lines if l.language == lang] for lang in LANGUAGES}
        confusion = Counter((l.language, picked[l.id]) for l in lines)
        rows.append(
            (
                f"{label} ({resolved})",
                sum(picked[l.id] == l.language for l in lines) / len(lines),
                {k: (sum(v) / len(v) if v else None) for k, v in per_lang.items()},
                confusion,
                elapsed / len(lines),
            )
        )

    print(f"\n{len(lines)} test clips; chance = 0.33")
    print(f"{'model':<28} {'accuracy':>8} " + " ".join(f"{l:>6}" for l in LANGUAGES) + f" {'ms/clip':>8}")
    for name, acc, per, _, sec in rows:
        cells = " ".join(f"{per[l]:>6.2f}" if per[l] is not None else f"{'-':>6}" for l in LANGUAGES)
        print(f"{name:<28} {acc:>8.2f} {cells} {sec * 1000:>8.0f}")
    for name, _, _, confusion, _ in rows:
        print(f"{name} said (true → guessed): " + ", ".join(f"{t}→{g} {n}" for (t, g), n in sorted(confusion.items())))


if __name__ == "__main__":
    main()
