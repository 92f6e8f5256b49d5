"""Pack what ``bench/gpu_check.sh`` needs on a lent GPU machine into ``.gpu_kit/`` (git-ignored; the device tool
carries it): the real multilingual tokenizer, espeak-ng clips for both benches as 16 kHz mono WAV (read there
without ffmpeg or PyAV), and wheels (CPython 3.12, manylinux x86_64: the machine's Python) of the packages the
benches import that the machine's image lacks, or holds at another version than ``requirements.lock``. The
machine reaches no network and takes 64 MiB with the repository: the kit checks its size.

    .venv/bin/python bench/gpu_kit.py     # here, once (~2 min; pip reaches PyPI)
    # then, on a lent device: run(command="bash bench/gpu_check.sh", carry=[".gpu_kit"], timeout_s=590)
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from batched_throughput import make_clips, save_clips
from training_throughput import make_rows

from whisper_pipeline.data.manifests import write_lines
from whisper_pipeline.models.random_init import packaged_tokenizer
from whisper_pipeline.workspace import REPO_ROOT

KIT = REPO_ROOT / ".gpu_kit"
LIMIT = 60 * 2**20  # of the device tool's 64 MiB, with the repository (~3 MB)
# What the benches import (traced on CPU: both benches from a kit) that the H200 image lacks (its package list,
# /work/.library/device/KINDS.md, 2026-11-17), or holds at another version that our code is tested against
# (transformers 5.17 and huggingface-hub 1.x there; regex and tokenizers of unknown versions, which transformers
# checks as it is imported). Binary ones come as cp312 wheels; pure-Python ones built here when PyPI has only a
# source archive (openai-whisper).
CARRIED = (
    "transformers",
    "huggingface-hub",
    "datasets",
    "dill",
    "multiprocess",
    "soundfile",
    "soxr",
    "stable-ts",
    "openai-whisper",
    "more-itertools",
    "jiwer",
    "rapidfuzz",
    "regex",
    "tokenizers",
    "cffi",
    "pycparser",
    "httpx2",
    "httpcore2",
    "truststore",
    "sniffio",
)
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64")


def locked_version(name: str) -> str:
    text = (REPO_ROOT / "requirements.lock").read_text(encoding="utf-8")
    m = re.search(rf"^{re.escape(name)}==([^\s\\]+)", text, re.MULTILINE | re.IGNORECASE)
    if not m:
        raise SystemExit(f"requirements.lock has no {name}: add it to CARRIED's source or drop it")
    return m.group(1)


def fetch_wheel(name: str, out: Path) -> None:
    """A cp312 manylinux (or pure-Python) wheel of the locked version; built from source when PyPI has none."""
    spec = f"{name}=={locked_version(name)}"
    download = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(out)]
    download += ["--python-version", "3.12", "--implementation", "cp"]
    for platform in PLATFORMS:
        download += ["--platform", platform]
    if subprocess.run([*download, spec], capture_output=True).returncode == 0:
        return
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), spec], capture_output=True, text=True
    )
    if built.returncode != 0:
        raise SystemExit(f"no wheel for {spec}: {built.stderr.strip()[-500:]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--align-clips", type=int, default=48, help="clips for the alignment bench (3 languages in turn)")
    ap.add_argument("--train-clips", type=int, default=6, help="training clips per language")
    ap.add_argument("--out", default=str(KIT), help="the kit's folder (replaced)")
    ap.add_argument("--no-wheels", action="store_true", help="clips and tokenizer only (a machine that has the rest)")
    args = ap.parse_args()
    kit = Path(args.out)
    if kit.exists() and any(kit.iterdir()) and not (kit / "tokenizer.json").exists():
        raise SystemExit(f"{kit} holds something other than a kit: not replacing it")
    shutil.rmtree(kit, ignore_errors=True)
    (kit / "wheels").mkdir(parents=True)
    shutil.copy(packaged_tokenizer(), kit / "tokenizer.json")
    align = kit / "align"
    align.mkdir()
    save_clips(make_clips(args.align_clips, align), align / "clips.json")
    train = kit / "train"
    train.mkdir()
    with tempfile.TemporaryDirectory() as tmp:
        rows = make_rows(Path(tmp), args.train_clips, 3)
        for r in rows:
            shutil.move(r.audio, train / Path(r.audio).name)
    write_lines(train / "manifest.jsonl", [replace(r, audio=Path(r.audio).name) for r in rows])
    for name in () if args.no_wheels else CARRIED:
        fetch_wheel(name, kit / "wheels")
    size = sum(p.stat().st_size for p in kit.rglob("*") if p.is_file())
    print(f"{kit}: {size / 2**20:.1f} MiB ({len(list((kit / 'wheels').iterdir()))} wheels)")
    if size > LIMIT:
        raise SystemExit(f"the kit is {size / 2**20:.1f} MiB: over {LIMIT / 2**20:.0f} MiB, it would not travel")


if __name__ == "__main__":
    main()
