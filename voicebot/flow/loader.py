"""Load a flow YAML: parse with line marks, validate shapes (pydantic) and references, and report
every problem as ConfigError "file:line: what"."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import ValidationError

from voicebot.errors import ConfigError
from voicebot.flow.schema import FlowSpec, StateSpec
from voicebot.flow.templates import check_intents, check_templates, project_intents
from voicebot.flow.selfservice import ACTION_OUTCOMES
from voicebot.store.protocols import AGENT_NAME_LENGTH, QUEUE_NAME_LENGTH

Path_ = tuple[Any, ...]
_DTMF_KEYS = re.compile(r"[0-9*#]+")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it: ~15x faster, same nodes


def _to_data(node: yaml.Node, path: Path_, lines: dict[Path_, int],
             scalars: yaml.constructor.SafeConstructor | None = None) -> Any:
    """Plain Python data from a composed YAML node, noting the line of every key and item."""
    scalars = scalars or yaml.constructor.SafeConstructor()
    lines.setdefault(path, node.start_mark.line + 1)  # a key's own line wins over its value's
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)  # raw text: `yes:`/`1:` stay the strings "yes"/"1"
            if key in out:
                raise ConfigError(f"{{file}}:{key_node.start_mark.line + 1}: duplicate key {key!r}")
            lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _to_data(value_node, path + (key,), lines, scalars)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_data(item, path + (i,), lines, scalars) for i, item in enumerate(node.value)]
    try:
        value = scalars.construct_object(node)  # the scalar's resolved tag: int, float, bool, date, null, str
    except ValueError:  # looks like a date but is none (2026-13-45): the field's check names it
        return node.value
    if isinstance(value, bool) and node.value.lower() not in ("true", "false"):
        return node.value  # YAML 1.1 reads yes/no/on/off as booleans; a flow means the word
    return value


def _line(lines: dict[Path_, int], loc: Path_) -> int:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def parse_flow_text(text: str, source: str, intents: Collection[str] | None = None
                    ) -> tuple[FlowSpec, dict[Path_, int]]:
    """Parse and validate; `intents` are the names the NLU can produce (None: the project's
    intents/*.yml; an empty collection skips the intent check)."""
    lines: dict[Path_, int] = {}
    try:
        node = yaml.compose(text, Loader=_LOADER)
        if node is None or not isinstance(node, yaml.MappingNode):
            raise ConfigError(f"{source}:1: a flow must be a mapping with 'name', 'start' and 'states'")
        data = _to_data(node, (), lines)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        position = getattr(exc, "position", None)  # a ReaderError (a control character) has no mark
        line = mark.line + 1 if mark else text[:position].count("\n") + 1 if position is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}:{line}: invalid YAML: {problem}") from None
    except RecursionError:  # aliases nested without end: a YAML bomb, not a flow
        raise ConfigError(f"{source}:1: YAML nested too deeply") from None
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("{file}", source)) from None
    try:
        spec = FlowSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc)
        raise ConfigError(f"{source}:{_line(lines, loc)}: {where}: {err['msg']}") from None
    check_references(spec, lines, source)
    at = lambda loc: f"{source}:{_line(lines, loc)}"  # noqa: E731
    check_templates(spec, at)
    check_intents(spec, at, project_intents() if intents is None else intents)
    return spec, lines


def check_references(spec: FlowSpec, lines: dict[Path_, int], source: str) -> None:
    def fail(loc: Path_, message: str) -> None:
        raise ConfigError(f"{source}:{_line(lines, loc)}: {message}")

    states = spec.states

    def need_state(name: str, loc: Path_) -> None:
        if name not in states:
            fail(loc, f"unknown state {name!r} (states: {', '.join(sorted(states))})")

    need_state(spec.start, ("start",))
    for section in ("requests", "global_intents"):
        for intent, target in getattr(spec, section).items():
            need_state(target, (section, intent))
    for name, hours in spec.hours.items():
        try:
            ZoneInfo(hours.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            fail(("hours", name, "timezone"), f"unknown timezone {hours.timezone!r}")
    roster = {a.name for a in spec.agents}
    # a name wider than its database column would lose the call's record on PostgreSQL
    for i, agent in enumerate(spec.agents):
        if len(agent.name) > AGENT_NAME_LENGTH:
            fail(("agents", i, "name"), f"agent name {agent.name!r} is longer than {AGENT_NAME_LENGTH} characters")
    for qname in spec.queues:
        if len(qname) > QUEUE_NAME_LENGTH:
            fail(("queues", qname), f"queue name {qname!r} is longer than {QUEUE_NAME_LENGTH} characters")
    for qname, queue in spec.queues.items():
        if queue.hours and queue.hours not in spec.hours:
            fail(("queues", qname, "hours"), f"unknown hours {queue.hours!r}")
        for agent in queue.agents:
            if agent not in roster:
                fail(("queues", qname, "agents"), f"unknown agent {agent!r}")
        for target in queue.split:
            if target not in spec.queues:
                fail(("queues", qname, "split", target), f"unknown queue {target!r}")
        if queue.strategy == "percentage" and sum(queue.split.values()) != 100:
            fail(("queues", qname, "split"), "percentage split must add up to 100")
    for name, state in states.items():
        loc = ("states", name)
        for key in ("next",):
            if state.next:
                need_state(state.next, loc + (key,))
        for answer, target in state.on.items():
            need_state(target, loc + ("on", answer))
        if state.ask is None and any(
                (state.expect != "intent", state.dtmf, state.choices, state.store_as, state.no_match)):
            fail(loc, f"state {name!r} expects input but has no 'ask' prompt")
        if not any((state.say, state.ask, state.action, state.transfer, state.hangup)):
            fail(loc, f"state {name!r} has no prompt: give it 'say', 'ask', 'action', "
                      "'transfer' or 'hangup'")
        if state.ask and state.expect in ("choice",) and not state.choices:
            fail(loc, f"state {name!r} expects a choice but lists no 'choices'")
        if state.ask and state.expect not in ("intent",) and not (state.next or state.on):
            fail(loc, f"state {name!r} asks but says where to go next ('next' or 'on')")
        if not (state.ask or state.transfer or state.hangup or state.next or state.on):
            fail(loc, f"state {name!r} is a dead end: add 'next', 'ask', 'transfer' or 'hangup'")
        if state.transfer:
            targets = [t for t in ("queue", "agent", "extension", "external")
                       if getattr(state.transfer, t)]
            if len(targets) != 1:
                fail(loc + ("transfer",), "transfer needs exactly one of queue, agent, "
                                          "extension, external")
            if state.transfer.queue and state.transfer.queue not in spec.queues:
                fail(loc + ("transfer", "queue"), f"unknown queue {state.transfer.queue!r}")
            if state.transfer.agent and state.transfer.agent not in roster:
                fail(loc + ("transfer", "agent"), f"unknown agent {state.transfer.agent!r}")
        if state.hours and state.hours not in spec.hours:
            fail(loc + ("hours",), f"unknown hours {state.hours!r}")
        if state.action == "check_hours" and not state.hours:
            fail(loc, f"state {name!r}: check_hours needs 'hours'")
        missing = [o for o in ACTION_OUTCOMES.get(state.action or "", ()) if o not in state.on]
        if missing:  # an action that can fail must say what the flow does then
            fail(loc, f"state {name!r}: action {state.action!r} can end {', '.join(missing)}; "
                      "give each a branch under 'on'")
    check_answers(spec, fail)
    for target, words in spec.global_phrases.items():
        need_state(target, ("global_phrases", target))
    if spec.crm_webhook and not re.match(r"https?://[^\s/]+", spec.crm_webhook):  # else every call only warns
        fail(("crm_webhook",), f"crm_webhook {spec.crm_webhook!r}: expected an http:// or https:// URL")
    if spec.escalation.default_queue and spec.escalation.default_queue not in spec.queues:
        fail(("escalation", "default_queue"), f"unknown queue {spec.escalation.default_queue!r}")
    for name in sorted(set(states) - reachable_states(spec)):
        fail(("states", name), f"state {name!r} is unreachable from {spec.start!r}")


def check_answers(spec: FlowSpec, fail: Callable[[Path_, str], None]) -> None:
    """Every answer a prompt can take leads somewhere, every key can be pressed, and no chain of
    states loops without asking the caller anything (each would stop a call mid-way)."""
    for name, state in spec.states.items():
        loc = ("states", name)
        for key, value in state.dtmf.items():
            if not _DTMF_KEYS.fullmatch(key):
                fail(loc + ("dtmf", key), f"dtmf key {key!r} is not a phone key (0-9, * or #)")
            if state.expect == "yesno" and value not in ("yes", "no"):
                fail(loc + ("dtmf", key), f"dtmf {key!r}: a yes/no prompt's key means 'yes' or 'no', not {value!r}")
        answers = {"yesno": ["yes", "no"], "csat": list("12345"),
                   "choice": [*state.choices, *state.dtmf.values()]}.get(state.expect, [])
        unled = [a for a in dict.fromkeys(answers) if a not in state.on]
        if state.ask and unled and not state.next:
            fail(loc, f"state {name!r}: the answer {unled[0]!r} leads nowhere; give it a branch "
                      "under 'on' or give the state 'next'")
    for name in spec.states:
        path = _chain_from(spec, name)
        if path:
            fail(("states", path[0]), "states loop without asking the caller anything: " + " → ".join(path))


def _chain_from(spec: FlowSpec, start: str) -> list[str]:
    """The loop `start` runs into by states that go straight on (no prompt, transfer or hang-up)."""
    def goes_on(state: StateSpec) -> bool:
        return not (state.ask or state.transfer or state.hangup or state.action in ("voicemail", "hangup"))

    path, todo = [], [(start, [start])]
    while todo:
        name, path = todo.pop()
        state = spec.states.get(name)
        if state is None or not goes_on(state):
            continue
        for target in {*state.on.values(), *([state.next] if state.next else [])}:
            if target == start:
                return [*path, target]
            if target not in path:
                todo.append((target, [*path, target]))
    return []


def reachable_states(spec: FlowSpec) -> set[str]:
    todo = [spec.start, *spec.requests.values(), *spec.global_intents.values(), *spec.global_phrases]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in spec.states:
            continue
        seen.add(name)
        state = spec.states[name]
        todo.extend(state.on.values())
        if state.next:
            todo.append(state.next)
    return seen


def load_flow_spec(path: str | Path, intents: Collection[str] | None = None
                   ) -> tuple[FlowSpec, dict[Path_, int]]:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}:1: cannot read flow: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                          "save the flow as UTF-8") from None
    return parse_flow_text(text, str(path), intents)
