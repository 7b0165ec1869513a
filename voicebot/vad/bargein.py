"""Barge-in: is the caller talking over the bot? Fires on sustained caller speech only.

How the Session uses it: `voicebot.pipeline.bargein.SileroBargeIn` (the default barge-in
detector, `VOICEBOT_BARGE_IN=silero`) feeds it every caller frame of the call at the Session's
rate, after the echo canceller (voicebot.pipeline.echo_input) and the streaming resampler:

    detector = BargeInDetector()                      # BargeInConfig() defaults, 16 kHz input
    match detector.push(frame):                       # any frame size, in order, one thread
        case BargeIn(): stop playback now (the Session pauses the prompt; its endpointer's own
                        pre-roll gives the turn's audio from before the onset — `pre_roll` here
                        is the same audio for callers without an endpointer)
        case None: keep playing
    ...when the recognised text of that turn is empty or only a backchannel ("mm-hm", "okay";
    voicebot.pipeline.backchannel), it was not a turn: resume the prompt where it stopped.

CPU: a chunk under `min_level_dbfs`, or one the caller marks as unable to start a run
(`push(frame, listen=False)`: SileroBargeIn passes webrtcvad's verdict), is non-speech without
running the VAD or the pitch search. Before the VAD hears a chunk again it catches up on the
skipped ones (up to 256 ms), so skipping never moves a decision (tests/test_session_bargein.py).

`rearm()` when a prompt starts, stops or resumes (forgets a half-open run; the VAD's recurrent
state and the stream go on); `reset()` forgets the stream too. `last_speech` is the verdict on
the last chunk, `in_run` whether a speech run is open. The Silero session inside is shared by all
calls of the process. Time is counted in samples (`BargeIn.start_sample`, `.fired_sample`: from
the first frame pushed since construction/reset), never read from the clock.

The rule: a speech run opens at the first chunk the VAD calls speech and closes after `gap_ms`
of non-speech; the detector fires once the run holds `min_speech_ms` of speech and one of the
last three chunks is voiced (periodic at a pitch lag, which noise bursts, coughs and clicks are not).
Residual echo after the WebRTC canceller is not speech to Silero. Measured on telephone scenes
by scripts/eval_bargein.py and, through the Session, scripts/eval_session_bargein.py
(docs/realtime.md).

VAD backends (`BargeInConfig.vad`): "silero" (Silero v5 ONNX, 32 ms chunks, the default: it
rejects noise bursts that webrtcvad calls speech), "webrtc" (webrtcvad, 30 ms frames),
"both" (Silero chunks that webrtcvad also calls voiced).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np
import webrtcvad

from voicebot.audio.types import CANONICAL_RATE, Audio
from voicebot.vad.silero import SileroStream

VADS = ("silero", "webrtc", "both")
WARM_UP_CHUNKS = 8  # skipped chunks the VAD catches up on before it hears the next one (256 ms)


@dataclass(frozen=True)
class BargeInConfig:
    vad: str = "silero"
    threshold: float = 0.5  # Silero speech probability for a speech chunk
    webrtc_aggressiveness: int = 3
    min_speech_ms: int = 32  # speech needed in the run before firing (one Silero chunk) ...
    voicing: float = 0.5  # ... and one of the last 3 chunks must be voiced: periodic, as vowels
    # are and noise bursts, coughs and clicks are not (pre-emphasised autocorrelation at a pitch lag)
    gap_ms: int = 64  # non-speech that closes a run (a run never spans a longer pause)
    min_level_dbfs: float = -50.0  # quieter chunks are never speech (line noise, residual echo)
    pre_roll_ms: int = 300  # audio kept before the run's onset, for the first syllable

    def __post_init__(self) -> None:
        if self.vad not in VADS:
            raise ValueError(f"barge-in VAD must be one of {VADS}, got {self.vad!r}")


@dataclass(frozen=True)
class BargeIn:
    start_sample: int  # onset of the caller's speech run (input samples since reset)
    fired_sample: int  # end of the chunk on which the detector decided
    pre_roll_start: int  # input sample where `pre_roll` begins
    pre_roll: Audio  # from pre_roll_ms before the onset to the end of the frame just pushed


class BargeInDetector:
    def __init__(self, config: BargeInConfig = BargeInConfig(), rate: int = CANONICAL_RATE) -> None:
        self.config, self.rate = config, rate
        self.precheck = True  # False: every chunk goes through the VAD (the cost it is measured against)
        self._skipped: collections.deque[np.ndarray] = collections.deque(maxlen=WARM_UP_CHUNKS)
        self._skipped_n = 0  # chunks skipped since the VAD last ran
        self._silero = SileroStream(rate) if config.vad != "webrtc" else None
        self._webrtc = webrtcvad.Vad(config.webrtc_aggressiveness)
        self.chunk = self._silero.chunk if self._silero else rate * 30 // 1000
        keep = (config.pre_roll_ms + 2000) * rate // 1000  # pre-roll + the longest plausible run
        self._history: collections.deque[np.ndarray] = collections.deque()
        self._history_len, self._keep = 0, keep
        self.reset()

    def reset(self) -> None:
        if self._silero:
            self._silero.reset()
        self._skipped.clear()
        self._skipped_n = 0
        self._pending = np.zeros(0, dtype=np.int16)
        self._history.clear()
        self._history_len = 0
        self._samples = 0  # samples classified so far
        self.last_speech = False  # the verdict on the last chunk classified
        self.rearm()

    def rearm(self) -> None:
        """Watch for a new speech run (a prompt started or resumed) without forgetting the stream:
        the VAD's recurrent state, the pending samples and the sample count go on."""
        self._onset: int | None = None
        self._speech_samples = 0
        self._last_speech_end = 0
        self._fired = False
        self._recent_voicing: collections.deque[list] = collections.deque(maxlen=3)  # [chunk, voiced]

    @property
    def in_run(self) -> bool:
        """A speech run is open (it has not yet been closed by `gap_ms` of non-speech)."""
        return self._onset is not None

    def push(self, frame: Audio, listen: bool = True) -> BargeIn | None:
        """Feed one caller frame; returns a BargeIn on the frame where sustained speech is
        recognised, once until `reset()`, else None. `listen=False`: the caller knows these
        chunks cannot start a barge-in (no voice in them) — they are counted as non-speech without
        running the VAD, which is what a call's CPU goes to."""
        if frame.rate != self.rate:
            raise ValueError(f"barge-in detector runs at {self.rate} Hz, got a {frame.rate} Hz frame")
        samples = frame.to_mono().samples
        self._remember(samples)
        self._pending = np.concatenate([self._pending, samples]) if self._pending.size else samples
        fired: BargeIn | None = None
        while self._pending.size >= self.chunk:
            chunk, self._pending = self._pending[: self.chunk], self._pending[self.chunk :]
            # Silence (under min_level_dbfs) is never speech: with the pre-check it costs no
            # inference and no pitch search, nor does a chunk the caller says cannot start a run.
            loud = self._level(chunk) >= self.config.min_level_dbfs
            if self.precheck and not (loud and (listen or self._onset is not None)):
                speech = loud = False
                self._skipped.append(chunk)
                self._skipped_n += 1
            else:
                self._catch_up()
                speech = self._is_speech(chunk) and loud
            self.last_speech = speech
            self._samples += self.chunk
            fired = self._advance(speech, chunk if loud else None) or fired
        return fired

    def _catch_up(self) -> None:
        """Before the VAD hears a chunk again, it hears the chunks skipped since (the last
        WARM_UP_CHUNKS of them, from a fresh state when more were skipped), so its recurrent state
        is what it would have been had it heard them all: skipping costs no detection time
        (Silero decides a chunk or two later from a cold state)."""
        if not self._skipped_n or not self._silero:
            return
        if self._skipped_n > len(self._skipped):
            self._silero.reset()
        for chunk in self._skipped:
            self._silero.prob(chunk)
        self._skipped.clear()
        self._skipped_n = 0

    @staticmethod
    def _level(chunk: np.ndarray) -> float:
        x = chunk.astype(np.float32)
        return float(10 * np.log10(float(np.dot(x, x)) / (x.size * 32768.0**2) + 1e-12))

    def _is_speech(self, chunk: np.ndarray) -> bool:
        if self.config.vad == "webrtc":
            return self._webrtc.is_speech(chunk.tobytes(), self.rate)
        if self._silero.prob(chunk) < self.config.threshold:
            return False
        if self.config.vad == "silero":
            return True
        ten = self.rate // 100  # webrtcvad on the chunk's 10 ms sub-frames; most must be voiced
        votes = [self._webrtc.is_speech(chunk[k : k + ten].tobytes(), self.rate)
                 for k in range(0, chunk.size - ten + 1, ten)]
        return sum(votes) * 2 > len(votes)

    def _periodicity(self, chunk: np.ndarray) -> float:
        """Peak normalised autocorrelation at lags of a 70-400 Hz voice pitch (0 for noise)."""
        x = np.diff(chunk.astype(np.float64))  # pre-emphasis whitens 1/f noise, keeps pitch
        energy = np.dot(x, x)
        if energy <= 0:
            return 0.0
        lo, hi = self.rate // 400, self.rate // 70
        # autocorrelation by FFT (zero-padded past 2n, so it is linear, not circular)
        spectrum = np.fft.rfft(x, 2 * x.size)
        ac = np.fft.irfft(spectrum.real**2 + spectrum.imag**2)[lo : hi + 1]
        # unbiased: a lag-k product has x.size - k terms
        ac = ac / (energy * (1 - np.arange(lo, lo + ac.size) / x.size))
        return float(ac.max())

    def _voiced(self, recent: list) -> bool:
        """One of the recent chunks is voiced; each chunk's pitch search runs at most once, and
        only when the run is otherwise ready to fire."""
        for item in recent:
            if item[1] is None and item[0] is not None:
                item[1] = self._periodicity(item[0]) >= self.config.voicing
            if item[1]:
                return True
        return False

    def _advance(self, speech: bool, loud: np.ndarray | None) -> BargeIn | None:
        end = self._samples
        # Voicing is looked for in the last few chunks, not only those the VAD already calls
        # speech: Silero is often still unsure during the first voiced chunk of an utterance.
        # A quiet chunk (None) is not voiced; a loud one is judged when a decision needs it.
        self._recent_voicing.append([loud, None if loud is not None else False])
        if speech:
            if self._onset is None:
                self._onset, self._speech_samples = end - self.chunk, 0
            self._speech_samples += self.chunk
            self._last_speech_end = end
        elif self._onset is not None and end - self._last_speech_end >= self.config.gap_ms * self.rate // 1000:
            self._onset = None  # the run ended before it was long enough (or after it fired)
        if self._onset is None or self._fired:
            return None
        if self._speech_samples * 1000 < self.config.min_speech_ms * self.rate:
            return None
        if not self._voiced(list(self._recent_voicing)):
            return None
        self._fired = True
        start = max(0, self._onset - self.config.pre_roll_ms * self.rate // 1000)
        audio = self._audio_from(start)
        pushed = self._samples + self._pending.size
        return BargeIn(self._onset, end, pushed - audio.num_samples, audio)

    def _remember(self, samples: np.ndarray) -> None:
        self._history.append(samples)
        self._history_len += samples.size
        while self._history and self._history_len - self._history[0].size >= self._keep:
            self._history_len -= self._history.popleft().size

    def _audio_from(self, start: int) -> Audio:
        """Input from sample `start` (counted from reset) to the end of everything pushed so far,
        so the frames pushed next continue it without a gap."""
        pushed = self._samples + self._pending.size
        data = np.concatenate(list(self._history)) if self._history else np.zeros(0, np.int16)
        first = pushed - data.size  # sample index of data[0]
        return Audio(data[max(0, start - first) :].copy(), self.rate)
