"""Invalid flows are rejected with ConfigError "file:line: problem"."""

from __future__ import annotations

import textwrap

import pytest
from flow_support import BANK, EXAMPLES

from voicebot.errors import ConfigError
from voicebot.flow import load_flow

GOOD = """\
name: tiny
start: hello
states:
  hello:
    say: "Hi."
    next: menu
  menu:
    ask: "Yes or no?"
    expect: yesno
    on: {"yes": bye, "no": bye}
  bye:
    say: "Bye."
    hangup: true
"""


def write(tmp_path, text: str):
    path = tmp_path / "flow.yml"
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_flow(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:"), message
    return message


def test_shipped_flows_are_valid():
    for path in [BANK, *EXAMPLES.glob("*.yml")]:
        assert load_flow(path).spec.states


def test_good_flow_loads(tmp_path):
    assert load_flow(write(tmp_path, GOOD)).name == "tiny"


def test_unknown_state_names_line(tmp_path):
    msg = error_of(tmp_path, GOOD.replace('"no": bye', '"no": byee'))
    assert ":10: unknown state 'byee'" in msg


def test_unknown_start_state(tmp_path):
    assert ":2: unknown state 'helo'" in error_of(tmp_path, GOOD.replace("start: hello", "start: helo"))


def test_unreachable_state(tmp_path):
    text = GOOD + "  orphan:\n    say: \"Nobody gets here.\"\n    hangup: true\n"
    assert ":14: state 'orphan' is unreachable from 'hello'" in error_of(tmp_path, text)


def test_missing_prompt(tmp_path):
    text = GOOD.replace('    ask: "Yes or no?"\n', "")
    assert ":7: state 'menu' expects input but has no 'ask' prompt" in error_of(tmp_path, text)


def test_state_that_does_nothing(tmp_path):
    text = GOOD.replace('    say: "Hi."\n', "")
    assert ":4: state 'hello' has no prompt" in error_of(tmp_path, text)


def test_bad_yaml_reports_its_line(tmp_path):
    text = GOOD.replace('    expect: yesno', '    expect: [yesno')
    msg = error_of(tmp_path, text)
    assert "invalid YAML" in msg and msg.split(":")[1] in {"9", "10"}


def test_unknown_field_and_bad_expect_kind(tmp_path):
    assert ":9: states.menu.expect" in error_of(tmp_path, GOOD.replace("expect: yesno", "expect: colour"))
    assert ":13: states.bye.hangupp" in error_of(tmp_path, GOOD.replace("hangup: true", "hangupp: true"))


def test_unknown_queue_and_timezone(tmp_path):
    text = GOOD.replace('    say: "Bye."\n    hangup: true', "    transfer: {queue: nowhere}")
    assert ":12: unknown queue 'nowhere'" in error_of(tmp_path, text)
    text = GOOD + "hours:\n  office: {timezone: Mars/Olympus, weekly: {mon: \"09:00-17:00\"}}\n"
    assert ":15: unknown timezone 'Mars/Olympus'" in error_of(tmp_path, text)


def test_bad_hours_span_and_duplicate_key(tmp_path):
    text = GOOD + "hours:\n  office: {weekly: {mon: \"17:00-09:00\"}}\n"
    assert ":15: hours.office.weekly" in error_of(tmp_path, text)
    text = GOOD.replace("  bye:\n", "  hello:\n    say: x\n    next: bye\n  bye:\n")
    assert ":11: duplicate key 'hello'" in error_of(tmp_path, text)


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read flow"):
        load_flow(tmp_path / "missing.yml")
    assert ":1:" in error_of(tmp_path, "")
