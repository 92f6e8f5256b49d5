"""The ``transformers`` backend: any Whisper checkpoint, through stable-ts (silence-aware word timestamps,
regrouped segments, alignment of a known text). Recordings longer than one window are cut at pauses
into windows of at most 30 s, decoded in batches and put back together (``windows.py`` says why)."""

from __future__ import annotations

import numpy as np

from whisper_pipeline.alignment.align import load_aligner, result_segments
from whisper_pipeline.audio.ffmpeg import SAMPLE_RATE
from whisper_pipeline.serving.backends.base import compression_ratio
from whisper_pipeline.serving.backends.guards import DEFAULT_GUARDS, Guards, collapse_loops
from whisper_pipeline.serving.backends.hf_guards import features_of, guarded_decode, retry_token_budget, score_texts
from whisper_pipeline.serving.backends.windows import gated_windows
from whisper_pipeline.workspace import LANGUAGES


class TransformersBackend:
    name = "transformers"

    def __init__(self, path: str, device: str | None = None, batch_size: int = 8):
        self.model = load_aligner(path, device)
        self.batch_size = batch_size
        self.guards = DEFAULT_GUARDS  # set by each transcribe call (the engine runs one at a time)
        pipe = self.model._pipe
        self.model._inner_transcribe = lambda audio, **kw: windowed_inference(pipe, audio, guards=self.guards, **kw)

    def trained_language(self) -> str | None:
        """The language a one-language run was trained on (its generation config says so), else None."""
        lang = getattr(self.model._pipe.model.generation_config, "language", None)
        lang = lang.strip("<|>") if isinstance(lang, str) else None
        return lang if lang in LANGUAGES else None

    def detect_language(self, audio: np.ndarray) -> dict[str, float]:
        """Probabilities of bs/hr/sr from Whisper's language token on the first 30 s, the other languages
        left out of the softmax."""
        import torch

        pipe = self.model._pipe
        tokenizer, hf = pipe.tokenizer, pipe.model
        feats = pipe.feature_extractor(
            audio[: 30 * SAMPLE_RATE], sampling_rate=SAMPLE_RATE, return_tensors="pt"
        ).input_features
        ids = [tokenizer.convert_tokens_to_ids(f"<|{lang}|>") for lang in LANGUAGES]
        start = torch.tensor([[tokenizer.convert_tokens_to_ids("<|startoftranscript|>")]], device=hf.device)
        with torch.inference_mode():
            logits = hf(input_features=feats.to(hf.device, hf.dtype), decoder_input_ids=start).logits[0, -1]
        probs = torch.softmax(logits[ids].float(), dim=-1).tolist()
        return dict(zip(LANGUAGES, probs))

    def transcribe(
        self,
        audio: np.ndarray,
        language: str,
        num_beams: int = 1,
        prompt: str | None = None,
        temperature: float = 0.0,
        guards: Guards = DEFAULT_GUARDS,
    ) -> list[dict]:
        """Segments with words, not yet snapped. ``temperature`` > 0 samples; 0 decodes greedily (or with
        beams), under ``guards`` (``hf_guards.py``). The per-window log-probabilities the guards use are
        not reported (stable-ts regroups the windows into segments); the compression ratio is computed."""
        self.guards = guards
        options: dict = {"num_beams": num_beams}
        if prompt and prompt.strip():
            options["prompt_ids"] = self.model._pipe.tokenizer.get_prompt_ids(prompt.strip(), return_tensors="pt")
        if temperature > 0:
            options.update(do_sample=True, temperature=float(temperature))
        result = self.model.transcribe(audio, language=language, verbose=None, batch_size=self.batch_size, **options)
        segments = result_segments(result)
        for seg in segments:
            seg.update(avg_logprob=None, compression_ratio=compression_ratio(seg["text"]), no_speech_prob=None)
        return segments

    def align(self, audio: np.ndarray, text: str, language: str) -> list[dict] | None:
        result = self.model.align(audio, text, language=language, verbose=None)
        return None if result is None else result_segments(result)


def windowed_inference(
    pipe,
    audio,
    language: str | None = None,
    task: str | None = "transcribe",
    batch_size: int | None = 8,
    word_timestamps: bool = True,
    verbose: bool | None = None,
    guards: Guards = DEFAULT_GUARDS,
    **generate_kwargs,
) -> dict:
    """What stable-ts's ``WhisperHF._inner_transcribe`` returns (``segments`` with ``words``, ``language``),
    decoded window by window under the guards: only the speech silero-VAD hears is cut into windows
    (``guards.vad``), a window that fails the checks is decoded again warmer, one judged silent is
    dropped, loops are collapsed. One segment per window, its times offset to the recording."""
    audio = np.asarray(audio.cpu() if hasattr(audio, "cpu") else audio, dtype=np.float32).reshape(-1)
    bounds = gated_windows(audio, guards)
    if not bounds:
        return {"segments": [], "language": language}
    kwargs = {"task": task, **({"language": language} if language else {}), **generate_kwargs}
    clips = [audio[a:b] for a, b in bounds]

    def decode(indices: list[int], temperature: float) -> list[dict]:
        sampled = {}
        if temperature > 0:  # a retry: sampled, and no longer than the audio could hold
            budget = retry_token_budget(max(clips[i].size for i in indices) / SAMPLE_RATE)
            sampled = {"do_sample": True, "temperature": temperature, "max_new_tokens": budget}
        return pipe(
            [clips[i] for i in indices],
            batch_size=batch_size or 1,
            generate_kwargs={**kwargs, **sampled},
            return_timestamps="word",
            # the language is always known here (the engine picks it first); asking for it back makes the
            # pipeline return per-segment timestamp lists, which its batching cannot split (IndexError)
            return_language=False,
        )

    def score(indices: list[int], texts: list[str]) -> list[tuple[float, float]]:
        out = []
        for k in range(0, len(indices), batch_size or 1):
            part = indices[k : k + (batch_size or 1)]
            feats = features_of(pipe.feature_extractor, [clips[i] for i in part])
            out += score_texts(pipe.model, pipe.tokenizer, feats, texts[k : k + len(part)], language or "hr")
        return out

    if generate_kwargs.get("do_sample") or not language:  # a sampled request: no fallback schedule
        outputs = decode(list(range(len(clips))), 0.0)
    else:
        outputs = guarded_decode(decode, lambda o: o.get("text", ""), score, len(clips), guards)
    segments = []
    for (a, b), out in zip(bounds, outputs):
        if out is None:  # judged silent
            continue
        words = window_words(out.get("chunks", []), a / SAMPLE_RATE, b / SAMPLE_RATE)
        if words:
            text = "".join(w["word"] for w in words)
            segments.append({"start": words[0]["start"], "end": words[-1]["end"], "text": text, "words": words})
    return {"segments": collapse_loops(segments, guards.max_repeats)[0], "language": language}


def window_words(chunks: list[dict], offset: float, window_end: float) -> list[dict]:
    """The pipeline's word chunks of one window as stable-ts words in recording time: a missing start is
    the previous word's end, a missing end the next word's start (or the window's end); times stay inside
    the window and in order."""
    words = []
    for i, chunk in enumerate(chunks):
        start, end = chunk["timestamp"]
        if start is None:
            start = words[-1]["end"] - offset if words else 0.0
        if end is None:
            following = next((c["timestamp"][0] for c in chunks[i + 1 :] if c["timestamp"][0] is not None), None)
            end = following if following is not None else window_end - offset
        start = min(max(offset + float(start), words[-1]["end"] if words else offset), window_end)
        end = min(max(offset + float(end), start), window_end)
        words.append({"word": chunk["text"], "start": round(start, 3), "end": round(end, 3)})
    return words
