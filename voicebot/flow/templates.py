"""What a flow's prompts may say: the {variables} each template can use, which of them carry
customer data, and the load-time checks that catch a typo in a placeholder or an intent name
before a caller hears it (instead of a KeyError, or "{balanse}" read out, mid-call)."""

from __future__ import annotations

import difflib
import string
from collections.abc import Callable, Collection, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from voicebot.errors import ConfigError
from voicebot.flow.schema import YESNO_KEYS, FlowSpec, StateSpec

Path_ = tuple[Any, ...]

# Variables a state's say/ask/done (and auth `verified`) may use, set by the engine and actions:
# the caller's name, action results, branch hours, the recap of what was done. `store_as` names
# add to these per flow.
STATE_VARS = frozenset({"first_name", "balance", "transactions", "card", "cards", "hours", "recap"})
# Messages are filled by the engine with exactly these; every other message is spoken as written.
MESSAGE_VARS: dict[str, frozenset[str]] = {
    "clarify": frozenset({"first", "second"}),
    "clarify_again": frozenset({"first", "second"}),
    "transfer": frozenset({"queue"}),
    "escalate": frozenset({"queue"}),
    "queue_position": frozenset({"position", "wait"}),
    "callback_offer": frozenset({"wait"}),
    "recap": frozenset({"items"}),
    "confirm_action": frozenset({"request"}),
    "keypad_menu": frozenset({"options"}),
    "keypad_yesno": frozenset({"yes", "no"}),
}
# Variables filled from the flow itself (queue labels, intent labels, hours, waits), never from a
# customer: a prompt using only these may be cached on disk. Everything else is personal.
PUBLIC_VARS = frozenset({"queue", "position", "wait", "first", "second", "hours", "options", "request",
                         "yes", "no"})

PROJECT_INTENTS = Path(__file__).resolve().parents[2] / "intents"


def fields(template: str) -> list[str]:
    """The {names} a template uses; ValueError for broken braces or anything but a plain name."""
    names = []
    for _literal, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(f"placeholder {{{name}{'!' + conversion if conversion else ''}"
                             f"{':' + spec if spec else ''}}} must be a plain {{name}}")
        names.append(name)
    return names


def templates(spec: FlowSpec) -> Iterator[tuple[Path_, str, frozenset[str]]]:
    """Every prompt text of the flow with where it is and the variables it may use."""
    state_vars = STATE_VARS | {s.store_as for s in spec.states.values() if s.store_as}
    for name, state in spec.states.items():
        for key in ("say", "say_known", "ask", "done"):
            if getattr(state, key):
                yield ("states", name, key), getattr(state, key), state_vars
        for key in ("no_match", "no_input"):  # spoken as written
            if getattr(state, key):
                yield ("states", name, key), getattr(state, key), frozenset()
        if state.transfer:
            for key in ("extension", "external"):
                if getattr(state.transfer, key):
                    yield ("states", name, "transfer", key), getattr(state.transfer, key), state_vars
    for key, text in spec.messages.model_dump().items():
        if isinstance(text, str):
            yield ("messages", key), text, MESSAGE_VARS.get(key, frozenset())
    for key, text in spec.authentication.model_dump().items():
        if isinstance(text, str):
            yield ("authentication", key), text, state_vars if key == "verified" else frozenset()
    for name, hours in spec.hours.items():
        if hours.say:
            yield ("hours", name, "say"), hours.say, frozenset()


def keypad_menu(spec: FlowSpec, state: StateSpec) -> str | None:
    """An intent prompt's keys said as a menu, for its re-prompts: "Or use your keypad: press 1 to
    check your balance, 2 to hear your recent transactions, or 0 to speak with an agent." Each key
    says its intent's `intent_phrases` entry ("for" its label when it has none); None for a prompt
    without keys, or when the flow's `keypad_menu` message is empty."""
    if state.expect != "intent" or not state.dtmf or not spec.messages.keypad_menu:
        return None
    items = []
    for key, intent in state.dtmf.items():
        phrase = spec.intent_phrases.get(intent)
        items.append(f"{key} to {phrase}" if phrase else
                     f"{key} for {spec.intent_labels.get(intent, intent.replace('_', ' '))}")
    items[0] = f"press {items[0]}"
    options = items[0] if len(items) == 1 else f"{', '.join(items[:-1])}, or {items[-1]}"
    return spec.messages.keypad_menu.format(options=options)


def keypad_yesno(spec: FlowSpec, dtmf: dict[str, str]) -> str | None:
    """A yes/no prompt's keys for its re-prompts ("Or press 1 for yes, or 2 for no."): the keys
    `inputs.read_yesno` takes, the prompt's own map or 1/2. None when the flow's `keypad_yesno`
    message is empty or the map lacks a key for either answer."""
    keys = {value: key for key, value in (dtmf or YESNO_KEYS).items()}
    if not spec.messages.keypad_yesno or not {"yes", "no"} <= keys.keys():
        return None
    return spec.messages.keypad_yesno.format(yes=keys["yes"], no=keys["no"])


def reprompt_keys(spec: FlowSpec, state: StateSpec, expect: str, own: bool) -> str | None:
    """What a re-prompt adds about the keypad: an intent prompt's menu of keys, or a yes/no
    question's 1 and 2. `own`: the state's own question (else a sub-question of the bot's, such as
    a confirmation, which reads the default keys and has no menu)."""
    if expect == "yesno":
        return keypad_yesno(spec, state.dtmf if own else {})
    return keypad_menu(spec, state) if own else None


def check_templates(spec: FlowSpec, at: Callable[[Path_], str]) -> None:
    """`at(loc)` is "file:line" of a location in the flow."""
    for loc, text, allowed in templates(spec):
        where = f"{at(loc)}: {'.'.join(str(p) for p in loc)}"
        try:
            names = fields(text)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc} (write {{{{ and }}}} for literal braces)") from None
        for name in names:
            if name not in allowed:
                known = ", ".join(sorted(allowed)) or "none: this text is spoken as written"
                raise ConfigError(f"{where}: unknown variable {{{name}}}{_suggest(name, allowed)} "
                                  f"(variables here: {known})")


def check_intents(spec: FlowSpec, at: Callable[[Path_], str], intents: Collection[str]) -> None:
    """Intent names the flow maps must be ones the NLU can produce."""
    if not intents:
        return
    known = set(intents)
    used: list[tuple[Path_, str]] = []
    for section in ("requests", "global_intents", "intent_labels"):
        used += [((section, name), name) for name in getattr(spec, section)]
    used += [(("escalation", "queues", name), name) for name in spec.escalation.queues]
    for sname, state in spec.states.items():
        if state.expect == "intent":
            used += [(("states", sname, "dtmf", key), target) for key, target in state.dtmf.items()]
    for loc, name in used:
        if name not in known:
            raise ConfigError(f"{at(loc)}: {'.'.join(str(p) for p in loc)}: "
                              f"unknown intent {name!r}{_suggest(name, known)}")


@lru_cache(maxsize=1)
def project_intents() -> frozenset[str]:
    """The intent names in the project's intents/*.yml (what the shipped model is trained on);
    empty when the data is not there (an installed package), which skips the check."""
    if not PROJECT_INTENTS.is_dir():
        return frozenset()
    from voicebot.intents import load_intents_dir

    return frozenset(load_intents_dir(PROJECT_INTENTS).labels())


def _suggest(name: str, options: Collection[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
