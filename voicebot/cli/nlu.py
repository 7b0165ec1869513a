"""`voicebot train`, `voicebot eval`, `voicebot classify`: thin wrappers over voicebot.nlu."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from voicebot.cli.app import app, check_output, console, err_console, fail, print_json


@app.command()
def train(
    intents: Optional[Path] = typer.Option(None, "--intents", help="Directory of intent *.yml files (default: intents/)."),
    data: Optional[Path] = typer.Option(None, "--data", help="A JSONL or CSV of labelled rows (text, intent) instead."),
    out: Optional[Path] = typer.Option(None, "--out", help="Model directory to create (default: models/nlu-<time>)."),
) -> None:
    """Train the intent classifier; writes a versioned model directory."""
    from voicebot.nlu.train import load_training_data, train as train_model

    if intents and data:
        fail("give --intents or --data, not both")
    if out is not None and out.exists():  # said before the training, not after it
        fail(f"--out {out}: already exists; a model directory is never overwritten, choose another")
    check_output("--out", out, folder=True)
    dataset = load_training_data(intents, data)
    started = time.time()
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("loading", total=1.0)
        path = train_model(dataset, out, progress=lambda stage, frac: bar.update(task, description=stage, completed=frac),
                           source=str(data or intents or "intents/"))
    from voicebot.nlu.model_io import read_metadata

    meta = read_metadata(path)
    oos = meta["oos"]
    console.print(f"trained {len(meta['labels'])} labels on {meta['n_examples']} examples in {time.time() - started:.0f}s → {path}"
                  f" (model version {meta['version']})", highlight=False, soft_wrap=True)
    chosen = oos["compared"][oos["strategy"]]
    console.print(f"out-of-scope: {oos['strategy']} (threshold {meta['threshold']:.3f}); validation in-scope accuracy "
                  f"{chosen['in_scope_accuracy']:.3f}, OOS recall {chosen['oos_recall']:.3f}")


@app.command(name="eval")
def eval_command(
    data: Optional[Path] = typer.Option(None, "--data", help="JSONL/CSV of rows with text and intent and/or sentiment."),
    audio: Optional[Path] = typer.Option(None, "--audio", help="JSONL manifest of recordings {file, intent, sentiment[, text]}: heard as at the first intent prompt of a call."),
    model: Optional[Path] = typer.Option(None, "--model", help="Model directory (default: newest under models/)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    calls: Optional[Path] = typer.Option(None, "--calls", help="Folder of recorded calls (one folder each, with expect.json)."),
) -> None:
    """Measure a model on labelled rows, the live pipeline on labelled recordings (--audio), or
    whole calls against what each must end with (--calls)."""
    if calls is not None:
        from voicebot.cli.evalcalls import eval_calls

        return eval_calls(calls, model, as_json)
    if (data is None) == (audio is None):
        fail("give one of --data FILE (labelled rows), --audio MANIFEST (recordings) or --calls DIR (recorded calls)")
    if audio is not None:
        from voicebot.nlu.audio_eval import run_cli

        report = run_cli(audio, model, console)
    else:
        from voicebot.nlu import load_model
        from voicebot.nlu.dataset import load_rows
        from voicebot.nlu.evaluate import evaluate

        report = evaluate(load_model(model), load_rows(data, need_intent=False).examples)
    if report.get("unknown_labels"):  # a typo in the labels would otherwise only lower the scores
        err_console.print(f"warning: intents the model does not know, every such row counted wrong: "
                          f"{', '.join(report['unknown_labels'])}", highlight=False, soft_wrap=True, markup=False)
    if as_json:
        print_json(report)
        return
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    console.print(f"model version {report.get('model_version') or '-'}"
                  + (f"  ASR model {report['asr_model']}" if report.get("asr_model") else ""), highlight=False)
    console.print(f"n={report['n']}  intent accuracy {fmt(report['intent_accuracy'])}  macro-F1 {fmt(report['intent_macro_f1'])}  "
                  f"OOS recall {fmt(report['oos_recall'])}  in-scope false-OOS {fmt(report['in_scope_false_oos_rate'])}"
                  + (f"  sentiment macro-F1 {fmt(report['sentiment_macro_f1'])}" if "sentiment_macro_f1" in report else "")
                  + (f"  WER {fmt(report['wer'])}" if report.get("wer") is not None else ""))
    for voice, acc in report.get("intent_accuracy_by_voice", {}).items():
        console.print(f"  {voice}: intent accuracy {acc:.3f}", highlight=False)
    labels, matrix = report["confusion"]["labels"], report["confusion"]["matrix"]
    console.print("confusion (rows expected, columns predicted, numbered as the rows):", highlight=False)
    console.print(" " * 24 + "".join(f"{i:>4}" for i in range(len(labels))), highlight=False)
    for i, (label, row) in enumerate(zip(labels, matrix)):
        cells = "".join(f"{v:>4}" if v else "   ." for v in row)
        console.print(f"{i:>2} {label[:21]:<21}{cells}", highlight=False, soft_wrap=True)
    for w in report["worst"]:
        # markup off: "[/data/rows.jsonl:3]" would be read as a closing tag (an absolute path had crashed this)
        console.print(f"  ✗ {w['text']!r}: expected {w['expected']}, got {w['predicted']} ({w['confidence']:.2f}) [{w['where']}]",
                      highlight=False, markup=False)


@app.command()
def classify(
    text: str = typer.Argument(..., help="One caller turn."),
    model: Optional[Path] = typer.Option(None, "--model", help="Model directory (default: newest under models/)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Intent, confidence, entities and sentiment of one caller turn."""
    from voicebot.nlu import load_model

    result = load_model(model).understand(text)
    if as_json:
        print_json(asdict(result))
        return
    alternatives = ", ".join(f"{name} {score:.2f}" for name, score in result.alternatives[1:])
    console.print(f"intent: [bold]{result.intent}[/] ({result.confidence:.2f})  next: {alternatives}")
    console.print(f"entities: {result.entities or '-'}")
    console.print(f"sentiment: {result.sentiment} ({result.sentiment_score:+.2f})")
