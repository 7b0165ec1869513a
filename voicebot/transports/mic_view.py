"""What `voicebot call` shows while the call goes on: a live panel (rich.live.Live) in a terminal,
one plain line per event otherwise (a pipe, a log file). Both come from one reducer over the
Session's typed events (`Session.subscribe`): the transcript so far, the last intent and its
confidence, the caller's sentiment, the flow state and what the bot listens for, barge-ins
(paused, interrupted, resumed) and the keys pressed. What a caller says or keys in at an ID or PIN
prompt is masked here as everywhere else."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from voicebot.events import DtmfPressed, Prompt, Transcript, Understood
from voicebot.flow.actions import Ask, Expect, Hangup, Transfer
from voicebot.pipeline.events import BargedIn, Interrupted, Resumed, StageFailed, TurnTiming

MASK = "****"


@dataclass
class CallView:
    """Reduce call events to what the screen shows. `update(event)` returns the event's plain line
    (rich markup) or None; `render()` is the live panel. Thread-safe: events come from the audio
    path and the workers, `render` from Live's refresh thread."""

    redact: Callable[[str], str] = lambda text: text
    transcript_lines: int = 8
    transcript: deque[tuple[str, str]] = field(default_factory=deque)
    state: str = ""
    expect: Expect = field(default_factory=Expect)
    intent: str = ""
    confidence: float | None = None
    sentiment: str = ""
    sentiment_score: float | None = None
    paused: int = 0  # BargedIn: caller speech paused a prompt
    interrupted: dict[str, int] = field(default_factory=dict)  # by speech | dtmf
    resumed: int = 0
    keys: str = ""  # DTMF answers, masked at a secret prompt
    typing: int = 0  # keys typed, not yet an answer
    timing: TurnTiming | None = None
    outcome: str = ""
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.transcript = deque(self.transcript, maxlen=self.transcript_lines)

    def __call__(self, event: Any) -> None:
        self.update(event)

    def key(self, key: str) -> None:
        """A key typed on the keyboard (the transport's `on_key`), before it is an answer."""
        with self._lock:
            self.typing += 1

    def update(self, event: Any) -> str | None:
        with self._lock:
            return self._update(event)

    def _update(self, event: Any) -> str | None:
        match event:
            case Ask(expect=expect):
                self.expect = expect
            case Prompt(text=text, state=state):
                self.state = state or self.state
                self.transcript.append(("bot", text))
                return f"[bold cyan]bot   [/] {escape(text)}  [dim]({escape(self.state)})[/]"
            case Transcript(processing_seconds=seconds, backend=backend):
                return f"[dim]        heard in {seconds:.2f}s ({escape(backend)})[/]"
            case Understood():
                said = self._caller_text(event.text)
                self.transcript.append(("caller", said))
                self.sentiment, self.sentiment_score = event.sentiment, event.sentiment_score
                if self.expect.kind in ("intent", "free"):
                    self.intent, self.confidence = event.intent, event.confidence
                    meaning = f"{event.intent} {event.confidence:.2f}"
                else:  # at a PIN or rating prompt the intent is noise
                    meaning = f"{self.expect.kind} answer"
                return (f"[bold green]caller[/] {escape(repr(said))}  [dim]→ {escape(meaning)}, "
                        f"{event.sentiment} {event.sentiment_score:+.2f}[/]")
            case DtmfPressed(digits=digits):
                shown = MASK if self.expect.secret else digits
                self.keys = f"{self.keys} {shown}".strip()
                self.typing = 0
                self.transcript.append(("keys", shown))
                return f"[bold green]keys  [/] {escape(shown)}"
            case BargedIn(at=at):
                self.paused += 1
                return f"[yellow]      ⏸ caller talks over the prompt at {at:.2f}s[/]"
            case Resumed(heard=heard):
                self.resumed += 1
                return f"[yellow]      ▶ not a turn ({escape(repr(heard or 'no words'))}): prompt resumes[/]"
            case Interrupted(by=by, played_ms=played_ms):
                self.interrupted[by] = self.interrupted.get(by, 0) + 1
                return f"[yellow]      ✂ prompt interrupted by {by} after {played_ms} ms[/]"
            case TurnTiming():
                self.timing = event
            case StageFailed(stage=stage, error=error):
                self.failures.append(stage)
                return f"[red]      ! {stage} failed: {escape(error)}[/]"
            case Transfer(target=target, reason=reason):
                self.outcome = f"transfer to {target}" + (f" ({reason})" if reason else "")
                return f"[bold magenta]      → {escape(self.outcome)}[/]"
            case Hangup(reason=reason):
                self.outcome = f"hang up ({reason})"
                return f"[bold magenta]      → {escape(self.outcome)}[/]"
        return None

    def _caller_text(self, text: str) -> str:
        if self.expect.kind == "digits" or self.expect.secret:
            return MASK
        return self.redact(text)

    # ---- the live panel ---------------------------------------------------------------------
    def fields(self) -> dict[str, str]:
        """The panel's facts as text, in order."""
        with self._lock:
            interrupted = sum(self.interrupted.values())
            by = ", ".join(f"{n} by {who}" for who, n in sorted(self.interrupted.items()))
            timing = self.timing
            return {
                "state": f"{self.state or '-'} (listening for {self._listening()})",
                "intent": f"{self.intent} {self.confidence:.2f}" if self.confidence is not None else "-",
                "sentiment": (f"{self.sentiment} {self.sentiment_score:+.2f}"
                              if self.sentiment_score is not None else "-"),
                "barge-ins": (f"{self.paused} paused, {interrupted} interrupted"
                              + (f" ({by})" if by else "") + f", {self.resumed} resumed"),
                "keys": (self.keys or "-") + (f"  typing {'•' * self.typing}" if self.typing else ""),
                "last turn": (f"endpoint {timing.endpoint_ms} ms, asr {timing.asr_ms:.0f}, "
                              f"nlu {timing.nlu_ms:.0f}, flow {timing.flow_ms:.0f}, "
                              f"first audio {timing.tts_first_ms:.0f}" if timing else "-"),
                "outcome": self.outcome or "in progress",
            }

    def _listening(self) -> str:
        expect = self.expect
        kind = f"{expect.length} digits" if expect.kind == "digits" and expect.length else expect.kind
        return f"{kind}, secret" if expect.secret else kind

    def render(self) -> Panel:
        facts = self.fields()
        with self._lock:
            said = list(self.transcript)
        talk = Table.grid(padding=(0, 1))
        talk.add_column(style="bold", width=6)
        talk.add_column(overflow="fold")
        for who, text in said:
            talk.add_row(Text(who, style={"bot": "cyan", "caller": "green"}.get(who, "magenta")), Text(text))
        info = Table.grid(padding=(0, 2))
        info.add_column(style="dim", width=10)
        info.add_column()
        for name, value in facts.items():
            info.add_row(name, Text(value))
        return Panel(Group(talk, Text(""), info), title="voicebot call", subtitle="digit keys are DTMF",
                     border_style="blue")


@contextmanager
def call_view(console: Console, redact: Callable[[str], str] = lambda text: text) -> Iterator[CallView]:
    """A view on `console`: the live panel when it is a terminal, plain lines when it is not.
    Subscribe the yielded view to the Session; hand `view.key` to the transport as `on_key`."""
    if console.is_terminal:
        view = CallView(redact)
        with Live(get_renderable=view.render, console=console, refresh_per_second=8, transient=False):
            yield view
        return
    view = PrintingView(redact, console=console)
    yield view


@dataclass
class PrintingView(CallView):
    """The same reducer, printing each event's line (stdout is not a terminal)."""

    console: Console | None = None

    def update(self, event: Any) -> str | None:
        line = super().update(event)
        if line is not None and self.console is not None:
            self.console.print(line, highlight=False)
        return line
