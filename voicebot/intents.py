"""The intent files people edit (`intents/*.yml`, Rasa-like): labelled caller phrases and the
intents' names, descriptions and routes. Read by the NLU (training, evaluation) and by the flow
loader (which intent names a flow may use), so it lives beside both, depending on neither.

Every problem raises ConfigError naming file:line and what is wrong. Line numbers come from the
YAML node marks, so a duplicate example points at the exact line to fix."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from voicebot.errors import ConfigError

OUT_OF_SCOPE = "out_of_scope"
INTENT_KEYS = {"intent", "examples", "description", "route", "answer"}
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it: same nodes, ~15x faster


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    where: str  # "file:line", for error messages and eval reports
    sentiment: str | None = None
    source: str | None = None  # for ASR transcripts: the phrase that was voiced


@dataclass(frozen=True)
class IntentInfo:
    name: str
    description: str = ""
    route: str = ""


@dataclass
class Dataset:
    examples: list[Example]
    intents: dict[str, IntentInfo]

    def labels(self) -> list[str]:
        return sorted({e.intent for e in self.examples})


def normalize(text: str) -> str:
    """The form examples are compared in (duplicates) and classified in."""
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s']", " ", text.lower())).strip()


def load_intents_dir(directory: Path) -> Dataset:
    """All `*.yml`/`*.yaml` files directly in `directory` (not `test/`)."""
    directory = Path(directory)
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yml", ".yaml")) if directory.is_dir() else []
    if not files:
        raise ConfigError(f"{directory}: no intent files (*.yml) found")
    examples: list[Example] = []
    intents: dict[str, IntentInfo] = {}
    defined_at: dict[str, str] = {}
    for path in files:
        file_examples, file_intents, file_where = _load_yaml_file(path)
        for name, info in file_intents.items():
            if name in intents:
                raise ConfigError(f"{file_where[name]}: intent {name!r} is also defined at {defined_at[name]}")
            intents[name], defined_at[name] = info, file_where[name]
        examples += file_examples
    check_duplicates(examples)
    return Dataset(examples, intents)


def _load_yaml_file(path: Path) -> tuple[list[Example], dict[str, IntentInfo], dict[str, str]]:
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
        root = yaml.compose(text, Loader=_LOADER)
    except OSError as exc:
        raise ConfigError(f"{path}:1: cannot read intents: {exc.strerror}") from None
    except UnicodeDecodeError as exc:  # as for flows: the line of the first bad byte
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8") from None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise ConfigError(f"{path}:{line}: malformed YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:  # a ReaderError (a control character) has a position, no mark
        position = getattr(exc, "position", None)
        line = text[:position].count("\n") + 1 if position is not None else 1
        raise ConfigError(f"{path}:{line}: unreadable YAML: {str(exc).splitlines()[0]}") from None
    if root is None:
        raise ConfigError(f"{path}:1: empty file (expected `intents:` with a list)")
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(f"{path}:{_line(root)}: expected a mapping with key `intents`")
    top = _mapping(path, root, {"intents", "version"})
    if "intents" not in top:
        raise ConfigError(f"{path}:{_line(root)}: missing key `intents`")
    seq = top["intents"][1]
    if not isinstance(seq, yaml.SequenceNode):
        raise ConfigError(f"{path}:{_line(seq)}: `intents` must be a list of intents")
    examples: list[Example] = []
    intents: dict[str, IntentInfo] = {}
    defined_at: dict[str, str] = {}
    for item in seq.value:
        if not isinstance(item, yaml.MappingNode):
            raise ConfigError(f"{path}:{_line(item)}: each intent must be a mapping (intent:, examples:)")
        fields = _mapping(path, item, INTENT_KEYS)
        if "intent" not in fields:
            raise ConfigError(f"{path}:{_line(item)}: intent entry without `intent:` name")
        name_node = fields["intent"][1]
        name = _scalar(path, name_node)
        if not NAME_RE.match(name):
            raise ConfigError(f"{path}:{_line(name_node)}: intent name {name!r} must be lower_snake_case")
        if name in intents:
            raise ConfigError(f"{path}:{_line(name_node)}: intent {name!r} is defined twice")
        where = f"{path}:{_line(name_node)}"
        found = _examples(path, name, fields.get("examples", (None, None))[1], where)
        if not found:
            raise ConfigError(f"{where}: intent {name!r} has no examples")
        examples += found
        description = _scalar(path, fields["description"][1]) if "description" in fields else ""
        route = fields.get("route") or fields.get("answer")
        intents[name] = IntentInfo(name, description, _scalar(path, route[1]) if route else "")
        defined_at[name] = where
    return examples, intents, defined_at


def _examples(path: Path, intent: str, node, where: str) -> list[Example]:
    if node is None:
        return []
    if isinstance(node, yaml.ScalarNode):  # Rasa style: a block of "- phrase" lines
        if node.value.strip() == "":
            return []
        out = []
        first = node.start_mark.line + (2 if node.style in ("|", ">") else 1)
        for offset, raw in enumerate(node.value.splitlines()):
            line = raw.strip()
            if not line:
                continue
            if not line.startswith("- "):
                raise ConfigError(f"{path}:{first + offset}: example line must start with '- ': {line!r}")
            out.append(Example(line[2:].strip(), intent, f"{path}:{first + offset}"))
        return out
    if not isinstance(node, yaml.SequenceNode):
        raise ConfigError(f"{path}:{_line(node)}: `examples` of {intent!r} must be a list of phrases")
    out = []
    for child in node.value:
        text = _scalar(path, child).strip()
        if not text:
            raise ConfigError(f"{path}:{_line(child)}: empty example under intent {intent!r}")
        out.append(Example(text, intent, f"{path}:{_line(child)}"))
    return out


def _mapping(path: Path, node: yaml.MappingNode, allowed: set[str]) -> dict[str, tuple]:
    fields: dict[str, tuple] = {}
    for key_node, value_node in node.value:
        key = _scalar(path, key_node)
        if key not in allowed:
            raise ConfigError(f"{path}:{_line(key_node)}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")
        if key in fields:
            raise ConfigError(f"{path}:{_line(key_node)}: key {key!r} given twice")
        fields[key] = (key_node, value_node)
    return fields


def _scalar(path: Path, node) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise ConfigError(f"{path}:{_line(node)}: expected text, got a {'list' if isinstance(node, yaml.SequenceNode) else 'mapping'}")
    return str(node.value)


def _line(node) -> int:
    return node.start_mark.line + 1


def check_duplicates(examples: list[Example]) -> None:
    """The same phrase under two intents makes the labels contradict each other."""
    seen: dict[str, Example] = {}
    for ex in examples:
        key = normalize(ex.text)
        other = seen.get(key)
        if other is not None and other.intent != ex.intent:
            raise ConfigError(
                f"{ex.where}: example {ex.text!r} is under {ex.intent!r} and also under {other.intent!r} at {other.where}"
            )
        seen.setdefault(key, ex)
