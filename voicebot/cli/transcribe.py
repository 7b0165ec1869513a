"""`voicebot transcribe FILE...`: one transcript per WAV, or `--eval MANIFEST.jsonl` for WER.

A bad file (missing, not a WAV, truncated, unsupported encoding, silent) is reported on one line
naming the file and the problem; the batch goes on and the exit code is 2 if any file failed.
Long recordings are cut into utterances by the VAD and the texts joined."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import typer
from rich.progress import Progress
from rich.table import Table

from voicebot.asr.base import DEFAULT_BACKEND, Hints, Recognizer, get_recognizer
from voicebot.asr.wer import score
from voicebot.audio.wavio import is_silent, read_wav
from voicebot.cli.app import app, console, err_console, fail, print_json
from voicebot.errors import AudioError, ConfigError, VoicebotError

LONG_RECORDING_S = 25.0  # beyond this, split at pauses: the recognisers are built for caller turns


@dataclass
class FileResult:
    file: str
    text: str = ""
    duration: float = 0.0
    processing_seconds: float = 0.0
    rtf: float = 0.0
    error: str | None = None
    reference: str | None = None
    wer: float | None = None


def parse_expect(value: str) -> Hints:
    """`--expect digits:N|digits|yesno|free` → the hints a flow prompt of that kind sets."""
    from voicebot.asr.domain import prompt_hints

    kind, _, length = value.partition(":")
    if kind not in ("digits", "yesno", "free") or (length and (kind != "digits" or not length.isdigit()
                                                              or int(length) < 1)):
        raise ConfigError(f"--expect {value!r}: use digits:N, digits, yesno or free")
    return prompt_hints(kind, int(length) if length else None)


def as_prompt_would(recognizer: Recognizer, audio, hints: Hints) -> str:
    """What a call's prompt with these hints takes from a recording: the VAD cuts it into
    utterances as in a call. At a digits prompt of known length the answer ends as the flow's
    does (flow/auth.py): with the digits complete, or with an utterance that is not a group said
    before a pause (`numparse.awaits_rest`: the flow then asks again), or with the silence after
    a group; after a group the next utterance expects only the digits still missing."""
    from dataclasses import replace

    from voicebot.asr.numbers import words_to_digits
    from voicebot.numparse import awaits_rest
    from voicebot.vad import split_utterances

    length = hints.length if hints.kind == "digits" else None
    texts, digits = [], ""
    for utterance in split_utterances(audio):
        hint = replace(hints, length=length - len(digits)) if length and digits else hints
        text = recognizer.transcribe(utterance.audio, hint).text
        if not text:  # noise the recogniser made nothing of: no answer yet
            continue
        if not length:
            texts.append(text)
            continue
        fresh = words_to_digits(text)
        if len(digits + fresh) == length:
            return digits + fresh
        if not (fresh and awaits_rest(text, digits + fresh, length)):
            return " ".join(t for t in (digits, text) if t)  # a wrong answer: the flow asks again
        digits += fresh
    if length:
        return digits
    if hints.kind == "digits" and texts and all(words_to_digits(t) == t for t in texts):
        return "".join(texts)  # any number of digits, said in groups
    return " ".join(texts)


def transcribe_file(recognizer: Recognizer, path: Path, hints: Hints | None = None) -> FileResult:
    """Transcribe one WAV; user-caused problems come back as `error`, never raised. With `hints`
    (a prompt kind) it is recognised as that prompt of a call would."""
    try:
        audio = read_wav(path)
        if is_silent(audio):
            raise AudioError(f"{path}: silent recording (no speech above -55 dBFS)")
        started = time.perf_counter()
        if hints is not None:
            text = as_prompt_would(recognizer, audio, hints)
        elif audio.duration > LONG_RECORDING_S:
            from voicebot.vad import split_utterances

            text = " ".join(t for t in (recognizer.transcribe(u.audio).text for u in split_utterances(audio)) if t)
        else:
            text = recognizer.transcribe(audio).text
        elapsed = time.perf_counter() - started
        return FileResult(str(path), text, round(audio.duration, 3), round(elapsed, 3), round(elapsed / audio.duration, 4))
    except VoicebotError as exc:
        return FileResult(str(path), error=str(exc))


def read_manifest(manifest: Path) -> list[tuple[Path, str]]:
    """JSONL lines {"file", "text"}; files are relative to the manifest's folder."""
    from voicebot.jsonl import read_jsonl

    entries = []
    for number, row in read_jsonl(manifest, "manifest file", ("file", "text")):
        if not isinstance(row.get("file"), str) or "text" not in row:
            raise ConfigError(f"{manifest}:{number}: expected a JSON object with \"file\" and \"text\"")
        entries.append((manifest.parent / row["file"], str(row["text"])))
    if not entries:
        raise ConfigError(f"{manifest}: manifest lists no files")
    return entries


def _run_all(recognizer: Recognizer, files: list[Path], hints: Hints | None = None) -> list[FileResult]:
    if len(files) < 3:
        return [transcribe_file(recognizer, f, hints) for f in files]
    results = []
    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("transcribing", total=len(files))
        for f in files:
            results.append(transcribe_file(recognizer, f, hints))
            progress.advance(task)
    return results


@app.command()
def transcribe(
    files: list[Path] = typer.Argument(None, help="WAV files (any rate, channels, PCM/μ-law/A-law)."),
    backend: str = typer.Option(DEFAULT_BACKEND, "--backend", "-b", help="ASR backend: whisper, moonshine, pocketsphinx, vosk."),
    as_json: bool = typer.Option(False, "--json", help="Print results as JSON."),
    eval_manifest: Path = typer.Option(None, "--eval", help="JSONL manifest of {\"file\", \"text\"}: report WER."),
    expect: str = typer.Option(None, "--expect", help="Recognise as a call's prompt of this kind would: "
                               "digits:N, digits, yesno or free (same hints, retries and VAD)."),
) -> None:
    """Transcribe WAV files (or score a manifest with --eval)."""
    references: dict[str, str] = {}
    files = list(files or [])
    try:
        if eval_manifest is not None:
            for path, text in read_manifest(eval_manifest):
                files.append(path)
                references[str(path)] = text
        if not files:
            fail("give one or more WAV files or --eval MANIFEST.jsonl")
        hints = parse_expect(expect) if expect else None
        recognizer = get_recognizer(backend)
    except VoicebotError as exc:
        fail(str(exc))
    results = _run_all(recognizer, files, hints)
    overall = _score(results, references) if references else None
    _report(results, overall, as_json, bool(references))
    if any(r.error for r in results):
        raise typer.Exit(2)


def _score(results: list[FileResult], references: dict[str, str]) -> float:
    """Overall WER. A file that could not be read heard nothing: every reference word of it counts
    as an error (deleted), so a broken file can never make the score look better."""
    errors = words = 0
    for r in results:
        r.reference = references.get(r.file)
        if r.reference is None:
            continue
        s = score(r.reference, "" if r.error else r.text)
        if r.error is None:
            r.wer = round(s.wer, 4)
        errors, words = errors + s.errors, words + s.ref_words
    return round(errors / words, 4) if words else 0.0


def _report(results: list[FileResult], overall: float | None, as_json: bool, evaluating: bool) -> None:
    for r in results:
        if r.error:
            err_console.print(f"[bold red]error:[/] {r.error}", highlight=False, soft_wrap=True)
    if as_json:
        rows = [asdict(r) for r in results]
        failed = sum(1 for r in results if r.error)
        print_json({"results": rows, "wer": overall, "files": len(results), "errors": failed}
                   if evaluating else rows)
        return
    table = Table(show_header=True, header_style="bold")
    for col in ["file", "text", "duration s", "processing s", "RTF"] + (["WER"] if evaluating else []):
        table.add_column(col)
    for r in results:
        if r.error is None:
            cells = [r.file, r.text, f"{r.duration:.2f}", f"{r.processing_seconds:.2f}", f"{r.rtf:.3f}"]
            table.add_row(*cells, *([f"{r.wer:.3f}"] if evaluating else []))
    console.print(table)
    if evaluating:
        failed = sum(1 for r in results if r.error)
        note = (f" ({failed} of {len(results)} files could not be read; their reference words "
                "count as errors)") if failed else f" ({len(results)} files)"
        console.print(f"overall WER: {overall:.3f}{note}", highlight=False)
