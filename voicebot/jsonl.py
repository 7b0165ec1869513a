"""JSON Lines files people write by hand (data sets, audio manifests): one object a line, blank
lines skipped, every problem a ConfigError naming file:line."""

from __future__ import annotations

import json
from pathlib import Path

from voicebot.errors import ConfigError


def read_jsonl(path: Path, what: str = "data file", text_fields: tuple[str, ...] = ()) -> list[tuple[int, dict]]:
    """(line number, object) for every non-blank line of `path`; each of `text_fields` a line has
    must be a string (`"intent": ["a"]` or `"file": 5` would otherwise be used as its text)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such {what}")
    rows = []
    for number, raw in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: malformed JSON: {exc.msg}") from None
        if not isinstance(row, dict):
            raise ConfigError(f"{path}:{number}: each line must be a JSON object")
        for key in text_fields:
            if row.get(key) is not None and not isinstance(row[key], str):
                raise ConfigError(f"{path}:{number}: {key!r} must be text, not {json.dumps(row[key])}")
        rows.append((number, row))
    return rows
