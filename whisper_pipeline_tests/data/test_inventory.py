import os
import shutil

from whisper_pipeline.data.discovery import discover, find_orphan_transcripts
from whisper_pipeline.data.inventory import IntakeCache, IntakeRules, build_inventory
from whisper_pipeline.data.validation import validate_and_dedupe
from whisper_pipeline.sample_data import sentences
from whisper_pipeline_tests.conftest import espeak_wav, tree_digest


def inventory(uploads, lang, cache_path, rules=None):
    items, _ = discover(uploads, lang)
    cache = IntakeCache(cache_path)
    rows = build_inventory(items, uploads, cache, rules, find_orphan_transcripts(uploads, lang, items))
    cache.save()
    return rows, cache


def test_every_problem_named_both_duplicates_found_good_files_kept(tiny_corpus, tmp_path):
    """The issue's acceptance corpus: mixed formats and rates, a byte-identical and a re-encoded copy, a
    non-audio, an empty and a truncated file, an orphan transcript, audio without transcript, cp1250 text."""
    uploads = tmp_path / "uploads"
    shutil.copytree(tiny_corpus, uploads)
    before = tree_digest(uploads)
    rows, _ = inventory(uploads, "hr", tmp_path / "cache.json")
    by_name = {r["filename"].split("/", 1)[1]: r for r in rows}
    expected = {
        "hr_bad_uploads/not_audio.wav": "undecodable",
        "hr_bad_uploads/empty.flac": "empty",
        "hr_bad_uploads/truncated.flac": "truncated",
        "hr_bad_uploads/orphan.txt": "orphan_transcript",
        "hr_bad_uploads/no_transcript.wav": "no_transcript",
    }
    for name, code in expected.items():
        assert by_name[name]["status"] == "unusable" and by_name[name]["reason_code"] == code, name
    exact = [r for r in rows if r["duplicate_kind"] == "exact"]
    reencoded = [r for r in rows if r["duplicate_kind"] == "re-encoded"]
    assert [r["filename"].rsplit("/", 1)[1] for r in exact] == ["copy_of_utt000.flac"], "the older original is kept"
    assert [r["filename"].rsplit("/", 1)[1] for r in reencoded] == ["reencoded_copy_of_utt000.ogg"]
    assert {r["sample_rate"] for r in rows if r["status"] == "ok"} >= {22050, 44100}
    cp1250 = [r for r in rows if r["transcript_encoding"] == "cp1250"]
    assert cp1250 and any(not r["transcript"].isascii() for r in cp1250)
    spoken = set(sentences("hr"))
    assert all(r["transcript"] in spoken for r in rows if r["status"] == "ok"), "transcripts decoded correctly"

    kept, report = validate_and_dedupe(rows)
    assert len(kept) == 6, "3 speakers × 2 sentences, every good file kept"
    assert report["rejected_by_reason"] == {
        "duplicate_exact": 1,
        "duplicate_re_encoded": 1,
        "empty": 1,
        "no_transcript": 1,
        "orphan_transcript": 1,
        "truncated": 1,
        "undecodable": 1,
    }
    assert tree_digest(uploads) == before, "intake must not modify, move or delete source files"


def test_incremental_decodes_only_new_content(tiny_corpus, tmp_path):
    uploads = tmp_path / "uploads"
    shutil.copytree(tiny_corpus / "sr", uploads / "sr")
    first, cache = inventory(uploads, "sr", tmp_path / "cache.json")
    assert cache.decoded == len(first)

    again, cache = inventory(uploads, "sr", tmp_path / "cache.json")
    assert (cache.decoded, cache.hashed) == (0, 0), "unchanged files are only stat'ed"

    some = next(r for r in first if r["status"] == "ok")
    os.utime(some["audio"])  # touched: re-hashed, not decoded
    moved = uploads / "sr" / "renamed_speaker"
    moved.mkdir()
    src = [r for r in first if r["status"] == "ok" and r["audio"] != some["audio"]][0]
    shutil.copy2(src["audio"], moved / "x.wav")  # same content under a new name: recognised by hash
    new_speaker = uploads / "sr" / "new_speaker"
    new_speaker.mkdir()
    espeak_wav("Potpuno nova rečenica.", "sr", new_speaker / "n.wav")
    (new_speaker / "n.txt").write_text("Potpuno nova rečenica.")
    third, cache = inventory(uploads, "sr", tmp_path / "cache.json")
    assert cache.decoded == 1 and cache.hashed == 3
    assert [r["sha256"] for r in third if r["audio"] == some["audio"]] == [some["sha256"]]


def test_transcript_length_must_fit_the_audio(tmp_path):
    uploads = tmp_path / "uploads"
    d = uploads / "hr" / "ana"
    d.mkdir(parents=True)
    espeak_wav("Da.", "hr", d / "short.wav")
    (d / "short.txt").write_text("Ovo je mnogo predugačak transkript za tako kratku snimku od jedne riječi, " * 3)
    espeak_wav("Ovo je duga rečenica koju govornik izgovara polako i jasno.", "hr", d / "long.wav")
    (d / "long.txt").write_text("Da.")
    espeak_wav("Dobar dan.", "hr", d / "blank.wav")
    (d / "blank.txt").write_text("   \n")
    rows, _ = inventory(
        uploads, "hr", tmp_path / "c.json", IntakeRules(min_chars_per_second=2.0, max_chars_per_second=30.0)
    )
    codes = {r["filename"].rsplit("/", 1)[1]: r["reason_code"] for r in rows}
    assert codes == {
        "short.wav": "transcript_too_long",
        "long.wav": "transcript_too_short",
        "blank.wav": "empty_transcript",
    }


def test_dedupe_decisions_are_reused_not_recomputed(tiny_corpus, tmp_path, monkeypatch):
    import whisper_pipeline.data.inventory as inventory_module

    uploads = tmp_path / "uploads"
    shutil.copytree(tiny_corpus / "hr", uploads / "hr")
    first, _ = inventory(uploads, "hr", tmp_path / "cache.json")
    calls = []
    real = inventory_module.same_recording
    monkeypatch.setattr(inventory_module, "same_recording", lambda a, b: calls.append(1) or real(a, b))
    again, _ = inventory(uploads, "hr", tmp_path / "cache.json")
    assert calls == []
    assert [(r["file_id"], r["duplicate_of"], r["duplicate_kind"]) for r in again] == [
        (r["file_id"], r["duplicate_of"], r["duplicate_kind"]) for r in first
    ]


def test_language_mismatch_is_flagged_not_moved(tmp_path):
    """A Serbian (ekavian) sentence declared as Croatian stays in hr, kept, with a flag naming the evidence."""
    uploads = tmp_path / "uploads"
    d = uploads / "hr" / "marko"
    d.mkdir(parents=True)
    texts = {
        "sr_text": "Deca su uvek volela da pevaju pesme.",
        "hr_text": "Tko je pojeo kruh u vlaku?",
        "neutral": "Dobar dan, kako ste danas?",
    }
    for stem, text in texts.items():
        espeak_wav(text, "hr", d / f"{stem}.wav")
        (d / f"{stem}.txt").write_text(text)
    rows, _ = inventory(uploads, "hr", tmp_path / "c.json")
    by_stem = {r["filename"].rsplit("/", 1)[1][:-4]: r for r in rows}
    assert all(r["status"] == "ok" and r["language"] == "hr" for r in rows), "flagged, not moved or rejected"
    assert by_stem["sr_text"]["language_guess"] == "sr" and by_stem["sr_text"]["dialect"] == "ekavian"
    assert any(
        "language guess sr differs from declared hr" in f and "ekavian" in f for f in by_stem["sr_text"]["flags"]
    )
    assert by_stem["hr_text"]["language_guess"] == "hr" and not by_stem["hr_text"]["flags"]
    assert by_stem["neutral"]["language_guess"] == "" and not by_stem["neutral"]["flags"]
    assert all(r["snr_db"] is not None for r in rows)


def test_near_identical_prompts_by_one_voice_are_not_duplicates(tmp_path):
    """Same voice, same length, one word different: the fingerprints are close, the transcripts are not."""
    uploads = tmp_path / "uploads"
    d = uploads / "sr" / "ana"
    d.mkdir(parents=True)
    for n in (1, 2):
        text = f"Danas je lep dan broj {n}."
        espeak_wav(text, "sr", d / f"u{n}.wav")
        (d / f"u{n}.txt").write_text(text)
    rows, _ = inventory(uploads, "sr", tmp_path / "c.json")
    assert [r["status"] for r in rows] == ["ok", "ok"]


def test_a_file_that_kills_its_worker_is_checked_with_ffmpeg_and_the_rest_go_on(tmp_path):
    """A decoder crash in the worker (past the retries) must not stop intake or lose the run's other checks: that
    file is checked again through the ffmpeg CLI in a subprocess and gets its status like any other."""
    import subprocess

    from whisper_pipeline.parallel import ParallelSettings
    from whisper_pipeline_tests.parallel.tasks import check_crashing_on_wav

    wav = espeak_wav("Dobar dan, kako ste?", "hr", tmp_path / "a.wav")
    mp3 = tmp_path / "b.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-af", "volume=0.5", str(mp3)], check=True)
    cache = IntakeCache(tmp_path / "cache.json")
    checked = cache.check_many(
        [str(wav), str(mp3)], ParallelSettings(workers=2, worker_retries=1), check=check_crashing_on_wav
    )
    assert checked[str(wav)][1]["status"] == "ok" and checked[str(wav)][1]["duration_s"] > 1
    assert checked[str(mp3)][1]["status"] == "ok"
    cache.save()
    again = IntakeCache(tmp_path / "cache.json")
    assert again.check_many([str(wav), str(mp3)], check=check_crashing_on_wav) == checked, "both cached"
    assert again.hashed == 0
