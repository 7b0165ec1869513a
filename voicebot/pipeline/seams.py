"""The typed seams the Session is built on: what drives a call's dialogue (`Engine`), what decides
that the caller has taken the turn while the bot speaks (`BargeInDetector`) and what decides at a
pause that the caller has finished (`EndOfTurn`). Small Protocols, so a trained model (an echo
canceller, Smart Turn) plugs in without the Session knowing which one it runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from voicebot.audio import Audio
from voicebot.events import DtmfPressed, NoInput, Understood
from voicebot.flow.actions import Action, Expect
from voicebot.flow.record import CallRecord

EngineEvent = Understood | DtmfPressed | NoInput


class Engine(Protocol):
    """One call's dialogue (voicebot.flow.CallEngine): given one caller event, the actions to
    perform. Called only from the call's worker strand, never from the audio path."""

    record: CallRecord
    hold_records: bool

    def start(self) -> list[Action]: ...

    def handle(self, event: EngineEvent) -> list[Action]: ...

    def hangup(self) -> list[Action]: ...

    def advance(self, seconds: float) -> None:
        """Call time moves by `seconds` (counted in samples by the Session, never the wall clock)."""
        ...

    def flush_records(self) -> None:
        """Write the call record's turns held since the last flush (`hold_records`, set by the
        Session): the store and the CRM webhook run after the answer is queued, not before it."""
        ...

    @property
    def done(self) -> bool: ...

    @property
    def expecting(self) -> Expect: ...

    @property
    def state(self) -> str: ...


@dataclass(frozen=True)
class Heard:
    """One caller frame judged while the bot speaks. `own_speech`: the caller's voice, not the bot's
    echo or a noise; `barge_in`: enough of it, sustained, to stop the prompt now."""

    own_speech: bool
    barge_in: bool


class BargeInDetector(Protocol):
    def hear(self, caller: Audio, played: Audio, voiced: bool) -> Heard:
        """One caller frame, the bot frame played at the same moment (silence when the bot is
        quiet) and the VAD's verdict on the caller frame."""
        ...

    def reset(self) -> None:
        """A prompt started, stopped or resumed: forget the running count."""
        ...


class EndOfTurn(Protocol):
    def finished(self, utterance: Audio, expect: Expect) -> bool | None:
        """At a short pause: True when the caller has finished their turn, False when they are
        only pausing, None when undecided (the endpointer's hang-over then decides)."""
        ...
