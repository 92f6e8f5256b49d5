"""espeak-ng speech with the true start of every word, from the synthesiser's own word events.

The ``espeak-ng`` command line writes audio but not where each word lies in it. Its C library
(``libespeak-ng.so.1``, reached here with ``ctypes``) calls back with the audio and, for every
word it speaks, an event carrying the word's text position and its position in the audio, in
samples. That gives word boundaries in *connected* speech, where no silence marks them, so the
aligner can be measured on boundaries that an energy detector cannot find by itself
(``bench/alignment_accuracy.py``). A word's start is the start of its first phoneme, so a word
that begins with a stop (p, t, k, …) starts at the closure, before the burst.

The library holds one global synthesiser; calls are serialised with a lock. The first call in a
process gives the same samples as the command line; later ones carry a little waveform state over
and come out up to a few samples longer or shorter (word starts move by under a millisecond).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import threading
from bisect import bisect_right
from typing import NamedTuple

import numpy as np

# speak_lib.h (espeak-ng 1.51)
AUDIO_OUTPUT_SYNCHRONOUS = 2
ESPEAK_INITIALIZE_DONT_EXIT = 0x8000
EVENT_LIST_TERMINATED = 0
EVENT_WORD = 1
POS_CHARACTER = 1
CHARS_UTF8 = 1
PARAM_RATE = 1
PARAM_PITCH = 3
EE_OK = 0


class _EventId(ctypes.Union):
    _fields_ = [
        ("number", ctypes.c_int),
        ("name", ctypes.c_char_p),
        ("string", ctypes.c_char * 8),
    ]


class _Event(ctypes.Structure):
    """``espeak_EVENT``: six ints, a pointer (8-byte aligned, offset 24), an 8-byte union (offset 32)."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        # characters (not bytes) from the start of the text, 1-based
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # ms
        ("sample", ctypes.c_int),  # samples from the start of this message's audio
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class SpokenWords(NamedTuple):
    """Audio, its rate, and (token, start in seconds) for each whitespace-separated token."""

    samples: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int
    words: list[tuple[str, float]]


class _Espeak:
    """The loaded library, its sample rate and the buffers the callback fills."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            raise RuntimeError(f"cannot load {name}: install espeak-ng (Debian: apt-get install espeak-ng)") from exc
        lib.espeak_Initialize.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
        ]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self.sample_rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, None, ESPEAK_INITIALIZE_DONT_EXIT)
        if self.sample_rate <= 0:
            raise RuntimeError("espeak_Initialize failed: espeak-ng-data not found")
        self.lib = lib
        self.chunks: list[np.ndarray] = []
        self.events: list[tuple[int, int]] = []  # (0-based character position, sample)
        # kept referenced: the library calls it later
        self.callback = _CALLBACK(self._on_audio)
        lib.espeak_SetSynthCallback(self.callback)

    def _on_audio(self, wav, count: int, events) -> int:
        if count > 0 and wav:
            self.chunks.append(np.ctypeslib.as_array(wav, (count,)).copy())
        i = 0
        while events[i].type != EVENT_LIST_TERMINATED:
            if events[i].type == EVENT_WORD:
                self.events.append((events[i].text_position - 1, events[i].sample))
            i += 1
        return 0  # 0 = go on synthesising

    def synth(self, text: str, voice: str, rate: int, pitch: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != EE_OK:
            raise ValueError(f"espeak-ng has no voice {voice!r}")
        self.lib.espeak_SetParameter(PARAM_RATE, rate, 0)
        self.lib.espeak_SetParameter(PARAM_PITCH, pitch, 0)
        self.chunks, self.events = [], []
        data = text.encode("utf-8")
        if self.lib.espeak_Synth(data, len(data) + 1, 0, POS_CHARACTER, 0, CHARS_UTF8, None, None) != EE_OK:
            raise RuntimeError(f"espeak_Synth failed on {text!r}")
        self.lib.espeak_Synchronize()
        audio = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)
        return audio.astype(np.float32) / 32768.0, self.events


_lock = threading.Lock()
_engine: _Espeak | None = None


def speak_with_word_starts(text: str, voice: str = "hr", rate: int = 150, pitch: int = 50) -> SpokenWords:
    """Synthesise ``text`` and return its audio (espeak's native rate, 22050 Hz) and each word's start.

    Words are the text's whitespace-separated tokens, punctuation attached, as the aligner is given
    them. A token that espeak speaks as several words (a number) takes the first one's start; a token
    it does not speak at all (a lone dash) is an error, since its start would be unknown."""
    global _engine
    with _lock:
        if _engine is None:
            _engine = _Espeak()
        audio, events = _engine.synth(text, voice, rate, pitch)
        sample_rate = _engine.sample_rate
    tokens = [(m.group(), m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    ends = [end for _, _, end in tokens]
    starts: list[int | None] = [None] * len(tokens)
    for position, sample in events:
        # the token holding this position, or the next one after a space
        k = bisect_right(ends, position)
        if k < len(tokens) and (starts[k] is None or sample < starts[k]):
            starts[k] = sample
    silent = [word for (word, _, _), s in zip(tokens, starts) if s is None]
    if silent:
        raise ValueError(f"espeak-ng reported no word event for {silent} in {text!r}")
    return SpokenWords(
        audio,
        sample_rate,
        [(word, s / sample_rate) for (word, _, _), s in zip(tokens, starts)],
    )
