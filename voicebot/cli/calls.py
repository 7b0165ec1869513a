"""`voicebot replay` and `voicebot demo`: whole calls through the live pipeline, from recorded
caller turns or text, with the call record as JSON and the call as a stereo WAV."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from voicebot.cache import replaced_atomically
from voicebot.cli.app import app, check_output, console, err_console, fail, print_json

DEFAULT_FLOW = Path(__file__).resolve().parents[2] / "flows" / "bank.yml"
DEMO_DIR = Path(__file__).resolve().parents[2] / "audio" / "demo"


def open_worker_store(db: str | None, demo: bool = False) -> Any:
    """The store for a process that takes calls: registered as a worker (its calls are closed as
    abandoned if it dies), after closing those of workers that died before."""
    from voicebot.store import open_store, resolve_url, using_database

    store = open_store(db, demo=demo)
    with using_database(resolve_url(db)):  # its first write: a read-only database is said here
        store.start_worker()
    return store


def open_call(flow: Path, *, caller_id: str | None, at: datetime | None, asr: str | None,
              tts: str | None, db: str | None, model: str | None = None, demo: bool = False) -> tuple[Any, Any]:
    """The flow, the shared models (fixed prompts rendered ahead) and a fresh engine for one call."""
    from voicebot.flow import CallEngine, load_flow
    from voicebot.pipeline import Stack
    from voicebot.registry import load_together
    from voicebot.store.protocols import CALLER_ID_LENGTH

    if caller_id is not None and len(caller_id) > CALLER_ID_LENGTH:
        fail(f"--caller-id: {len(caller_id)} characters; a call record holds at most {CALLER_ID_LENGTH}")

    call_flow = load_flow(flow)
    with console.status("loading models and rendering the flow's fixed prompts…", spinner="dots"):
        # The store (SQLAlchemy's import, the schema check or migration) opens while the models load.
        stack, store = load_together(lambda: Stack.load(asr=asr, tts=tts, model=model),
                                     lambda: open_worker_store(db, demo))
        if stack.prompts is not None:
            stack.prompts.follow(call_flow)  # its policy: personal prompts never reach the disk
    engine = CallEngine(call_flow, store, caller_id=caller_id, now=at or datetime.now().astimezone())
    return engine, stack


def run_call(turns: list[Any], *, text: bool, flow: Path, caller_id: str | None, at: datetime | None,
             asr: str, tts: str | None, db: str | None, model: str | None, show: bool = True,
             demo: bool = False, realtime: bool = False, audio_out: Path | None = None,
             json_out: str | None = None) -> Any:
    """Replay `turns` as one call and return the Session. `realtime`: the one WAV in `turns` is the
    caller's whole side of the call, played at 1x from the moment the call connects."""
    from voicebot.pipeline import Session
    from voicebot.transports.replay import check_keys, load_turns, replay_audio, replay_text, stream_call

    if realtime and (text or len(turns) != 1 or str(turns[0]).startswith("dtmf:")):
        fail("--realtime plays exactly one WAV: the caller's side of the whole call")
    turns = [check_keys(t) for t in turns] if text else load_turns(turns)  # bad files fail before any model loads
    check_output("--json", json_out)  # ... and outputs that cannot be written: no call is lost at the end
    check_output("--audio-out", audio_out, folder=True)
    engine, stack = open_call(flow, caller_id=caller_id, at=at, asr=None if text else asr, tts=tts,
                              db=db, model=model, demo=demo)
    live_wav = Path(audio_out) / f"{engine.record.call_id}.wav" if audio_out is not None else None
    session = Session(engine, stack, listener=_printer(engine) if show else None, recording_path=live_wav)
    if realtime:
        return stream_call(session, turns[0], realtime=True)
    return (replay_text if text else replay_audio)(session, turns)


def _printer(engine: Any, out: Any = console) -> Any:
    """Prints the conversation as it happens; what a caller says at a digit prompt (an ID, a PIN)
    is masked before it reaches the screen, like everywhere else."""
    from voicebot.transports.mic_view import PrintingView

    return PrintingView(engine.redact_text, console=out)


def _finish(session: Any, json_out: str | None, audio_out: Path | None) -> None:
    record = session.engine.record.to_dict()
    out = err_console if json_out == "-" else console  # stdout carries only the JSON then
    if audio_out is not None:
        path = session.recording.save(Path(audio_out) / f"{record['call_id']}.wav")
        out.print(f"[dim]call audio (caller left, bot right): {path}[/]")
    if json_out == "-":
        print_json(record)
    elif json_out:
        try:
            Path(json_out).parent.mkdir(parents=True, exist_ok=True)
            with replaced_atomically(Path(json_out)) as tmp:  # never half a record
                tmp.write_text(json.dumps(record, indent=2, default=str))
        except OSError as exc:
            fail(f"--json {json_out}: cannot write the call record ({exc.strerror}); the call "
                 f"{record['call_id']} is stored in the database")
    out.print(f"[bold]outcome[/] {record['outcome']}  queue={record['queue']}  "
                  f"priority={record['priority']}  reason={record['reason']}  csat={record['csat']}",
                  highlight=False)


FlowOpt = Annotated[Path, typer.Option("--flow", help="call flow YAML")]
CallerOpt = Annotated[Optional[str], typer.Option("--caller-id", help="caller's number (From)")]
AtOpt = Annotated[Optional[datetime], typer.Option("--at", help="call start time (ISO), default now")]
AsrOpt = Annotated[str, typer.Option("--backend", help="ASR backend")]
TtsOpt = Annotated[str, typer.Option("--tts", help="TTS backend (piper, pyttsx3) or 'none'")]
DbOpt = Annotated[Optional[str], typer.Option("--db", help="database URL (default var/voicebot.db)")]
ModelOpt = Annotated[Optional[str], typer.Option("--model", help="NLU model directory")]


@app.command()
def replay(
    turns: Annotated[list[str], typer.Argument(help="caller turns: WAV files (or dtmf:DIGITS); text with --text")],
    text: Annotated[bool, typer.Option("--text", help="turns are text, not WAV files (no ASR)")] = False,
    flow: FlowOpt = DEFAULT_FLOW,
    caller_id: CallerOpt = None,
    at: AtOpt = None,
    json_out: Annotated[Optional[str], typer.Option("--json", help="write the call record (- for stdout)")] = None,
    audio_out: Annotated[Optional[Path], typer.Option("--audio-out", help="write the call as stereo WAV here")] = None,
    backend: AsrOpt = "whisper",
    tts: TtsOpt = "piper",
    db: DbOpt = None,
    model: ModelOpt = None,
    realtime: Annotated[bool, typer.Option("--realtime", help="one WAV is the caller's whole side, "
                                           "played at 1x while the bot answers (talking over a prompt barges in)")] = False,
) -> None:
    """Replay one call: each WAV (or text with --text) is one caller turn after the bot's prompt."""
    tts_name = None if tts == "none" or (text and audio_out is None) else tts
    session = run_call(turns, text=text, flow=flow, caller_id=caller_id, at=_aware(at), asr=backend,
                       tts=tts_name, db=db, model=model, show=json_out != "-", realtime=realtime,
                       audio_out=audio_out, json_out=json_out)
    _finish(session, json_out, audio_out)


@app.command()
def demo(
    caller_id: CallerOpt = "+15551230001",
    audio_out: Annotated[Path, typer.Option("--audio-out")] = Path("var/calls"),
    backend: AsrOpt = "whisper",
    tts: TtsOpt = "piper",
    db: DbOpt = None,
) -> None:
    """A simulated call: the recorded caller in audio/demo/ reports a lost card (the demo bank's
    customers are added to the database first)."""
    turns = sorted(str(p) for p in DEMO_DIR.glob("*.wav"))
    if not turns:
        fail(f"{DEMO_DIR}: no demo caller WAVs")
    check_output("--audio-out", audio_out, folder=True)
    console.rule("voicebot demo call")
    session = run_call(turns, text=False, flow=DEFAULT_FLOW, caller_id=caller_id, at=None, asr=backend,
                       tts=None if tts == "none" else tts, db=db, model=None, demo=True,
                       audio_out=audio_out)
    _finish(session, None, audio_out)


def _aware(at: datetime | None) -> datetime | None:
    return at.astimezone() if at is not None and at.tzinfo is None else at


@app.command()
def call(
    caller_id: CallerOpt = None,
    device: Annotated[Optional[str], typer.Option("--device", help="sounddevice input device")] = None,
    flow: FlowOpt = DEFAULT_FLOW,
    backend: AsrOpt = "whisper",
    tts: TtsOpt = "piper",
    db: DbOpt = None,
    audio_out: Annotated[Optional[Path], typer.Option("--audio-out")] = None,
    json_out: Annotated[Optional[str], typer.Option("--json", help="write the call record here ('-' = stdout)")] = None,
    max_seconds: Annotated[float, typer.Option("--max-seconds", help="hang up after this long")] = 600.0,
    echo: Annotated[str, typer.Option("--echo", help="echo canceller for the speakers' echo: webrtc, speex, off")] = "webrtc",
) -> None:
    """A live call through the microphone and speakers, full duplex: talk over the bot to interrupt
    it; digit keys are DTMF."""
    from voicebot.pipeline import Session
    from voicebot.transports.mic import check_microphone, run_mic_call
    from voicebot.transports.mic_view import call_view

    from voicebot.audio.echo import BACKENDS as ECHO_CANCELLERS

    if echo not in ECHO_CANCELLERS:  # said before the microphone opens and the models load
        fail(f"--echo {echo!r}: choose one of {', '.join(sorted(ECHO_CANCELLERS))}")
    if max_seconds <= 0:
        fail(f"--max-seconds {max_seconds}: a call needs more than 0 seconds")
    check_microphone(device)  # before the models load: no sound card is said at once
    check_output("--json", json_out)
    check_output("--audio-out", audio_out, folder=True)
    engine, stack = open_call(flow, caller_id=caller_id, at=None, asr=backend, tts=tts, db=db)
    live_wav = Path(audio_out) / f"{engine.record.call_id}.wav" if audio_out is not None else None
    # a live panel in a terminal, plain lines otherwise; stdout carries only the JSON with --json -
    with call_view(err_console if json_out == "-" else console, engine.redact_text) as view:
        session = run_mic_call(Session(engine, stack, listener=view, recording_path=live_wav),
                               device=device, max_seconds=max_seconds, on_key=view.key, echo=echo)
    _finish(session, json_out, audio_out)
