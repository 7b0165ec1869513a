"""What the engine asks the Session to do. Frozen dataclasses; the Session performs them in order.

Say(text)                       speak, then go on with the next action
Ask(text, expect, ...)          speak, then listen; answer with Understood / DtmfPressed / NoInput
Transfer(queue, ...)            hand the call to a queue, agent, extension or external number
RecordVoicemail(max_seconds)    record a message; send its transcription back as Understood(text)
Hangup(reason)                  end the call
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Expect:
    """What the current prompt waits for, so the Session can set ASR hints and DTMF length.

    kind: intent | digits | yesno | csat | free | choice. `length` is the digit count for
    `digits` (None = any); `choices` are the accepted words for `choice`, `csat` ("1".."5").
    `secret`: the answer is customer data (an ID, a PIN): the Session keeps it out of the call
    recording (the caller channel is silence while such a prompt listens)."""

    kind: str = "intent"
    length: int | None = None
    choices: tuple[str, ...] = ()
    secret: bool = False


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Ask:
    text: str
    expect: Expect = Expect()
    no_input_timeout: float = 5.0
    barge_in: bool = True


@dataclass(frozen=True)
class Transfer:
    """target_kind: queue | agent | extension | external. `agent` is the chosen agent when one is
    free; `position`/`estimated_wait` describe the wait otherwise."""

    queue: str | None
    target: str
    target_kind: str = "queue"
    priority: str = "normal"
    reason: str | None = None
    agent: str | None = None
    position: int | None = None
    estimated_wait: float | None = None


@dataclass(frozen=True)
class RecordVoicemail:
    max_seconds: float = 60.0
    beep: bool = True


@dataclass(frozen=True)
class Hangup:
    reason: str = "completed"


Action = Say | Ask | Transfer | RecordVoicemail | Hangup
