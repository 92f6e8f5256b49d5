"""silero-VAD's network in numpy gives ONNX Runtime's probabilities, from weights read without the onnx package."""

from __future__ import annotations

import numpy as np
import pytest

from whisper_pipeline.audio.stream16k import load_16k_ffmpeg
from whisper_pipeline.audio.vad_model import (
    CONTEXT,
    FRAME,
    HIDDEN,
    onnx_initializers,
    sequence_model_path,
    silero_numpy,
)
from whisper_pipeline_tests.conftest import espeak_wav

RATE = 16000


def inputs_of(audio: np.ndarray) -> np.ndarray:
    """Frames with their 64 samples of context, as the sequence model takes them."""
    n = audio.size // FRAME
    frames = audio[: n * FRAME].reshape(n, FRAME).astype(np.float32)
    context = np.zeros((n, CONTEXT), dtype=np.float32)
    context[1:] = frames[:-1, -CONTEXT:]
    return np.concatenate([context, frames], axis=1)


@pytest.fixture(scope="module")
def signals(tmp_path_factory) -> dict[str, np.ndarray]:
    d = tmp_path_factory.mktemp("vad_model")
    speech = np.concatenate(
        [
            load_16k_ffmpeg(espeak_wav("Dobar dan, ovo je probna rečenica za detektor govora.", "hr", d / "a.wav")),
            np.zeros(RATE // 2, dtype=np.float32),
            load_16k_ffmpeg(espeak_wav("Сутра ће бити сунчано и топло.", "sr", d / "b.wav")),
        ]
    )
    rng = np.random.default_rng(5)
    return {
        "speech": speech,
        "speech in noise": speech + 0.05 * rng.standard_normal(speech.size).astype(np.float32),
        "silence": np.zeros(3 * RATE, dtype=np.float32),
        "loud noise": (0.5 * rng.standard_normal(3 * RATE)).astype(np.float32),
    }


def ort_probabilities(inputs: np.ndarray, calls: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(sequence_model_path()), sess_options=options)
    h = c = np.zeros((1, 1, HIDDEN), dtype=np.float32)
    out = []
    for part in np.array_split(inputs, calls):
        probs, h, c = session.run(["speech_probs", "hn", "cn"], {"input": part, "h": h, "c": c})
        out.append(probs)
    return np.concatenate(out), h.reshape(-1), c.reshape(-1)


def test_weights_are_read_from_the_packaged_onnx_file():
    weights = onnx_initializers(sequence_model_path())
    assert weights["stft.forward_basis_buffer"].shape == (258, 1, 256)
    assert [weights[f"encoder.{i}.weight"].shape for i in range(4)] == [
        (128, 129, 3),
        (64, 128, 3),
        (64, 64, 3),
        (128, 64, 3),
    ]
    # found through the LSTM node's inputs (W and R have one shape: the parity test below tells them apart)
    assert [weights[k].shape for k in ("lstm.W", "lstm.R", "lstm.B")] == [(1, 512, 128), (1, 512, 128), (1, 1024)]
    assert all(np.isfinite(v).all() and v.dtype == np.float32 for v in weights.values())


@pytest.mark.parametrize("name", ["speech", "speech in noise", "silence", "loud noise"])
def test_probabilities_and_state_are_onnx_runtimes(signals, name):
    inputs = inputs_of(signals[name])
    expected, h_expected, c_expected = ort_probabilities(inputs, calls=3)
    model = silero_numpy()
    h = c = np.zeros(HIDDEN, dtype=np.float32)
    got = []
    for part in np.array_split(inputs, 3):  # the state carries between calls
        probs, h, c = model(part, h, c)
        got.append(probs)
    got = np.concatenate(got)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-4)
    np.testing.assert_allclose(h, h_expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(c, c_expected, rtol=1e-4, atol=1e-4)  # the cell grows in silence (~21)
    if name == "speech":
        assert (got > 0.5).mean() > 0.3 and (got < 0.35).mean() > 0.05, "speech and pauses both heard"
    if name == "silence":
        assert got.max() < 0.1


def test_the_fft_stft_equals_the_product_with_the_basis_it_replaces(signals):
    """The packaged STFT basis is recognised as a Hann-windowed DFT (so an FFT computes it); a basis that is not
    one is used as it is, with the same result for this one."""
    from whisper_pipeline.audio.vad_model import SileroNumpy, _hann_dft_window

    weights = onnx_initializers(sequence_model_path())
    fast, plain = SileroNumpy(weights), SileroNumpy(weights)
    assert fast.window is not None
    plain.window = None
    inputs = inputs_of(signals["speech in noise"])
    np.testing.assert_allclose(fast.encode(inputs), plain.encode(inputs), rtol=1e-4, atol=1e-4)
    zero = np.zeros(HIDDEN, dtype=np.float32)
    np.testing.assert_allclose(fast(inputs, zero, zero)[0], plain(inputs, zero, zero)[0], atol=1e-5)
    other = plain.basis.copy()
    other[10, 3] += 0.01
    assert _hann_dft_window(other) is None
