"""The real-time Session: the audio path never waits on the workers, and barge-in on replayed
speech (Piper voices, virtual time: every figure is measured on the signal, in samples)."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from voicebot.audio import Audio, read_wav
from voicebot.bench.latency import Listening
from voicebot.events import Prompt, Spoken, Transcript, Understood
from voicebot.flow import CallEngine, flow_from_text, load_flow
from voicebot.flow.actions import Expect
from voicebot.pipeline import Session, Stack
from voicebot.pipeline.events import BargedIn, Interrupted
from voicebot.store import open_store
from voicebot.transports.replay import replay_audio, stream_call

NOON = datetime(2026, 11, 18, 12, 0, tzinfo=ZoneInfo("America/New_York"))
FRAME_S = 0.03


class SlowRecognizer:
    """Blocks every decode until the test releases it."""

    name = "slow"

    def __init__(self) -> None:
        self.release, self.calls = threading.Event(), 0

    def transcribe(self, audio, hints=None) -> Transcript:
        self.calls += 1
        self.release.wait(60)
        return Transcript("I lost my card", self.name, audio.duration, 0.0)

    def partials(self, frames, hints=None):
        return iter(())


class FixedNlu:
    def understand(self, text, alternatives=()) -> Understood:
        return Understood(text, "report_lost_card", 0.95, "neutral", 0.0)


def test_audio_path_keeps_taking_frames_while_a_decode_runs(speak, tmp_path):
    recognizer = SlowRecognizer()
    stack = Stack(recognizer, FixedNlu(), None)
    engine = CallEngine(load_flow("flows/bank.yml"), open_store(f"sqlite:///{tmp_path / 'c.db'}", demo=True), now=NOON)
    session = Session(engine, stack)
    session.start()
    session.settle()
    speech = read_wav(speak("I lost my card", "piper")).canonical() + Audio.silence(1.0)
    for frame in speech.frames(20):  # 20 ms pushes, re-buffered to the VAD's 30 ms frames
        session.push(frame)
        session.read(20)
    deadline = time.monotonic() + 30  # the worker thread picks the turn up when the OS runs it
    while recognizer.calls < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert recognizer.calls >= 1 and session.busy  # the decode is stuck in the worker…
    before = session.now
    for frame in Audio.silence(3.0).frames(20):  # …and three more seconds of audio flow both ways
        session.push(frame)
        assert session.read(20).num_samples == 320
    assert session.now - before == pytest.approx(3.0)
    assert engine.state == "main_menu"  # the turn is not handled yet
    recognizer.release.set()
    session.settle()
    assert engine.record.intents == ["report_lost_card"] and engine.expecting.secret  # now the ID prompt


# ---- barge-in on real speech --------------------------------------------------------------

@pytest.fixture(scope="module")
def stack():
    return Stack.load(asr="whisper", tts="piper")


def _engine(tmp_path: Path, flow=None) -> CallEngine:
    return CallEngine(flow or load_flow("flows/bank.yml"), open_store(f"sqlite:///{tmp_path / 'b.db'}", demo=True),
                      now=NOON)


def _caller_side(parts: list[tuple[float, Audio]], total_s: float) -> Audio:
    """The caller's channel: each Audio placed at its start time, silence elsewhere."""
    out = np.zeros(int(total_s * 16000), np.int16)
    for at, audio in parts:
        pcm = audio.canonical().samples
        start = int(at * 16000)
        out[start:start + pcm.shape[0]] = pcm[: out.shape[0] - start]
    return Audio(out, 16000)


def _onset(audio: Audio) -> float:
    """Where speech really starts in a rendered WAV (leading silence skipped)."""
    loud = np.flatnonzero(np.abs(audio.canonical().samples.astype(int)) > 500)
    return loud[0] / 16000 if loud.size else 0.0


def _run(stack, engine, caller: Audio):
    bot: list[np.ndarray] = []
    session = Session(engine, stack)
    stream_call(session, caller, on_frame=lambda i, c, b: bot.append(b.samples))
    return session, np.concatenate(bot)


def _stop_ms(bot: np.ndarray, after_s: float) -> float:
    """How long the bot's audio went on after `after_s`: the first 30 ms of silence."""
    start = int(after_s * 16000)
    hop = int(FRAME_S * 16000)
    for i in range(start, bot.shape[0] - hop, hop):
        if np.abs(bot[i:i + hop].astype(int)).max() < 50:
            return (i - start) / 16
    return float("inf")


@pytest.mark.slow
def test_caller_talking_over_the_greeting_stops_it_and_is_answered(stack, speak, tmp_path):
    words = read_wav(speak("I lost my debit card", "piper"))
    at = 2.0
    engine = _engine(tmp_path)
    session, bot = _run(stack, engine, _caller_side([(at, words)], 8.0))
    onset = at + _onset(words)
    first = engine.record.to_dict()["turns"][0]["bot"]
    assert first["interrupted"] is True
    assert onset * 1000 - 100 < first["played_ms"] < onset * 1000 + 300
    assert _stop_ms(bot, onset) <= 200  # on the signal: the prompt stopped within 200 ms
    assert engine.record.intents == ["report_lost_card"]  # the words from the first syllable count
    assert any(isinstance(e, Interrupted) and e.by == "speech" for e in session.events)


@pytest.mark.slow
def test_a_cough_does_not_stop_the_prompt(stack, tmp_path):
    rng = np.random.default_rng(7)
    cough = Audio((rng.normal(0, 6000, int(0.12 * 16000))).clip(-32000, 32000).astype(np.int16), 16000)
    engine = _engine(tmp_path)
    session, _ = _run(stack, engine, _caller_side([(2.0, cough)], 3.0))
    first = engine.record.to_dict()["turns"][0]["bot"]
    assert first["interrupted"] is False
    assert not any(isinstance(e, Interrupted) for e in session.events)
    assert first["played_ms"] > 5000  # the whole greeting played


@pytest.mark.slow
def test_barge_in_false_plays_the_prompt_to_the_end(stack, speak, tmp_path):
    text = Path("flows/bank.yml").read_text().replace(
        "    expect: intent\n    dtmf: {\"1\": check_balance",
        "    expect: intent\n    barge_in: false\n    dtmf: {\"1\": check_balance", 1)
    assert "barge_in: false" in text
    engine = _engine(tmp_path, flow_from_text(text))
    session, _ = _run(stack, engine, _caller_side([(2.0, read_wav(speak("I lost my debit card", "piper")))], 8.0))
    first = engine.record.to_dict()["turns"][0]["bot"]
    assert first["interrupted"] is False and first["played_ms"] > 5000
    assert not any(isinstance(e, BargedIn) for e in session.events)


@pytest.mark.slow
def test_dtmf_during_a_prompt_interrupts_it(stack, tmp_path):
    engine = _engine(tmp_path)
    session = Session(engine, stack)
    session.start()
    silence = Audio.silence(0.03)
    for i in range(200):
        session.push(silence)
        session.read(30)
        if session.busy:
            session.settle()
        if i == 50:
            session.dtmf("3")  # report a lost card, 1.5 s into the greeting
            session.settle()
    turns = engine.record.to_dict()["turns"]
    assert turns[0]["bot"]["interrupted"] is True and 1300 < turns[0]["bot"]["played_ms"] < 1700
    assert engine.record.intents == ["report_lost_card"]


@pytest.mark.slow
def test_id_and_pin_answers_are_silence_in_the_recording(stack, speak, tmp_path):
    request = read_wav(speak("I lost my debit card", "piper"))
    engine = _engine(tmp_path)
    session = Session(engine, stack, recording_path=tmp_path / "call.wav")
    replay_audio(session, [request, speak("one two three four five six seven eight", "piper"),
                           speak("two four six eight", "piper")])
    assert engine.record.authenticated
    session.recording.close()
    caller = read_wav(tmp_path / "call.wav").samples[:, 0]
    voiced_s = np.count_nonzero(np.abs(caller.astype(int)) > 300) / 16000
    assert voiced_s <= request.duration  # only the request is in the recording, not the digits


class EchoRecognizer(SlowRecognizer):
    def transcribe(self, audio, hints=None) -> Transcript:
        self.calls += 1
        return Transcript("please call me back about my card", self.name, audio.duration, 0.0)


VOICEMAIL_FLOW = """
name: vm
start: leave
settings: {voicemail_seconds: 3}
states:
  leave: {action: voicemail, next: bye}
  bye: {say: "Goodbye.", hangup: true}
"""


def test_voicemail_ends_at_the_flows_max_seconds_after_a_beep(speak, tmp_path):
    message = read_wav(speak("Hello, this is Alice Moreno calling about my card, it was declined at "
                             "the supermarket this morning and again at the pharmacy, please call me back "
                             "as soon as you can, thank you very much.", "piper"))
    assert message.duration > 6
    store = open_store(f"sqlite:///{tmp_path / 'vm.db'}", demo=True)
    engine = CallEngine(flow_from_text(VOICEMAIL_FLOW), store, now=NOON)
    session = Session(engine, Stack(EchoRecognizer(), FixedNlu(), None), voicemail_dir=tmp_path / "vm",
                      recording_path=tmp_path / "call.wav")
    replay_audio(session, [message])
    [task] = store.tasks("voicemail")
    kept = read_wav(task["recording"])
    assert 2.5 <= kept.duration <= 3.1  # cut at voicemail_seconds, not at the first pause or 30 s
    bot = read_wav(tmp_path / "call.wav").samples[:, 1]
    assert np.abs(bot.astype(int)).max() > 5000  # the beep was played before the message


def test_a_failing_listener_is_logged_and_the_call_goes_on(tmp_path, caplog):
    from voicebot.transports.replay import replay_text

    def printer_that_breaks(event) -> None:
        raise RuntimeError("terminal gone")

    engine = CallEngine(load_flow("flows/bank.yml"), open_store(f"sqlite:///{tmp_path / 'l.db'}", demo=True), now=NOON)
    session = Session(engine, Stack(None, FixedNlu(), None), listener=printer_that_breaks)
    replay_text(session, ["I lost my card", "dtmf:12345678", "dtmf:2468"])
    assert engine.record.authenticated and engine.state != "main_menu"
    assert "terminal gone" in caplog.text


class BackchannelRecognizer(SlowRecognizer):
    def transcribe(self, audio, hints=None) -> Transcript:
        self.calls += 1
        return Transcript("Mm-hmm.", self.name, audio.duration, 0.0)


@pytest.mark.slow
def test_a_backchannel_pauses_the_prompt_which_then_resumes_where_it_stopped(stack, speak, tmp_path):
    from voicebot.pipeline.events import Resumed

    listener = Stack(BackchannelRecognizer(), FixedNlu(), stack.prompts)
    engine = _engine(tmp_path)
    words = read_wav(speak("yeah okay", "piper"))  # real speech; the recogniser hears "Mm-hmm."
    session, bot = _run(listener, engine, _caller_side([(2.0, words)], 12.0))
    kinds = [type(e) for e in session.events]
    assert BargedIn in kinds and Resumed in kinds and Interrupted not in kinds
    first = engine.record.to_dict()["turns"][0]["bot"]
    assert first["interrupted"] is False
    # "Welcome…" + the ask, as rendered for this call (Piper's durations vary from one render to the next)
    full = sum([e.audio.duration for e in session.events if isinstance(e, Spoken)][:2]) * 1000
    assert first["played_ms"] >= full - 100  # nothing of the greeting was lost


class BrokenRecognizer(SlowRecognizer):
    def transcribe(self, audio, hints=None) -> Transcript:
        raise RuntimeError("decoder crashed")


def test_a_failing_recogniser_is_a_no_match_counted_in_metrics(speak, tmp_path):
    """A model that raises mid-call: the flow re-asks (a no-match), the call goes on and ends
    with a record, and /metrics counts the ASR error."""
    from voicebot.pipeline.events import StageFailed
    from voicebot.web.metrics import ERRORS, TurnTimer

    before = ERRORS.labels("asr")._value.get()
    engine = _engine(tmp_path)
    session = Session(engine, Stack(BrokenRecognizer(), FixedNlu(), None), listener=TurnTimer())
    replay_audio(session, [read_wav(speak("I lost my card", "piper"))])
    assert [e.stage for e in session.events if isinstance(e, StageFailed)] == ["asr"]
    assert engine.record.turns[0].to_dict().get("intent") in (None, "out_of_scope")
    assert engine.record.to_dict()["outcome"] == "abandoned"  # the caller hung up; the record is kept
    assert ERRORS.labels("asr")._value.get() == before + 1


class InstantYes:
    """A recogniser that hears "yes" at once, noting the pause (ms) at which each decode started."""

    name = "instant"

    def __init__(self) -> None:
        self.session: Session | None = None
        self.started_at_pause: list[int] = []

    def transcribe(self, audio, hints=None) -> Transcript:
        self.started_at_pause.append(self.session._ep.quiet_ms)  # the audio path waits in settle()
        return Transcript("yes", self.name, audio.duration, 0.0)

    def partials(self, frames, hints=None):
        return iter(())


class YesNlu:
    def understand(self, text, alternatives=()) -> Understood:
        return Understood(text, "affirm", 0.95, "neutral", 0.0, {"yesno": "yes"})


def test_recognition_starts_early_but_the_turn_ends_only_at_the_end_of_turn_pause(speak):
    """Decoding starts at SPECULATE_AT_MS of pause (hidden behind the pause); a complete answer
    ends the turn at END_AT_MS for the prompt's kind, not sooner, and before the hang-over."""
    from voicebot.flow.actions import Ask
    from voicebot.pipeline import session as session_mod, speculation
    from voicebot.pipeline.events import TurnTiming

    recognizer = InstantYes()
    session = Session(Listening(Expect("yesno")), Stack(recognizer, YesNlu(), None))
    recognizer.session = session
    session.listen(Ask("", Expect("yesno")), "confirm")
    speech = read_wav(speak("yes", "piper")).canonical() + Audio.silence(1.0)
    for frame in speech.frames(20):
        session.push(frame)
        session.settle()
    timing = [e for e in session.events if isinstance(e, TurnTiming)]
    assert len(timing) == 1 and timing[0].speculative
    assert recognizer.started_at_pause[0] == speculation.SPECULATE_AT_MS  # one VAD frame's rounding aside
    assert speculation.END_AT_MS["yesno"] <= timing[0].endpoint_ms < session_mod.HANG_OVER_MS["yesno"]


class Hearing:
    """A recogniser that hears `text` at once, noting each decode's pause clocks (quiet, webrtcvad)
    and length in samples."""

    name = "hearing"

    def __init__(self, text: str) -> None:
        self.text, self.session = text, None
        self.decodes: list[tuple[int, int, int]] = []

    def transcribe(self, audio, hints=None) -> Transcript:
        ep = self.session._ep
        self.decodes.append((ep.quiet_ms, ep.pause_ms, audio.num_samples))
        return Transcript(self.text, self.name, audio.duration, 0.0)

    def partials(self, frames, hints=None):
        return iter(())


class SureNlu:
    def understand(self, text, alternatives=()) -> Understood:
        return Understood(text, "check_balance", 0.99, "neutral", 0.0, {})


def _one_turn(speak, text_heard: str, engine, kind: str):
    from voicebot.flow.actions import Ask
    from voicebot.pipeline.events import TurnTiming

    recognizer = Hearing(text_heard)
    session = Session(engine, Stack(recognizer, SureNlu() if kind == "intent" else YesNlu(), None))
    recognizer.session = session
    session.listen(Ask("", Expect(kind)), "s")
    speech = read_wav(speak("I would like to check my balance", "piper")).canonical() + Audio.silence(1.5)
    for frame in speech.frames(20):
        session.push(frame)
        session.settle()
    timing = [e for e in session.events if isinstance(e, TurnTiming)]
    heard = [e for e in session.events if isinstance(e, Transcript)]
    return recognizer, timing, heard


@pytest.mark.parametrize("heard", ["", "I would like to check the balance of"])
def test_a_decode_without_evidence_never_ends_the_turn_early(speak, heard):
    """Nothing heard, or a sure request that stops mid-phrase: the turn waits for the hang-over,
    and the kept result is the standard decode's (started at STANDARD_SPECULATE_AT_MS of
    webrtcvad's pause: the audio the recogniser got before the early decode existed)."""
    from voicebot.pipeline import session as session_mod, speculation

    recognizer, timing, _ = _one_turn(speak, heard, Listening(Expect("intent")), "intent")
    assert len(timing) == 1 and timing[0].endpoint_ms >= session_mod.HANG_OVER_MS["intent"]
    early, standard = recognizer.decodes[0], recognizer.decodes[-1]
    assert early[1] == speculation.SPECULATE_AT_MS  # a request's early clock is webrtcvad's pause
    assert standard[1] == speculation.STANDARD_SPECULATE_AT_MS and timing[0].speculative


def test_a_complete_request_ends_the_turn_at_the_early_decode(speak):
    from voicebot.pipeline import session as session_mod, speculation

    recognizer, timing, heard = _one_turn(speak, "I would like to check my balance.", Listening(Expect("intent")), "intent")
    assert len(recognizer.decodes) == 1 and heard[0].text.startswith("I would like")
    assert speculation.END_AT_MS["intent"] <= timing[0].endpoint_ms < session_mod.HANG_OVER_MS["intent"]


class Gated(Hearing):
    """Hears `text`, but each decode waits until the test opens the gate (a decode slower than
    the pause, as on a live line)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.gate = threading.Event()

    def transcribe(self, audio, hints=None) -> Transcript:
        assert self.gate.wait(30), "the test never opened the gate"
        return super().transcribe(audio, hints)


def test_a_decode_finishing_between_frames_ends_the_turn_without_waiting_for_a_frame(speak):
    """Live line: the early decode is still running when the pause passes END_AT_MS. When it
    finishes, the turn ends then (its future's callback), not at the caller's next frame; and
    the record's writes wait until the answer is queued (hold_records)."""
    from voicebot.events import SpeechEnded
    from voicebot.flow.actions import Ask
    from voicebot.pipeline import speculation
    from voicebot.pipeline.events import TurnTiming

    recognizer = Gated("yes")
    engine = Listening(Expect("yesno"))
    session = Session(engine, Stack(recognizer, YesNlu(), None))
    recognizer.session = session
    assert engine.hold_records  # the Session holds the record's writes for after the answer
    session.listen(Ask("", Expect("yesno")), "confirm")
    for frame in read_wav(speak("yes", "piper")).canonical().frames(20):
        session.push(frame)  # no settle: the decode runs on a worker, as on a live line
    while session._ep.pause_ms < speculation.END_AT_MS["yesno"]:  # then quiet until END_AT has passed
        session.push(Audio.silence(0.02))
    pause_ms = session._ep.pause_ms
    assert pause_ms < session._ep.hang_over_ms and session.hearing_speech
    assert not any(isinstance(e, SpeechEnded) for e in session.events)  # the decode has not answered
    recognizer.gate.set()
    deadline = time.monotonic() + 30
    while not any(isinstance(e, TurnTiming) for e in session.events) and time.monotonic() < deadline:
        time.sleep(0.01)  # no frame is pushed meanwhile
    timing = [e for e in session.events if isinstance(e, TurnTiming)]
    assert len(timing) == 1 and timing[0].ended_by == "early decode", session.events
    assert timing[0].endpoint_ms == pause_ms  # decided at the pause where the frames stopped


def test_the_call_record_is_written_after_the_answer_is_queued(stack, tmp_path):
    """The store (and a CRM webhook) never delay an answer: each turn's record is written once
    its first audio is on the line; the whole record is there when the call is over."""
    engine = _engine(tmp_path)
    session = Session(engine, stack)
    audio_queued_at_write: list[bool] = []
    store, add_turn = engine.store, engine.store.add_turn

    def spied(*args, **kwargs):
        audio_queued_at_write.append(session.out.speaking)
        return add_turn(*args, **kwargs)

    store.add_turn = spied  # an instance attribute over the store's own method, for this test
    session.start()
    session.settle()
    session.caller_text("what time does the branch open on saturday")
    session.settle()
    assert audio_queued_at_write == [True, True]  # the greeting's turn, then the answer's
    session.hangup()
    session.settle()
    assert len(store.call(engine.record.call_id)["turns"]) == len(engine.record.turns) == 3
