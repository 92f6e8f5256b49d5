import json

import numpy as np
import pytest
import soundfile as sf

from whisper_pipeline.audio.augment import (
    DEFAULT_CONFIG,
    AugmentConfig,
    AugmentConfigError,
    Augmenter,
    BabblePool,
    augment_offline,
    load_augment_config,
    main,
)
from whisper_pipeline.audio.ffmpeg import decode
from whisper_pipeline.audio.inspect import estimate_snr_db
from whisper_pipeline_tests.conftest import espeak_16k, espeak_wav


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    path = espeak_wav("Dobro jutro, danas je lijep dan za šetnju.", "bs", tmp_path_factory.mktemp("aug") / "s.wav")
    return path, decode(path)


def only(**spec) -> AugmentConfig:
    off = {k: {"p": 0.0} for k in ("noise", "speed", "pitch", "reverb", "gain")}
    return AugmentConfig.model_validate({**off, **spec})


def test_the_shipped_yaml_is_valid():
    config = load_augment_config(DEFAULT_CONFIG)
    assert config.noise.p > 0 and config.speed.max_rate == 1.1


@pytest.mark.parametrize(
    "yaml_text,field",
    [
        ("noise:\n  p: 0.5\n  snr: 10\n", "noise.snr"),  # unknown key
        ("speed:\n  p: 0.5\n  min_rate: 1.2\n  max_rate: 0.9\n", "speed"),  # inverted range
        ("gain:\n  p: 1.5\n", "gain.p"),  # probability > 1
        ("noise:\n  p: 0.5\n  colors: [purple]\n", "noise"),  # unknown colour
        ("background_noise:\n  p: 0.5\n", "background_noise"),  # no folder
        ("echo:\n  p: 0.5\n", "echo"),  # unknown transform
    ],
)
def test_bad_yaml_gives_a_clear_error(tmp_path, yaml_text, field):
    path = tmp_path / "augment.yaml"
    path.write_text(yaml_text)
    with pytest.raises(AugmentConfigError) as err:
        load_augment_config(path)
    assert str(path) in str(err.value) and field in str(err.value)


def test_seeded_and_reproducible(speech):
    _, audio = speech
    config = load_augment_config()
    a, b = Augmenter(config), Augmenter(config)
    first = [a(audio, "utt1") for _ in range(3)]
    again = [b(audio, "utt1") for _ in range(3)]
    assert all(np.array_equal(x, y) for x, y in zip(first, again)), "same seed, id and call ⇒ same audio"
    assert not np.array_equal(first[0], first[1]), "each epoch gets a different draw"
    other = Augmenter(config.model_copy(update={"seed": 99}))
    assert not np.array_equal(other(audio, "utt1"), first[0])


def test_each_transform_does_what_it_says(speech):
    _, audio = speech
    noisy = Augmenter(only(noise={"p": 1.0, "min_snr_db": 10, "max_snr_db": 10, "colors": ["white"]}))(audio, "n")
    assert 4 <= estimate_snr_db(noisy) <= 16
    fast = Augmenter(only(speed={"p": 1.0, "min_rate": 1.1, "max_rate": 1.1}))(audio, "s")
    assert fast.size == pytest.approx(audio.size / 1.1, rel=0.01)
    louder = Augmenter(only(gain={"p": 1.0, "min_db": 6, "max_db": 6}))(audio * 0.25, "g")
    assert np.max(np.abs(louder)) == pytest.approx(2 * np.max(np.abs(audio * 0.25)), rel=0.01)
    wet = Augmenter(only(reverb={"p": 1.0, "min_rt60_s": 0.6, "max_rt60_s": 0.6}))(audio, "r")
    assert wet.size == audio.size and not np.allclose(wet, audio)
    shifted = Augmenter(only(pitch={"p": 1.0, "min_semitones": 2, "max_semitones": 2}))(audio, "p")
    assert shifted.size == pytest.approx(audio.size, rel=0.02) and not np.allclose(shifted, audio)
    assert np.array_equal(Augmenter(only())(audio, "x"), audio), "all p = 0 leaves audio alone"


def test_background_noise_from_a_folder(tmp_path, speech):
    _, audio = speech
    (tmp_path / "noise").mkdir()
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "noise" / "hum.wav", (0.3 * rng.standard_normal(16000 * 3)).astype(np.float32), 16000)
    aug = Augmenter(
        only(background_noise={"p": 1.0, "folder": str(tmp_path / "noise"), "min_snr_db": 5, "max_snr_db": 5})
    )
    assert estimate_snr_db(aug(audio, "b")) < 15


def test_offline_copies_on_a_small_subset(tmp_path, speech):
    path, _ = speech
    manifest = tmp_path / "train.jsonl"
    line = {"id": "u1", "audio": str(path), "transcript": "x", "duration": 3.0, "language": "hr", "speaker": "s"}
    manifest.write_text(json.dumps({**line, "split": "train", "source": "upload", "notes": "kept"}) + "\n")
    main([str(manifest), str(tmp_path / "out"), "--copies", "2"])
    lines = [json.loads(l) for l in (tmp_path / "out" / "augmented.jsonl").read_text().splitlines()]
    assert [l["id"] for l in lines] == ["u1-aug0", "u1-aug1"] and all(l["augmented_from"] == "u1" for l in lines)
    assert all(sf.info(l["audio"]).samplerate == 16000 for l in lines)
    assert all(l["notes"] == "kept" and l["speaker"] == "s" and l["split"] == "train" for l in lines)
    assert augment_offline([], Augmenter(only()), tmp_path) == []


def test_babble_mixes_other_training_speakers_never_the_own(tmp_path, speech):
    path, audio = speech
    other = espeak_16k("Sutra idemo na more sa prijateljima.", "hr+m3", tmp_path / "o.wav")
    spec = {"p": 1.0, "min_snr_db": 5, "max_snr_db": 5, "min_talkers": 1, "max_talkers": 1}
    config = only(babble=spec)
    own_only = BabblePool([("u1", "spk1", str(path)), ("u2", "spk1", str(path))])
    assert np.array_equal(Augmenter(config, own_only)(audio, "u1"), audio), "the own speaker is no babble"
    assert np.array_equal(Augmenter(config)(audio, "u1"), audio), "no pool: babble skipped"
    pool = BabblePool([("u1", "spk1", str(path)), ("o1", "spk2", str(other))])
    mixed = Augmenter(config, pool)(audio, "u1")
    assert mixed.size == audio.size and not np.allclose(mixed, audio)
    again = Augmenter(config, BabblePool(pool.entries))(audio, "u1")
    assert np.array_equal(mixed, again), "seeded like every other transform"
    clean = audio.astype(np.float64)
    scale = float(np.dot(mixed, clean) / np.dot(clean, clean))  # mix_at_snr may scale both down to avoid clipping
    snr = 10 * np.log10(np.sum((scale * clean) ** 2) / np.sum((mixed - scale * clean) ** 2))
    assert 3 <= snr <= 7, f"5 dB babble came out at {snr:.1f} dB"


def test_babble_pool_picks_other_speakers_and_holds_a_bounded_cache(tmp_path, speech):
    path, _ = speech
    entries = [(f"u{i}", f"spk{i % 5}", str(path)) for i in range(200)]
    pool = BabblePool(entries, max_cached=3)
    rng = np.random.default_rng(0)
    for key in ("u0", "u7", "u13"):
        own = pool._speaker[key]
        picked = pool.pick(key, 4, rng)
        assert len(picked) == 4 and len({i for i, _ in picked}) == 4
        assert all(pool._speaker[i] != own for i, _ in picked)
    rare = BabblePool([(f"a{i}", "same", str(path)) for i in range(100)] + [("b", "other", str(path))])
    assert rare.pick("a0", 3, rng) == [("b", str(path))], "exact scan when other speakers are rare"
    other = espeak_16k("Dobar dan.", "bs", tmp_path / "b.wav")
    for i in range(5):
        pool.audio(f"x{i}", str(other))
    assert len(pool._audio) == 3, "the loaded-audio cache is bounded"
