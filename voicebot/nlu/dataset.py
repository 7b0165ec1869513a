"""Labelled caller phrases for the NLU: `intents/*.yml` (read by voicebot.intents, shared with the
flow loader), JSONL or CSV rows.

Every problem raises ConfigError naming file:line and what is wrong."""

from __future__ import annotations

import csv
from pathlib import Path

from voicebot.errors import ConfigError
from voicebot.jsonl import read_jsonl
from voicebot.intents import (  # noqa: F401 - the NLU's names for the shared intent-file reader
    INTENT_KEYS, NAME_RE, OUT_OF_SCOPE, Dataset, Example, IntentInfo, check_duplicates, load_intents_dir,
    normalize,
)


def load_rows(path: Path, need_intent: bool = True) -> Dataset:
    """A JSONL ({"text", "intent"[, "sentiment"]} per line) or CSV (header text,intent[,sentiment]).
    With `need_intent=False` (evaluation) a row may carry a sentiment label instead of an intent."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: {'a folder, not a data file' if path.is_dir() else 'no such data file'}")
    if path.suffix == ".csv":
        rows = _read_csv(path, need_intent)
    elif path.suffix in (".jsonl", ".json"):
        rows = read_jsonl(path, text_fields=("text", "intent", "sentiment"))
    else:
        raise ConfigError(f"{path}: unsupported data file type {path.suffix!r} (use .jsonl or .csv)")
    examples = []
    for line, row in rows:
        text, intent = str(row.get("text") or "").strip(), str(row.get("intent") or "").strip()
        sentiment = row.get("sentiment") or None
        if not text or not (intent or (sentiment and not need_intent)):
            wanted = "'intent'" if need_intent else "'intent' or 'sentiment'"
            raise ConfigError(f"{path}:{line}: row needs non-empty 'text' and {wanted}")
        if sentiment is not None and sentiment not in ("negative", "neutral", "positive"):
            raise ConfigError(f"{path}:{line}: sentiment {sentiment!r} is not negative/neutral/positive")
        examples.append(Example(text, intent, f"{path}:{line}", sentiment, row.get("source")))
    if not examples:
        raise ConfigError(f"{path}:1: no labelled rows")
    return Dataset(examples, {n: IntentInfo(n) for n in sorted({e.intent for e in examples if e.intent})})


def _read_csv(path: Path, need_intent: bool = True) -> list[tuple[int, dict]]:
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = set(reader.fieldnames or ())
        if "text" not in fields or not ("intent" in fields or (not need_intent and "sentiment" in fields)):
            wanted = "'intent'" if need_intent else "'intent' or 'sentiment'"
            raise ConfigError(f"{path}:1: CSV header must include 'text' and {wanted} (got {reader.fieldnames})")
        try:
            return [(reader.line_num, row) for row in reader]
        except csv.Error as exc:
            raise ConfigError(f"{path}:{reader.line_num}: malformed CSV: {exc}") from None
