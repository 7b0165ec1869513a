"""`voicebot eval --audio MANIFEST.jsonl`: recordings heard as at the first intent prompt of a call.

Each recording is replayed into a real `Session` of the call flow (the replay transport, the same
VAD, recogniser hints, runner-up readings and NLU as a call); what the NLU made of the caller's
first utterance is scored with the same metrics as `eval --data`, plus WER where a row carries the
words said (`text`) and accuracy per voice where it names one (`voice`).

Manifest rows: {"file": "a.wav", "intent": "check_balance", "sentiment": "neutral", "text": "…",
"voice": "…"}; `file` is relative to the manifest; intent or sentiment (or both) is required."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from voicebot.asr.base import asr_version
from voicebot.asr.wer import corpus_wer
from voicebot.errors import ConfigError
from voicebot.jsonl import read_jsonl
from voicebot.events import Transcript, Understood
from voicebot.nlu.dataset import OUT_OF_SCOPE, Example
from voicebot.nlu.evaluate import Prediction, score

SENTIMENTS = ("negative", "neutral", "positive")
# A weekday morning inside every queue's hours: the first prompt must not depend on the clock.
DEFAULT_FLOW = Path(__file__).resolve().parents[2] / "flows" / "bank.yml"
CALL_TIME = datetime(2026, 3, 4, 10, 0, tzinfo=ZoneInfo("America/New_York"))


@dataclass(frozen=True)
class AudioRow:
    file: Path
    intent: str
    sentiment: str | None
    text: str | None
    voice: str
    where: str


@dataclass(frozen=True)
class Heard:
    """What the first intent prompt made of one recording."""

    transcript: str
    understood: Understood


def load_manifest(path: Path) -> list[AudioRow]:
    path = Path(path)
    rows = []
    for number, row in read_jsonl(path, "manifest", ("file", "intent", "sentiment", "text", "voice")):
        where = f"{path}:{number}"
        if not row.get("file"):
            raise ConfigError(f"{where}: each line must be an object with 'file'")
        intent, sentiment = str(row.get("intent") or ""), row.get("sentiment") or None
        if not intent and not sentiment:
            raise ConfigError(f"{where}: row needs 'intent' or 'sentiment'")
        if sentiment is not None and sentiment not in SENTIMENTS:
            raise ConfigError(f"{where}: sentiment {sentiment!r} is not negative/neutral/positive")
        file = path.parent / row["file"]
        if not file.is_file():
            raise ConfigError(f"{where}: no such recording {file}")
        rows.append(AudioRow(file, intent, sentiment, row.get("text"), str(row.get("voice") or ""), where))
    if not rows:
        raise ConfigError(f"{path}:1: no rows")
    return rows


def hear(stack, flow, file: Path) -> Heard:
    """Play `file` as the caller's answer to the flow's first intent prompt; what the NLU made of
    the first utterance the VAD closed (nothing heard → an empty out-of-scope reading)."""
    from voicebot.flow import CallEngine
    from voicebot.pipeline import Session
    from voicebot.store import open_store
    from voicebot.transports.replay import replay_audio

    engine = CallEngine(flow, open_store("sqlite://"), caller_id=None, now=CALL_TIME)
    heard: list = []

    def listen(event) -> None:
        if isinstance(event, Transcript | Understood):
            heard.append((event, getattr(engine.expecting, "kind", "")))

    replay_audio(Session(engine, stack, listener=listen), [file])
    if heard and heard[0][1] != "intent":
        raise ConfigError(f"{flow.source}: the first prompt asks for {heard[0][1]!r}, not an intent")
    heard = [event for event, _ in heard]
    transcript = next((e.text for e in heard if isinstance(e, Transcript)), "")
    understood = next((e for e in heard if isinstance(e, Understood)), None)
    if understood is None:
        understood = Understood("", OUT_OF_SCOPE, 0.0, "neutral", 0.0)
    return Heard(transcript, understood)


def evaluate_audio(manifest: Path, *, model: str | None = None, asr: str = "whisper", flow: Path | None = None,
                   progress: Callable[[int, int], None] | None = None) -> dict:
    """The `eval --data` report for what the live intent prompt heard, plus WER and per-voice accuracy."""
    from voicebot.flow import load_flow
    from voicebot.pipeline import Stack

    rows = load_manifest(manifest)
    call_flow = load_flow(flow or DEFAULT_FLOW)
    stack = Stack.load(asr=asr, tts=None, model=model)
    results = []
    for i, row in enumerate(rows):
        results.append(hear(stack, call_flow, row.file))
        if progress:
            progress(i + 1, len(rows))
    examples = [Example(h.transcript, r.intent, f"{r.where} ({r.file.name})", r.sentiment) for r, h in zip(rows, results)]
    preds = [Prediction(h.understood.intent, h.understood.confidence, h.understood.sentiment) for h in results]
    report = score(examples, preds)
    with_text = [(r.text, h.transcript) for r, h in zip(rows, results) if r.text]
    report["wer"] = corpus_wer(with_text) if with_text else None
    report["wer_n"] = len(with_text)
    by_voice: dict[str, list[bool]] = defaultdict(list)
    for r, h in zip(rows, results):
        if r.voice and r.intent:
            by_voice[r.voice].append(h.understood.intent == r.intent)
    report["intent_accuracy_by_voice"] = {v: sum(ok) / len(ok) for v, ok in sorted(by_voice.items())}
    report["manifest"] = str(manifest)
    report["model_version"] = getattr(stack.nlu, "version", None)
    report["asr_model"] = asr_version(stack.recognizer)
    labels = set(getattr(stack.nlu, "labels", ()))  # as eval --data: a label no model output can match
    report["unknown_labels"] = sorted({r.intent for r in rows if r.intent} - labels - {OUT_OF_SCOPE}) if labels else []
    return report


def run_cli(manifest: Path, model: Path | None, console) -> dict:
    """`evaluate_audio` with a Rich progress bar (Whisper takes ~0.3–1 s per recording here)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("hearing recordings"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("hear", total=None)
        return evaluate_audio(manifest, model=str(model) if model else None,
                              progress=lambda done, total: bar.update(task, completed=done, total=total))
