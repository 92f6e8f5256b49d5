import numpy as np
import pytest
from scipy.signal import correlate, welch

from whisper_pipeline.audio.degrade import (
    CONDITIONS,
    UnknownConditionError,
    babble,
    check_conditions,
    codec_roundtrip,
    colored_noise,
    degrade,
    make_rng,
    mix_at_snr,
    reverberate,
    room_impulse_response,
    telephone_band,
)
from whisper_pipeline.audio.ffmpeg import decode
from whisper_pipeline_tests.conftest import espeak_16k

SR = 16_000


@pytest.fixture(scope="module")
def voices(tmp_path_factory):
    """Real espeak-ng speech: the target and two other 'speakers' for babble."""
    d = tmp_path_factory.mktemp("degrade")
    texts = [
        ("Dobro jutro, danas je lijep dan za šetnju kroz grad.", "bs"),
        ("Vlak za Zagreb kreće u osam sati i deset minuta.", "hr"),
        ("Молим вас, затворите прозор јер је хладно.", "sr"),
    ]
    return [decode(espeak_16k(t, v, d / f"{i}.wav")) for i, (t, v) in enumerate(texts)]


def snr_db(clean: np.ndarray, mixed: np.ndarray) -> float:
    clean, mixed = clean.astype(np.float64), mixed.astype(np.float64)
    gain = np.dot(mixed, clean) / np.dot(clean, clean)  # undo any anti-clipping rescale
    return 10 * np.log10(np.mean(clean**2) / np.mean((mixed / gain - clean) ** 2))


@pytest.mark.parametrize("name", ["white_20db", "white_5db", "pink_10db", "pink_5db", "babble_20db", "babble_5db"])
def test_noise_conditions_hit_the_asked_snr(voices, name):
    speech, *others = voices
    out = degrade(speech, name, "eval:u1:" + name, babble_pool=others)
    assert out.dtype == np.float32 and out.size == speech.size
    assert abs(snr_db(speech, out) - CONDITIONS[name].snr_db) < 0.5


def test_mix_at_snr_without_clipping_keeps_the_snr():
    rng = make_rng(1)
    loud = (0.95 * np.sign(rng.standard_normal(SR))).astype(np.float32)
    out = mix_at_snr(loud, colored_noise("white", SR, rng), 0.0)
    assert np.max(np.abs(out)) <= 1.0 and abs(snr_db(loud, out)) < 0.5


def slope_db_per_octave(x: np.ndarray) -> float:
    f, psd = welch(x, fs=SR, nperseg=4096)
    band = (f >= 100) & (f <= 6400)
    return float(np.polyfit(np.log2(f[band]), 10 * np.log10(psd[band]), 1)[0])


def test_noise_colours_have_their_spectral_slope():
    rng = make_rng("colours")
    white, pink, brown = (colored_noise(k, 10 * SR, rng) for k in ("white", "pink", "brown"))
    assert abs(slope_db_per_octave(white)) < 0.5
    assert slope_db_per_octave(pink) == pytest.approx(-3.01, abs=0.5)
    assert slope_db_per_octave(brown) == pytest.approx(-6.02, abs=0.5)
    assert all(np.sqrt(np.mean(x.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-3) for x in (white, pink))
    with pytest.raises(ValueError, match="purple"):
        colored_noise("purple", 10, rng)


def test_babble_is_made_of_the_pool_and_needs_one(voices):
    _, *others = voices
    rng = make_rng("b")
    noise = babble(others, 3 * SR, rng, talkers=4)
    assert noise.size == 3 * SR and np.sqrt(np.mean(noise.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-3)
    # speech-shaped: most energy below 4 kHz, unlike white noise
    f, psd = welch(noise, fs=SR, nperseg=1024)
    assert psd[f < 4000].sum() > 0.9 * psd.sum()
    with pytest.raises(ValueError, match="babble"):
        babble([], SR, rng)
    with pytest.raises(ValueError, match="babble_pool"):
        degrade(voices[0], "babble_10db", "s")


def test_reverb_tail_grows_with_rt60():
    burst = np.zeros(2 * SR, dtype=np.float32)
    burst[: SR // 10] = colored_noise("white", SR // 10, make_rng("burst")) * 0.3
    tails = []
    for rt60 in (0.2, 0.5, 1.0):
        wet = reverberate(burst, rt60, make_rng("room"), SR)
        assert wet.size == burst.size
        tails.append(
            float(np.sum(wet[SR // 10 + SR // 20 :].astype(np.float64) ** 2) / np.sum(wet.astype(np.float64) ** 2))
        )
    assert tails[0] < tails[1] < tails[2] and tails[0] > 0
    rir = room_impulse_response(0.5, make_rng(0), SR)
    assert rir.size == SR // 2 and np.sum(rir.astype(np.float64) ** 2) == pytest.approx(1.0, rel=1e-4)
    energy = rir.astype(np.float64) ** 2
    early, late = energy[1 : SR // 20].mean(), energy[-SR // 20 :].mean()
    assert 10 * np.log10(early / late) > 40, "the decay reaches about -60 dB at RT60"


def test_telephone_removes_the_high_band(voices):
    speech = voices[0]
    phone = degrade(speech, "telephone", "t")
    assert phone.size == speech.size

    def high_share(x):
        f, psd = welch(x, fs=SR, nperseg=1024)
        return psd[f > 4000].sum() / psd.sum()

    assert high_share(speech) > 0.01
    assert high_share(phone) < 0.001 * high_share(speech) + 1e-5
    assert np.corrcoef(telephone_band(speech), speech)[0, 1] > 0.5, "still the same speech, not noise"


@pytest.mark.parametrize("codec", ["mp3", "opus"])
def test_codec_round_trip_keeps_length_and_alignment(voices, codec):
    speech = voices[0]
    out = codec_roundtrip(speech, codec, 24)
    assert out.dtype == np.float32 and out.size == speech.size
    assert not np.allclose(out, speech, atol=1e-3)
    lag = int(np.argmax(correlate(out, speech, mode="full", method="fft"))) - (speech.size - 1)
    assert abs(lag) <= SR // 1000, f"{codec} round trip shifted the audio by {lag} samples"
    with pytest.raises(ValueError, match="aac"):
        codec_roundtrip(speech, "aac", 24)


def test_every_condition_is_seeded_and_reproducible(voices):
    speech, *others = voices
    for name in CONDITIONS:
        a = degrade(speech, name, f"eval:u1:{name}", babble_pool=others)
        b = degrade(speech, name, f"eval:u1:{name}", babble_pool=others)
        assert a.size == speech.size and np.array_equal(a, b), name
        if CONDITIONS[name].kind in ("noise", "reverb"):
            assert not np.array_equal(a, degrade(speech, name, f"eval:u2:{name}", babble_pool=others)), name
        if name != "clean":
            assert not np.allclose(a, speech, atol=1e-4), f"{name} changed nothing"
    assert np.array_equal(degrade(speech, "clean", 1), speech)


def test_an_unknown_condition_lists_the_known_ones(voices):
    with pytest.raises(UnknownConditionError) as err:
        degrade(voices[0], "pink_7db", 0)
    assert "pink_7db" in str(err.value) and "pink_10db" in str(err.value) and "opus_24k" in str(err.value)
    with pytest.raises(UnknownConditionError, match="underwater"):
        check_conditions(["white_10db", "underwater"])
    assert check_conditions(["white_10db"]) == ["white_10db"]
    with pytest.raises(ValueError, match="mono"):
        degrade(np.zeros((2, 100), dtype=np.float32), "white_10db", 0)
