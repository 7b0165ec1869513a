"""Caller turns for end-of-turn tests and evaluations, on a telephone line: a complete sentence,
the same sentence cut off mid-way (the caller stops after word k, with the prosody of a sentence
that goes on), and a hesitation (cut after word k, a pause, then the rest).

Sentences are rendered whole (speechgen voices, quiet 8 kHz μ-law channel), so the cut-off part
keeps mid-sentence intonation; the cut falls at the quietest 10 ms near the end of word k, found
with faster-whisper's word timestamps on the clean render (cached on disk). The turn is put
together at the line's 8 kHz, where line noise (white up to 4 kHz, 20 dB below the speech, as in
speechgen's telephone channel) covers all of it, pauses included; then resampled to 16 kHz."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from voicebot.audio.types import Audio
from voicebot.audio.wavio import read_wav
from voicebot.cache import cache_dir, replaced_atomically
from voicebot.speechgen import CLEAN, TELEPHONE_QUIET, speak

RATE = 16000
LINE_RATE = 8000
LEAD_S, TAIL_S = 0.5, 2.5
SNR_DB = 20.0

# (sentence, number of words after which the caller may stop or pause): development set ...
DEV_SENTENCES = [("I would like to check the balance of my savings account", 9),
                 ("my debit card was stolen at the train station yesterday", 7),
                 ("can you tell me when the branch on main street opens", 6),
                 ("I need to transfer some money to my sister", 6),
                 ("I see a payment on my statement that I did not make", 7),
                 ("I want to change the address on my account", 8),
                 ("could you send me a new card because mine is broken", 5),
                 ("I have been waiting for my refund for two weeks", 6)]
# ... and a separate report set. Each cut leaves a sentence that cannot end there ("... on my").
REPORT_SENTENCES = [("I am calling because I lost my credit card this morning", 5),
                    ("please block my card and send me a replacement", 5),
                    ("what time does the branch close on friday evening", 5),
                    ("I would like to speak to someone about a mortgage", 6),
                    ("my online banking password does not work today", 5),
                    ("I think somebody used my card to buy things online", 7),
                    ("can I increase the limit on my credit card", 7),
                    ("I need a statement for the last three months", 5)]


@dataclass(frozen=True)
class Turn:
    audio: Audio  # 16 kHz, noise throughout
    speech_end: int  # sample where the caller's (first) stretch of speech ends
    resume: int | None  # sample where speech resumes after a hesitation (None: it does not)


@lru_cache(maxsize=1)
def _aligner():
    from faster_whisper import WhisperModel

    from voicebot.asr.whisper_model import packaged_model_dir

    return WhisperModel(str(packaged_model_dir()), device="cpu", compute_type="int8", cpu_threads=1)


def cut_point(text: str, voice: str, after_words: int) -> float:
    """Seconds into the render of `text` where word `after_words` ends (at the quietest 10 ms
    within 60 ms of Whisper's boundary)."""
    key = hashlib.sha1(f"{text}|{voice}|{after_words}".encode()).hexdigest()[:16]
    path = cache_dir("turns") / f"{key}.json"
    if path.exists():
        return float(json.loads(path.read_text())["cut_s"])
    cut = _align_cut(text, voice, after_words)
    with replaced_atomically(path) as tmp:  # parallel test workers may write the same key
        tmp.write_text(json.dumps({"text": text, "voice": voice, "after_words": after_words, "cut_s": cut}))
    return cut


def _align_cut(text: str, voice: str, after_words: int) -> float:
    clean = read_wav(speak(text, voice)).canonical(RATE)
    segments, _ = _aligner().transcribe(clean.to_float(), word_timestamps=True, language="en", beam_size=1)
    words = [w for s in segments for w in s.words]
    said = [w.word.strip(" .,?!").lower() for w in words]
    expected = text.lower().split()
    # Whisper may mishear a robotic voice; the cut is trusted only where the words line up
    if len(said) != len(expected) or said[after_words - 1] != expected[after_words - 1] or len(words) <= after_words:
        raise ValueError(f"{voice}: Whisper aligned {said} to {text!r}; cannot cut after word {after_words}")
    boundary = (words[after_words - 1].end + words[after_words].start) / 2
    x = clean.to_float()
    hop = RATE // 100
    lo, hi = int((boundary - 0.06) * RATE), int((boundary + 0.06) * RATE)
    starts = range(max(0, lo), max(lo + 1, min(hi, x.size - hop)), hop)
    return min(starts, key=lambda i: float(np.sum(x[i : i + hop] ** 2))) / RATE


def _loud_span(x: np.ndarray, rate: int) -> tuple[int, int]:
    """First and last+1 sample of the 10 ms frames within 40 dB of the loudest."""
    hop = rate // 100
    energy = np.array([np.mean(x[i : i + hop] ** 2) for i in range(0, x.size - hop + 1, hop)])
    loud = np.flatnonzero(energy > energy.max() * 1e-4)
    return int(loud[0] * hop), int((loud[-1] + 1) * hop)


def _speech(text: str, voice: str, rate: int) -> np.ndarray:
    """The render without its own leading and trailing silence: the quiet telephone channel at
    8 kHz, or the studio render at 16 kHz (a wideband line, for comparison)."""
    channel = TELEPHONE_QUIET if rate == LINE_RATE else CLEAN
    audio = read_wav(speak(text, voice, channel)).canonical(rate).to_float().astype(np.float64)
    start, end = _loud_span(audio, rate)
    return audio[start:end]


def _line(parts: list[np.ndarray], seed: int, snr_db: float, rate: int) -> Audio:
    """The parts in a row with noise over all of it (white up to rate/2), at 16 kHz."""
    x = np.concatenate(parts)
    active = x[np.abs(x) > 1e-3]
    power = np.mean(active**2) if active.size else 1e-6
    noise = np.random.default_rng(seed).normal(0, np.sqrt(power / 10 ** (snr_db / 10)), x.size)
    return Audio.from_float(x + noise, rate).resample(RATE)


def turn(text: str, voice: str, cut_after: int | None = None, pause_s: float | None = None,
         seed: int = 0, snr_db: float = SNR_DB, wideband: bool = False) -> Turn:
    """Complete (`cut_after` None), truncated (`pause_s` None) or hesitating turn, on a telephone
    line (or a 16 kHz wideband one)."""
    rate = RATE if wideband else LINE_RATE
    speech = _speech(text, voice, rate)
    up = RATE // rate  # sample positions are reported at 16 kHz
    lead, tail = np.zeros(int(LEAD_S * rate)), np.zeros(int(TAIL_S * rate))
    if cut_after is None:
        return Turn(_line([lead, speech, tail], seed, snr_db, rate), up * (lead.size + speech.size), None)
    # the render starts where the clean one does, less the trimmed lead-in
    clean = read_wav(speak(text, voice)).canonical(rate).to_float().astype(np.float64)
    offset, _ = _loud_span(clean, rate)
    cut = int(cut_point(text, voice, cut_after) * rate) - offset
    cut = min(max(1, cut), speech.size - 1)
    head, rest = speech[:cut], speech[cut:]
    if pause_s is None:
        return Turn(_line([lead, head, tail], seed, snr_db, rate), up * (lead.size + head.size), None)
    pause = np.zeros(int(pause_s * rate))
    end = lead.size + head.size
    return Turn(_line([lead, head, pause, rest, tail], seed, snr_db, rate), up * end, up * (end + pause.size))


def groups(parts: tuple[str, ...], voice: str, pause_s: float, seed: int = 0, snr_db: float = SNR_DB) -> Turn:
    """Digits said in groups ("eight seven six five … four three two one"): each group rendered on
    its own, `pause_s` of line noise between them (0: one after the other)."""
    speech = [_speech(p, voice, LINE_RATE) for p in parts]
    pause = np.zeros(int(pause_s * LINE_RATE))
    lead, tail = np.zeros(int(LEAD_S * LINE_RATE)), np.zeros(int(TAIL_S * LINE_RATE))
    seq = [lead]
    for i, part in enumerate(speech):
        seq += [pause, part] if i else [part]
    up = RATE // LINE_RATE
    first_end = lead.size + speech[0].size
    resume = first_end + pause.size if len(speech) > 1 else None
    return Turn(_line([*seq, tail], seed, snr_db, LINE_RATE), up * first_end, None if resume is None else up * resume)
