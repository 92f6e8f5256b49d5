"""Synthesise a small, real BCS speech corpus with espeak-ng, in the pipeline's input layout.

Each speaker is an espeak-ng voice variant with its own rate and pitch and reads its own
sentences, so a speaker-disjoint test split also holds sentences the model never trained on.
Files come in mixed formats, sample rates and channel counts; Bosnian uses an audiofolder
``metadata.csv`` instead of sidecar transcripts. A few deliberately bad files (not audio,
empty, truncated) and one exact duplicate show how the intake reports problems.

Usage: ``python -m whisper_pipeline.sample_data [--uploads DIR] [--speakers 6] [--sentences 10]``.
Existing files are never overwritten.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import tempfile
from pathlib import Path

from tqdm import tqdm

from whisper_pipeline.workspace import LANGUAGES, REPO_ROOT, Workspace

SENTENCES_DIR = REPO_ROOT / "data" / "sample_corpus"
VARIANTS = ["m1", "f2", "m3", "f4", "m7", "f1", "m5", "f3", "m2", "f5", "m4", "m6"]
# (extension, sample rate, channels, extra ffmpeg args)
FORMATS = [
    ("wav", 22050, 1, []),
    ("flac", 44100, 2, []),
    ("mp3", 22050, 1, ["-b:a", "64k"]),
    ("ogg", 48000, 2, ["-c:a", "libvorbis", "-q:a", "4"]),
    ("m4a", 44100, 1, ["-c:a", "aac", "-b:a", "96k"]),
    ("wav", 16000, 1, []),
]
METADATA_LANGUAGES = ("bs",)
CP1250_SPEAKER = ("hr", 1)  # (language, speaker index) whose sidecar transcripts are Windows-1250


def sentences(lang: str) -> list[str]:
    path = SENTENCES_DIR / f"sentences_{lang}.txt"
    return [s.strip() for s in path.read_text(encoding="utf-8").splitlines() if s.strip()]


def speak(text: str, voice: str, rate: int, pitch: int, wav: Path) -> None:
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "-w", str(wav), text],
        check=True,
        capture_output=True,
    )


def _convert(src: Path, dst: Path, rate: int, channels: int, extra: list[str]) -> None:
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-i",
            str(src),
            "-ar",
            str(rate),
            "-ac",
            str(channels),
            *extra,
            str(dst),
        ],
        check=True,
        capture_output=True,
    )


def _write_new(path: Path, data: bytes | str) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))


def generate_corpus(
    uploads: str | Path,
    languages: tuple[str, ...] = LANGUAGES,
    speakers: int = 6,
    sentences_per_speaker: int = 10,
    bad_files: bool = True,
) -> dict:
    """Write the corpus under ``uploads``; returns counts. Safe to re-run (skips existing files)."""
    for tool in ("espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} not found; install it (Debian: apt-get install espeak-ng ffmpeg)")
    uploads = Path(uploads)
    written = 0
    jobs = []
    for li, lang in enumerate(languages):
        texts = sentences(lang)
        if speakers * sentences_per_speaker > len(texts):
            raise ValueError(f"{lang}: {speakers}×{sentences_per_speaker} sentences asked, {len(texts)} available")
        for s in range(speakers):
            variant = VARIANTS[(s + 3 * li) % len(VARIANTS)]
            rate, pitch = 135 + (s * 17) % 50, 30 + (s * 23) % 45
            speaker = f"{lang}_{variant}_s{rate}_p{pitch}"
            fmt = FORMATS[(s + li) % len(FORMATS)]
            own = texts[s::speakers][:sentences_per_speaker]  # distinct sentences per speaker
            for u, text in enumerate(own):
                encoding = "cp1250" if (lang, s) == CP1250_SPEAKER else "utf-8"
                jobs.append((lang, speaker, f"{lang}+{variant}", rate, pitch, fmt, f"utt{u:03d}", text, encoding))

    metadata_rows: dict[str, list[dict]] = {lang: [] for lang in METADATA_LANGUAGES}
    with tempfile.TemporaryDirectory() as tmp:
        for lang, speaker, voice, rate, pitch, (ext, sr, ch, extra), utt, text, encoding in tqdm(
            jobs, desc="espeak-ng corpus", unit="clip"
        ):
            audio = uploads / lang / speaker / f"{utt}.{ext}"
            if lang in METADATA_LANGUAGES:
                metadata_rows[lang].append(
                    {
                        "file_name": f"{speaker}/{utt}.{ext}",
                        "transcription": text,
                        "language": lang,
                        "speaker_id": speaker,
                    }
                )
            else:
                _write_new(audio.with_suffix(".txt"), (text + "\n").encode(encoding))
            if audio.exists():
                continue
            audio.parent.mkdir(parents=True, exist_ok=True)
            wav = Path(tmp) / "speech.wav"
            speak(text, voice, rate, pitch, wav)
            _convert(wav, audio, sr, ch, extra)
            written += 1
    for lang, rows in metadata_rows.items():
        meta = uploads / lang / "metadata.csv"
        if rows and not meta.exists():
            meta.parent.mkdir(parents=True, exist_ok=True)
            with open(meta, "w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=["file_name", "transcription", "language", "speaker_id"])
                writer.writeheader()
                writer.writerows(rows)
    if bad_files and "hr" in languages:
        _write_bad_files(uploads, jobs)
    return {"clips": len(jobs), "written": written, "languages": list(languages), "speakers_per_language": speakers}


def _write_bad_files(uploads: Path, jobs: list) -> None:
    """Every problem the intake must name: not audio, empty, truncated, orphan transcript, audio
    without transcript, a byte-identical copy and a re-encoded copy (other codec, rate, channels)."""
    bad = uploads / "hr" / "hr_bad_uploads"
    _write_new(bad / "not_audio.wav", b"This is a text file pretending to be a WAV.\n")
    _write_new(bad / "not_audio.txt", "Ovo nije zvuk.\n")
    _write_new(bad / "empty.flac", b"")
    _write_new(bad / "empty.txt", "Prazna datoteka.\n")
    _write_new(bad / "orphan.txt", "Transkript bez zvučne datoteke.\n")
    hr_jobs = [j for j in jobs if j[0] == "hr"]
    first, other = hr_jobs[0], next(j for j in hr_jobs if j[1] != hr_jobs[0][1])
    source = uploads / "hr" / first[1] / f"{first[6]}.{first[5][0]}"
    if not source.exists():
        return
    truncated = bad / f"truncated.{first[5][0]}"
    if not truncated.exists():
        data = source.read_bytes()
        _write_new(truncated, data[: len(data) // 2])
        _write_new(truncated.with_suffix(".txt"), first[7] + "\n")
    no_transcript = bad / "no_transcript.wav"
    if not no_transcript.exists():
        speak("Ova snimka nema transkript.", "hr", 160, 50, no_transcript)
    duplicate = source.with_name(f"copy_of_{source.name}")
    _write_new(duplicate, source.read_bytes())
    _write_new(duplicate.with_suffix(".txt"), first[7] + "\n")
    original = uploads / "hr" / other[1] / f"{other[6]}.{other[5][0]}"
    reencoded = original.with_name(f"reencoded_copy_of_{other[6]}.ogg")
    if original.exists() and not reencoded.exists():
        _convert(original, reencoded, 48000, 2, ["-c:a", "libvorbis", "-q:a", "3"])
        _write_new(reencoded.with_suffix(".txt"), (other[7] + "\n").encode(other[8]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", default=None, help="uploads folder (default: the workspace's uploads/)")
    parser.add_argument("--speakers", type=int, default=6)
    parser.add_argument("--sentences", type=int, default=10)
    parser.add_argument("--no-bad-files", action="store_true")
    args = parser.parse_args(argv)
    uploads = Path(args.uploads) if args.uploads else Workspace.at().uploads
    summary = generate_corpus(
        uploads, speakers=args.speakers, sentences_per_speaker=args.sentences, bad_files=not args.no_bad_files
    )
    print(f"sample corpus: {summary['clips']} clips ({summary['written']} new) under {uploads}")


if __name__ == "__main__":
    main()
