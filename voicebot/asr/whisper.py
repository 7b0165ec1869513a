"""Whisper tiny.en on CPU (CTranslate2 int8), with a fast path for short utterances and batched
decoding across calls.

faster-whisper always encodes a 30 s window (~1.2 s per caller turn on 2 cores). Here the log-Mel
features (of the speech only: voicebot/asr/features.py) are cut to the utterance plus ~3 s of
padding (a multiple of 100 frames, at least 10 s unless VOICEBOT_ASR_MIN_WINDOW says less) and fed to
`ctranslate2.models.Whisper.generate` directly, on one intra-op thread (the encoder on two when a
core is spare: voicebot/asr/threads.py). A short window makes the
decoder prone to loops on noisy audio, so decoding is guarded: the token budget follows the audio
duration, repeats are penalised, "no speech" results are dropped, and a reading that still looks
looped is heard again in the 10 s window. The line's noise
floor is subtracted first (voicebot/asr/denoise.py): telephone WER fell on every voice.

Each utterance is encoded once; every decode of it (the first reading, the digit prompts tried
after it, the digit-string search, the open re-decode of an answer that says more) reuses that
encoder output. `transcribe_many` decodes the first readings of several calls' utterances in one
`generate` pass (voicebot/pipeline/workers.py gathers them): the decoder's per-token steps are
small matrix products whose cost hardly grows with the batch (docs/asr.md)."""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from voicebot.asr import threads as cores
from voicebot.asr.bandwidth import telephone_view
from voicebot.asr.base import FREE, Hints, partials_at_end, register
from voicebot.asr.denoise import suppress_noise
from voicebot.asr.domain import (DIGIT_PROMPTS, Reading, apply_hints, bias_prompt, fuller_reading, may_be_a_request,
                                 one_digit, says_a_request, says_more, too_long_for, yes_or_no)
from voicebot.asr.features import log_mel
from voicebot.asr.threads import SpareCores, asr_threads
from voicebot.asr.whisper_model import load_whisper
from voicebot.asr.whisper_digits import digit_search, looks_looped, one_digit_scores, pick
from voicebot.audio.types import Audio
from voicebot.envvars import env_number
from voicebot.errors import ConfigError
from voicebot.events import Transcript

FRAMES_PER_SECOND = 100  # Whisper's log-Mel hop is 10 ms
MAX_FRAMES = 3000  # the 30 s window the model was trained on
PAD_SECONDS = 3.0  # silence after the utterance: the model expects speech to end before the window does
# A one-word answer ("yes", "three") in a 4 s window loops ("Yes. Yes? Yes, yes."): the model was
# trained on speech filling a small part of a 30 s window. Digit, yes/no and choice prompts and
# open answers shorter than SHORT_SECONDS always get at least this much (one-word answers still
# doubled in a 6-8 s window: "Agent. Agent."). With VOICEBOT_ASR_MIN_WINDOW below 10 a longer open
# answer is first heard in its own window (+ PAD_SECONDS, at least that many seconds) and heard
# again in this one only when that reading looks looped (`looks_repeated`). The encoder's cost
# follows the window (−5-8 % CPU per turn), but it stays opt-in: on the held-out Piper sentences
# WER rose 0.094 → 0.113 and a replayed call heard "my account" as "my spouse" (docs/asr.md).
SAFE_WINDOW_SECONDS = 10.0
SHORT_SECONDS = 2.0


MIN_WINDOW_SECONDS = env_number("VOICEBOT_ASR_MIN_WINDOW", SAFE_WINDOW_SECONDS)
TOKENS_PER_SECOND = 6  # generous: callers speak ~3 words (~4 tokens) a second
NO_SPEECH_THRESHOLD = 0.6
# Whisper's hallucination on line noise is a confident word or two ("I'm" at avg log-prob −0.5 to
# −0.95 on 3 s of −40 to −34 dBFS noise), so a reading this short is checked for no speech however
# sure it is; longer readings only when unsure (the check is one more decoder pass). Dev: 18 noise
# clips read 0.88-0.93 no-speech, 24 one-word answers in three voices at most 0.15 (docs/asr.md).
SHORT_READING_WORDS = 3
# Open-speech turns also return the beam's runner-up readings; the NLU lets each vote on the intent.
N_BEST = 5
# A digit string of the prompt's length is taken when it is at most this many nats less likely
# than the best string of any length (chosen on the dev set of scripts/bench_digits.py).
# (1, 3 and 10 nats measured 0.79/0.83/0.83 exact at the first try; 3 keeps a group said before
# a pause from being stretched to the full length.)
DIGIT_MARGIN = 3.0
# A one-digit answer (the 1-5 rating) whose first reading names no digit takes the best of the ten
# digits scored against the audio when its log-probability is at least this; below, the words
# stand ("yes" is no rating: the flow asks again). Dev set of bench_digits.py --kind rating: -5.0
# to -6.0 all right on 104/110 answers (-4.75: 103, -4.5: 102); below -5.0 one more of the misses
# is a wrong rating rather than a question asked again ("I'd say three" → "5 3." → 5 at -5.2).
ONE_DIGIT_MIN_LOGP = -5.0

@dataclass
class _Utterance:
    """One request in a batch: its audio, what the prompt expects, and its encoder output."""

    duration: float
    samples: np.ndarray
    hints: Hints
    started: float
    encoded: np.ndarray | None = None  # [1, frames // 2, d_model]
    first: Reading = field(default=("", None, ()))
    frames: int = 0  # the window `encoded` was computed on


@dataclass(frozen=True)
class _Decode:
    """The settings of one generate call; decodes with equal settings share a batch."""

    prompt: tuple[int, ...]
    repetition_penalty: float
    no_repeat_ngram_size: int
    n_best: int


class WhisperRecognizer:
    name = "whisper"
    batched = True  # transcribe_many decodes several utterances in one pass

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        beam_size: int = 5,
        threads: int = 0,
        bias: bool = True,
        denoise: bool = True,
        min_window: float | None = None,
        short_seconds: float = SHORT_SECONDS,
        encoder_threads: int = 0,  # 0: VOICEBOT_ASR_ENCODER_THREADS
        wide_when: str = "spare",  # "always": the wider encoder whatever the load (idle-machine benchmarks)
    ) -> None:
        import ctranslate2
        from faster_whisper.feature_extractor import FeatureExtractor

        threads = int(threads) or asr_threads()
        wide = int(encoder_threads) or cores.encoder_threads()
        loaded = load_whisper(model, threads, wide)
        # the encoder's copy with more threads (`_wide`), used when a core is spare (voicebot/asr/threads.py)
        self._model, self._wide, self._tokenizer = loaded.model, loaded.wide, loaded.tokenizer
        self._digest = loaded.digest
        self._features = FeatureExtractor(feature_size=self._model.n_mels)  # its Mel filterbank, computed once
        self.beam_size = int(beam_size)
        self.bias = _flag(bias)
        self.denoise = _flag(denoise)  # off only to measure what it buys (bench_asr --option denoise=false)
        # open answers' window floor in seconds (default VOICEBOT_ASR_MIN_WINDOW, 10; bench_asr
        # --option min_window=0 hears answers of 2 s or more in their own window)
        self.min_window = MIN_WINDOW_SECONDS if min_window is None else float(min_window)
        self.short_seconds = float(short_seconds)  # open answers shorter than this keep the 10 s window
        if wide_when not in ("spare", "always"):
            raise ConfigError(f"whisper option wide_when={wide_when!r}: expected 'spare' or 'always'")
        self._spare = SpareCores(need=cores.ALWAYS if wide_when == "always" else cores.SPARE_CORES)
        self._wide_threads = wide
        self.encodes = {"wide": 0, "one thread": 0}  # which encoder ran, so far (benchmark details)
        if self._wide is not None:
            # the wider copy starts its threads on its first encode: start them at load rather than in
            # a call (scripts/soak.py counted the thread a first wide encode started after its
            # warm-up as leaked, when the machine had been too busy for the wide path until then)
            silence = log_mel(self._features, np.zeros(16000, np.float32), 100)
            self._wide.encode(ctranslate2.StorageView.from_array(silence[None]))

    # ---- the Recognizer Protocol ------------------------------------------------------------
    @property
    def version(self) -> str:
        """Which weights these are (`whisper_model.model_version`), kept in every call record it hears."""
        return self._digest.result()

    def transcribe(self, audio: Audio, hints: Hints = FREE) -> Transcript:
        return self.transcribe_many([(audio, hints)])[0]

    def partials(self, frames: Iterable[Audio], hints: Hints = FREE) -> Iterator[str]:
        """Whisper is not a streaming model: one hypothesis once the frames are in."""
        return partials_at_end(self, frames, hints)

    def transcribe_many(self, requests: Sequence[tuple[Audio, Hints]]) -> list[Transcript]:
        """Each (audio, hints) as `transcribe` would hear it alone; the first readings of all of
        them are decoded in as few `generate` calls as their settings allow (usually one)."""
        utts = [self._prepare(audio, hints) for audio, hints in requests]
        self._first_readings([u for u in utts if u.encoded is not None])
        return [self._finish(u) for u in utts]

    # ---- one utterance -----------------------------------------------------------------------
    def _prepare(self, audio: Audio, hints: Hints) -> _Utterance:
        pcm = audio.canonical()
        started = time.perf_counter()
        samples = pcm.to_float()
        if self.denoise:
            samples = suppress_noise(samples, pcm.rate)
        if hints.kind == "digits" and hints.length != 1:  # a line's empty high band, filled (asr/bandwidth.py)
            samples = telephone_view(samples, pcm.rate)
        utt = _Utterance(pcm.duration, samples, hints, started)
        if samples.shape[0]:
            own = hints.kind == "free" and utt.duration >= self.short_seconds
            self._encode(utt, self.min_window if own else SAFE_WINDOW_SECONDS)
        return utt

    def _encode(self, utt: _Utterance, floor: float) -> None:
        """Encoder output for the utterance in a window of at least `floor` seconds; one at a time:
        a batched encoder pass measured no cheaper per utterance on 2 cores. On the wider copy when
        a core is spare: the same output, bit for bit (tests/test_asr_rtf.py), in less wall time."""
        import ctranslate2

        utt.frames = window_frames(utt.samples.shape[0] / 16000, floor)
        features = log_mel(self._features, utt.samples, utt.frames)
        wide = self._wide is not None and self._spare.available()
        self.encodes["wide" if wide else "one thread"] += 1
        with self._spare.working(self._wide_threads if wide else 1):
            encoded = (self._wide if wide else self._model).encode(ctranslate2.StorageView.from_array(features[None]))
        utt.encoded = np.asarray(encoded)

    def _finish(self, utt: _Utterance) -> Transcript:
        hints = utt.hints
        if utt.encoded is not None and utt.frames < SAFE_WINDOW_SECONDS * FRAMES_PER_SECOND \
                and looks_repeated(utt.first[0], utt.duration):
            self._encode(utt, SAFE_WINDOW_SECONDS)  # a short window's loop: hear it as before
            utt.first = self._decode([utt], self._settings(hints))[0]
        text, confidence, alternatives = utt.first
        if hints.kind == "digits":
            text, confidence = self._digits(utt)
            alternatives = ()
        if hints.kind == "digits" and says_more(text, hints):  # more than asked: hear it all
            hints = FREE
            text, confidence, alternatives = self._decode([utt], self._settings(FREE))[0]
        elif hints.kind == "yesno" and (says_more(text, hints) or too_long_for(text, utt.duration, hints)):
            # more than asked, or too long for its words ("Yes. No." kept only the first ones): hear it openly
            fuller = fuller_reading(self._decode([utt], self._settings(FREE))[0], (text, confidence, alternatives), hints)
            if fuller is not None:
                hints = FREE
                text, confidence, alternatives = fuller
        return Transcript(apply_hints(text, hints), self.name, utt.duration, time.perf_counter() - utt.started,
                          confidence, alternatives)

    def _digits(self, utt: _Utterance) -> tuple[str, float | None]:
        """Digit strings: Whisper drops or repeats digits now and then, differently under each
        prompt. With a known length the first prompt whose answer has that length wins; without
        one, the shortest answer wins (a loop only ever adds digits: "three" → "33")."""
        hints = utt.hints
        if utt.encoded is None:
            return "", None
        if hints.length == 1:
            return self._one_digit(utt)
        answers: list[tuple[str, float | None]] = []
        for attempt in range(len(DIGIT_PROMPTS)):
            text, confidence, _ = utt.first if attempt == 0 else self._decode([utt], self._settings(hints, attempt))[0]
            if attempt == 0 and says_more(text, hints):  # words and no digit, under the digit prompt
                return text, confidence  # ("I don't know it", "my number was wrong"): kept as said
            if attempt == 0 and may_be_a_request(text, hints):  # "… number was 1": ask an open reading
                openly = self._decode([utt], self._settings(FREE))[0]
                if says_a_request(openly[0], hints):
                    return openly[:2]
            digits = apply_hints(text, hints)
            if hints.length and len(digits) == hints.length:
                # a group looped to the full length counts only if another prompt agrees
                if not looks_looped(digits) or any(apply_hints(a[0], hints) == digits for a in answers):
                    return text, confidence
            answers.append((text, confidence))
        heard = [apply_hints(a[0], hints) for a in answers]
        for full in (d for d in heard if hints.length and len(d) == hints.length):  # looped, unconfirmed
            half = full[: len(full) // 2]
            return (" ".join(half), None) if half in heard else next(a for a in answers if apply_hints(a[0], hints) == full)
        if hints.length:  # no reading had the length: search digit strings of that length
            with self._spare.working():  # the recogniser's own one-thread work, as in _decode
                finished = digit_search(self._model, self._tokenizer, utt.encoded, self._prompt(hints, 0),
                                        hints.length + 2)
            found = pick(finished, hints.length, DIGIT_MARGIN)
            if found and looks_looped(found) and found[: len(found) // 2] in heard:
                found = found[: len(found) // 2]  # a group stretched to the full length: keep the group
            if found:
                return " ".join(found), None
            # no number of that length: an open reading tells words ("my number was wrong" heard as
            # "1", "both I guess" as "2 5 7" under a digit prompt) from a group said before a pause
            openly = self._decode([utt], self._settings(FREE))[0]
            return openly[:2] if says_more(openly[0], hints) else answers[0]
        numeric = [a for a in answers if apply_hints(a[0], hints).isdigit()] or answers
        return min(numeric, key=lambda a: len(apply_hints(a[0], hints)))

    def _one_digit(self, utt: _Utterance) -> tuple[str, float | None]:
        """One-digit answers (the survey's 1-5 rating) in at most one more pass: the first reading
        when it holds one digit, said once or looped ("5 5", "four out of five": `domain.one_digit`);
        else the ten digits scored against the audio at once (`one_digit_scores`), the best kept
        when likely enough; else the words as heard. The three-prompt chain, the digit search and
        the open re-decode took 0.5-1.2 s when the first reading had no digit, and heard "yes" as 1
        (docs/asr.md "One-digit answers")."""
        text, confidence, _ = utt.first
        digit = one_digit(text)
        if digit is not None:
            return digit, confidence
        if not text or says_a_request(text, utt.hints) or yes_or_no(text):  # no speech, "I want an agent", "yes"
            return text, confidence
        with self._spare.working():
            scores = one_digit_scores(self._model, self._tokenizer, utt.encoded, self._prompt(utt.hints, 0))
        if scores and scores[0][1] >= ONE_DIGIT_MIN_LOGP:
            return scores[0][0], None
        return text, confidence

    def _prompt(self, hints: Hints, attempt: int = 0) -> list[int]:
        tok = self._tokenizer
        if not self.bias:
            return [*tok.sot_sequence, tok.no_timestamps]
        bias = tok.encode(" " + bias_prompt(hints, attempt))[:100]
        return [tok.sot_prev, *bias, *tok.sot_sequence, tok.no_timestamps]

    # ---- decoding ------------------------------------------------------------------------------
    def _settings(self, hints: Hints, attempt: int = 0) -> _Decode:
        digits = hints.kind == "digits"
        return _Decode(
            tuple(self._prompt(hints, attempt)),
            # "1 1 1 1" is legitimate; with a known length a loop shows in the count, without one
            # ("three" → "3 3 3") the penalty stays
            1.0 if digits and hints.length else 1.1,
            # digit strings legitimately repeat ("5 5 5"); elsewhere a repeated trigram is a loop
            0 if digits else 3,
            N_BEST if hints.kind == "free" else 1,
        )

    def _first_readings(self, utts: list[_Utterance]) -> None:
        """The first decode of every utterance, one `generate` per distinct setting and window
        (a batch's encoder outputs must be equally long; padding one would change what it hears)."""
        groups: dict[tuple[_Decode, int], list[_Utterance]] = {}
        for utt in utts:
            groups.setdefault((self._settings(utt.hints), utt.frames), []).append(utt)
        for (settings, _), group in groups.items():
            for utt, reading in zip(group, self._decode(group, settings)):
                utt.first = reading

    def _decode(self, utts: list[_Utterance], s: _Decode) -> list[Reading]:
        """Best reading, its confidence and up to n_best - 1 runner-up readings per utterance."""
        import ctranslate2

        # Each utterance's token budget follows its duration; the batch runs to the largest and
        # each reading is cut to its own (generate emits at most max_length - len(prompt) + 1).
        budgets = [8 + int(TOKENS_PER_SECOND * u.duration) for u in utts]
        encoded = np.concatenate([u.encoded for u in utts]) if len(utts) > 1 else utts[0].encoded
        with self._spare.working():
            results = self._model.generate(
                ctranslate2.StorageView.from_array(np.ascontiguousarray(encoded)),
                [list(s.prompt)] * len(utts),
                beam_size=self.beam_size,
                max_length=len(s.prompt) + max(budgets),
                repetition_penalty=s.repetition_penalty,
                no_repeat_ngram_size=s.no_repeat_ngram_size,
                return_scores=True,
                suppress_blank=True,
                num_hypotheses=min(s.n_best, self.beam_size),  # the beam holds them anyway: no extra cost
            )
        return [self._reading(result, budget + 1, utt, s.prompt) for result, budget, utt in zip(results, budgets, utts)]

    def _reading(self, result, cap: int, utt: _Utterance, prompt: tuple[int, ...]) -> Reading:
        eot = self._tokenizer.eot
        readings = [self._tokenizer.decode([t for t in ids[:cap] if t < eot]).strip() for ids in result.sequences_ids]
        avg_logprob = result.scores[0] if result.scores else 0.0
        unsure = avg_logprob < -1.0 or 0 < len(readings[0].split()) <= SHORT_READING_WORDS
        if unsure and self._no_speech_prob(utt, prompt) > NO_SPEECH_THRESHOLD:
            return "", None, ()  # line noise, not speech: an empty transcript beats a hallucination
        others = tuple(dict.fromkeys(r for r in readings[1:] if r and r != readings[0]))
        return readings[0], float(math.exp(avg_logprob)), others

    def _no_speech_prob(self, utt: _Utterance, prompt: tuple[int, ...]) -> float:
        """The model's "no speech" probability at the start of the transcript. Asked only for an
        unlikely reading (the test above needs both): returned by every decode it cost 3-6 ms of
        CPU per call, for one reading in ten. It depends on the prompt and the audio only, so one
        greedy step gives the value the beam search would have (bit for bit: tests/test_asr_rtf.py)."""
        import ctranslate2

        features = ctranslate2.StorageView.from_array(np.ascontiguousarray(utt.encoded))
        with self._spare.working():
            result = self._model.generate(features, [list(prompt)], beam_size=1, max_length=len(prompt) + 1,
                                          return_no_speech_prob=True)[0]
        return result.no_speech_prob


def window_frames(seconds: float, floor: float) -> int:
    """Mel frames of the window for `seconds` of speech: the speech plus PAD_SECONDS, at least
    `floor` seconds, a multiple of 100 frames (1 s), at most the model's 30 s."""
    padded = max(seconds + PAD_SECONDS, floor)
    return min(MAX_FRAMES, math.ceil(round(padded * FRAMES_PER_SECOND, 6) / 100) * 100)


def looks_repeated(text: str, seconds: float) -> bool:
    """A reading a short window made loop: a word twice in a row ("Transfer. Transfer."), two
    words twice in a row ("my card my card"), a phrase of three or more words twice anywhere ("I'd
    like to open a new savings account. I'd like to open the new savings"), or more words than a
    caller says in the time (~3 a second: the decoder's token budget ran out)."""
    words = re.findall(r"[\w']+", text.lower())
    if len(words) > 4 * seconds + 4:
        return True
    for i in range(len(words)):
        if words[i:i + 1] == words[i + 1:i + 2] or (i + 4 <= len(words) and words[i:i + 2] == words[i + 2:i + 4]):
            return True
    trigrams = [tuple(words[i:i + 3]) for i in range(len(words) - 2)]
    return len(set(trigrams)) < len(trigrams)


def _flag(value: object) -> bool:
    """Options arrive as strings from the CLI and the benchmark ("false", "0", "no")."""
    return str(value).lower() not in ("0", "false", "no")


@register("whisper")
def _factory(**options: object) -> WhisperRecognizer:
    return WhisperRecognizer(**options)  # type: ignore[arg-type]
