"""Benchmark: alignment and evaluation transcription in batches against one file at a time, in the same run, with
the same model (the real whisper-base by default), in audio seconds per wall second (× real time).

Clips: espeak-ng speech with known word starts (``alignment.accuracy.build_connected_clip``), one to three sentences
each (≈ 3-20 s, the spread of test utterances), Bosnian, Croatian and Serbian (Latin); each language is one batch
job, as the stages run one language at a time.

* alignment: ``align_file`` per file (stable-ts reads the file, the snapping decodes it again: the path before
  batching) against ``align_files`` (each file decoded once, the encoder's first 30 s window of ``--batch-size``
  clips in one pass, longest first). Also: how many words moved by more than 10 ms between the two, and the
  word-start error against the synthesiser's truth for both (``bench/alignment_accuracy.py``'s measure).
* transcription (evaluation's ``WhisperTranscriber``, default guards): one file at a time (``batch_size=1``),
  batches in file order (the path before sorting), batches longest first (``transcribe``). Also: how many texts
  equal the one-at-a-time texts, and the WER of each.

Each method runs ``--rounds`` times, the order reversed every other round, after a warm-up; the best round counts.

    nice -n 10 .venv/bin/python bench/batched_throughput.py --clips 12 --skip transcription
    nice -n 10 .venv/bin/python bench/batched_throughput.py --clips 12 --batch-size 2 --skip alignment
    .venv/bin/python bench/batched_throughput.py --clips 96 --batch-size 16 --device cuda   # on a lent GPU

On a lent GPU machine the real weights and espeak-ng are not there: ``bench/gpu_check.sh`` runs it with
``--random-init base`` (the same computation with random weights: a throughput figure, not an accuracy one) on the
clips ``bench/gpu_kit.py`` saved here (``--clips-from``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

from whisper_pipeline.alignment.accuracy import KnownClip, build_connected_clip, start_errors, summarize
from whisper_pipeline.alignment.align import align_file, align_files, decoded, load_aligner
from whisper_pipeline.evaluation.metrics import score
from whisper_pipeline.evaluation.transcribe import WhisperTranscriber
from whisper_pipeline.models.random_init import save_random_whisper
from whisper_pipeline.models.source import BUILTIN_BASE, resolve_model_source
from whisper_pipeline.sample_data import sentences
from whisper_pipeline.text.transliterate import has_cyrillic
from whisper_pipeline.training.data import load_audio_16k
from whisper_pipeline.workspace import Workspace

LANGUAGES = ("bs", "hr", "sr")
TOLERANCE_S = 0.010


def make_clips(n: int, out: Path) -> list[tuple[str, KnownClip, float]]:
    """``n`` clips (language, clip, seconds), the languages in turn, 1, 2 or 3 sentences each."""
    import soundfile as sf

    clips = []
    for i in range(n):
        lang = LANGUAGES[i % len(LANGUAGES)]
        latin = [s for s in sentences(lang) if not has_cyrillic(s)]
        k = i // len(LANGUAGES)
        text = " ".join(latin[(3 * k + j) % len(latin)] for j in range(1 + k % 3))
        clip = build_connected_clip(text, out / f"{lang}{i}.wav", voice=lang, seed=i)
        clips.append((lang, clip, sf.info(clip.audio).duration))
    return clips


def save_clips(clips, path: Path) -> None:
    """The clips as JSON beside their audio (paths relative to it), for ``--clips-from`` elsewhere."""
    doc = [
        {"language": lang, "audio": Path(c.audio).name, "text": c.text, "words": c.words, "seconds": seconds}
        for lang, c, seconds in clips
    ]
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def load_clips(path: Path) -> list[tuple[str, KnownClip, float]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    return [(d["language"], KnownClip(str(path.parent / d["audio"]), d["text"], d["words"]), d["seconds"]) for d in doc]


def timed(run, device: str) -> tuple[object, float, float]:
    """``run()``'s value, its wall seconds and CPU seconds (this process)."""
    import torch

    cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    value = run()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    wall, cpu1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
    return value, wall, (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)


def by_language(clips):
    groups: dict[str, list[int]] = {}
    for i, (lang, _, _) in enumerate(clips):
        groups.setdefault(lang, []).append(i)
    return groups


def align_one_at_a_time(aligner, clips, out: Path, statuses: Counter, predecode: bool) -> list[list[dict]]:
    """``align_file`` per clip: stable-ts reads the path (with the ffmpeg CLI) and the snapping decodes it again, as
    before batching; with ``predecode`` (where there is no ffmpeg: a lent GPU machine) each clip is decoded once in
    this process first, so this baseline leaves out the decoding the batched path saves."""
    results = [
        align_file(
            aligner,
            clip.audio,
            clip.text,
            lang,
            f"c{i}",
            out / f"c{i}",
            seconds,
            audio=decoded(clip.audio) if predecode else None,
        )
        for i, (lang, clip, seconds) in enumerate(clips)
    ]
    statuses.update(r.status for r in results)
    return [words_of(r) for r in results]


def align_batched(aligner, clips, out: Path, batch_size: int, counts: Counter, statuses: Counter) -> list[list[dict]]:
    words: list[list[dict]] = [[] for _ in clips]
    for lang, idx in by_language(clips).items():
        jobs = [(clips[i][1].audio, clips[i][1].text, f"c{i}", str(out / f"c{i}"), clips[i][2]) for i in idx]
        for i, r in zip(idx, align_files(aligner, jobs, lang, batch_size=batch_size, counts=counts)):
            statuses[r.status] += 1
            words[i] = words_of(r)
    return words


def words_of(result) -> list[dict]:
    if not result.json_path:
        return []
    doc = json.loads(Path(result.json_path).read_text(encoding="utf-8"))
    return [w for s in doc["segments"] for w in s["words"]]


def transcribe_one_at_a_time(transcriber, clips, batch_size: int) -> list[str]:
    texts = [""] * len(clips)
    for lang, idx in by_language(clips).items():
        for i, t in zip(idx, transcriber.transcribe([clips[i][1].audio for i in idx], lang, batch_size=1)):
            texts[i] = t
    return texts


def transcribe_in_file_order(transcriber, clips, batch_size: int) -> list[str]:
    """Evaluation's transcription before sorting: batches of ``batch_size`` files in the order given."""
    texts = [""] * len(clips)
    for lang, idx in by_language(clips).items():
        for k in range(0, len(idx), batch_size):
            part = idx[k : k + batch_size]
            audio = [load_audio_16k(clips[i][1].audio) for i in part]
            for i, t in zip(part, transcriber.transcribe_audio(audio, lang, batch_size)):
                texts[i] = t
    return texts


def transcribe_longest_first(transcriber, clips, batch_size: int) -> list[str]:
    texts = [""] * len(clips)
    for lang, idx in by_language(clips).items():
        for i, t in zip(idx, transcriber.transcribe([clips[i][1].audio for i in idx], lang, batch_size=batch_size)):
            texts[i] = t
    return texts


def best_of(methods: dict, rounds: int, device: str) -> dict[str, tuple[object, float, float]]:
    """Each method's value and its best (wall, CPU) over ``rounds``, the order reversed every other round."""
    best: dict[str, tuple[object, float, float]] = {}
    names = list(methods)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            value, wall, cpu = timed(methods[name], device)
            if name not in best or wall < best[name][1]:
                best[name] = (value, wall, cpu)
    return best


def print_table(title: str, audio_s: float, rows: dict[str, tuple[object, float, float]]) -> None:
    load = os.getloadavg()
    print(f"\n{title}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores\n")
    print("| method | audio s | wall s | × real time | CPU s | vs one at a time |")
    print("|---|---|---|---|---|---|")
    base = None
    for name, (_, wall, cpu) in rows.items():
        base = base or wall
        print(f"| {name} | {audio_s:.0f} | {wall:.1f} | {audio_s / wall:.1f}× | {cpu:.1f} | {base / wall:.2f}× |")


def moved_words(a: list[list[dict]], b: list[list[dict]]) -> tuple[int, int, float, int]:
    """(words moved by more than 10 ms, words compared, largest move in ms, clips whose words differ)."""
    moved, total, largest, differ = 0, 0, 0.0, 0
    for wa, wb in zip(a, b):
        if [w["word"] for w in wa] != [w["word"] for w in wb]:
            differ += 1
            continue
        for x, y in zip(wa, wb):
            d = max(abs(x["start"] - y["start"]), abs(x["end"] - y["end"]))
            total, largest = total + 1, max(largest, d * 1000)
            moved += d > TOLERANCE_S
    return moved, total, largest, differ


def start_error(clips, words: list[list[dict]]) -> str:
    errors: list[float] = []
    for (_, clip, _), w in zip(clips, words):
        errors += start_errors(clip.words, w) or []
    s = summarize(errors)
    return f"mean {s['mean_ms']} ms, median {s['median_ms']} ms, p95 {s['p95_ms']} ms over {s['boundaries']} starts"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=12, help="clips in all (the three languages in turn)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=1, help="timed rounds per method (order reversed every other)")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda on a lent GPU")
    ap.add_argument("--model", default=None, help="a transformers Whisper directory (default: builtin whisper-base)")
    ap.add_argument("--random-init", default="", help="instead: a random-init model of these proportions (base, ...)")
    ap.add_argument("--tokenizer", default="", help="its tokenizer.json (default: the whisper-base package's)")
    ap.add_argument("--clips-from", default="", help="clips.json saved by bench/gpu_kit.py (default: espeak-ng now)")
    ap.add_argument("--skip", choices=["alignment", "transcription"], default=None)
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: per-core figures, steadier on a busy CPU)"
    )
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)

    warnings.filterwarnings("ignore")  # stable-ts' per-file warnings and progress bars are not the point here
    failed_runs = False
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        if args.random_init:
            model = save_random_whisper(out / "model", args.random_init, args.tokenizer or None)
        else:
            model = args.model or resolve_model_source(BUILTIN_BASE, Workspace.at().ensure().models / "base")
        clips = load_clips(Path(args.clips_from))[: args.clips] if args.clips_from else make_clips(args.clips, out)
        audio_s = sum(seconds for _, _, seconds in clips)
        lengths = sorted(seconds for _, _, seconds in clips)
        print(
            f"{len(clips)} clips, {audio_s:.0f} s of audio ({lengths[0]:.1f}-{lengths[-1]:.1f} s), model {model}, "
            f"device {args.device}, batch size {args.batch_size}, {torch.get_num_threads()} torch threads"
            + (f"; RANDOM-INIT whisper-{args.random_init} weights: throughput only" if args.random_init else "")
        )
        if args.device == "cpu":
            print("GPU figures: not measured in this run (no GPU); run with --device cuda where one is lent")
        if args.skip != "alignment":
            aligner = load_aligner(model, args.device)
            warm = clips[:1]
            predecode = shutil.which("ffmpeg") is None
            one_label = "one file at a time (align_file" + (", decoded first: no ffmpeg here)" if predecode else ")")
            align_one_at_a_time(aligner, warm, out / "warm", Counter(), predecode)
            align_batched(aligner, warm, out / "warm-b", args.batch_size, Counter(), Counter())
            counts: Counter = Counter()
            statuses: dict[str, Counter] = {"one": Counter(), "batched": Counter()}
            rows = best_of(
                {
                    one_label: lambda: align_one_at_a_time(aligner, clips, out / "one", statuses["one"], predecode),
                    f"batches of {args.batch_size} (align_files)": lambda: align_batched(
                        aligner, clips, out / "batched", args.batch_size, counts, statuses["batched"]
                    ),
                },
                args.rounds,
                args.device,
            )
            print_table(f"alignment (stable-ts, snapped), {args.device}", audio_s, rows)
            (one, *_), (batched, *_) = rows.values()
            moved, total, largest, differ = moved_words(one, batched)
            print(
                f"\nwords moved > 10 ms: {moved}/{total} (largest {largest:.0f} ms); clips with other words: {differ}"
            )
            print(f"encoder passes of the batched runs: {dict(counts)}")
            print(f"alignment statuses over all rounds: { ({k: dict(v) for k, v in statuses.items()}) }")
            if any(v["failed"] for v in statuses.values()):
                failed_runs = True
            print(f"word-start error vs truth, one at a time: {start_error(clips, one)}")
            print(f"word-start error vs truth, batched:       {start_error(clips, batched)}")
            del aligner
        if args.skip != "transcription":
            transcriber = WhisperTranscriber(model, args.device)
            transcriber.transcribe([clips[0][1].audio], clips[0][0])  # warm-up
            rows = best_of(
                {
                    "one file at a time": lambda: transcribe_one_at_a_time(transcriber, clips, args.batch_size),
                    f"batches of {args.batch_size}, file order": lambda: transcribe_in_file_order(
                        transcriber, clips, args.batch_size
                    ),
                    f"batches of {args.batch_size}, longest first": lambda: transcribe_longest_first(
                        transcriber, clips, args.batch_size
                    ),
                },
                args.rounds,
                args.device,
            )
            print_table(f"evaluation transcription (WhisperTranscriber, guards on), {args.device}", audio_s, rows)
            refs = [clip.text for _, clip, _ in clips]
            base = next(iter(rows.values()))[0]
            for name, (texts, _, _) in rows.items():
                same = sum(a == b for a, b in zip(texts, base))
                print(f"{name}: WER {score(refs, texts)['wer']}, texts equal to one at a time: {same}/{len(clips)}")
    if failed_runs:
        raise SystemExit("some alignments failed (statuses above): the timings above include failures")


if __name__ == "__main__":
    main()
