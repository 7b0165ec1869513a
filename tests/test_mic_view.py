"""`voicebot call`'s terminal view: the Session's events, in the order a call emits them, become
the live panel's fields (in a terminal) or one plain line per event (not a terminal)."""

from __future__ import annotations

import io

from rich.console import Console

from voicebot.events import DtmfPressed, Prompt, Transcript, Understood
from voicebot.flow.actions import Ask, Expect, Say, Transfer
from voicebot.pipeline.events import BargedIn, Interrupted, Resumed, TurnTiming
from voicebot.transports.mic_view import CallView, call_view

MENU = Ask("How can I help you today?", Expect("intent"))
ID = Ask("Please key in your eight-digit customer number.", Expect("digits", length=8, secret=True))

# A caller talks over the menu (paused, then "mm-hm": resumed), talks over it again and is heard,
# then keys in a customer number and is sent to a person.
CALL = [
    Say("Welcome to Demo Bank."), Prompt("Welcome to Demo Bank.", "greeting"),
    MENU, Prompt("How can I help you today?", "main_menu"),
    BargedIn(1.2), Transcript("mm-hm", "whisper", 0.4, 0.1), Resumed(1.9, "mm-hm"),
    BargedIn(2.5), Transcript("I lost my card and I'm furious", "whisper", 1.6, 0.2),
    Interrupted(2.9, 1700, "speech"),
    Understood("I lost my card and I'm furious", "report_lost_card", 0.91, "negative", -0.62),
    TurnTiming(4.0, 480, 73.0, 9.0, 5.0, 40.0),
    ID, Prompt("Please key in your eight-digit customer number.", "auth_id"),
    Interrupted(5.0, 800, "dtmf"), DtmfPressed("12345678"),
    Transfer("cards", "cards", reason="caller_request"),
]


def _fed(view: CallView) -> CallView:
    for event in CALL:
        view(event)
    return view


def test_the_panel_shows_what_the_call_did():
    view = _fed(CallView())
    view.key("9")  # typed, not yet an answer
    fields = view.fields()
    assert fields["intent"] == "report_lost_card 0.91"
    assert fields["sentiment"] == "negative -0.62"
    assert fields["state"] == "auth_id (listening for 8 digits, secret)"
    assert fields["barge-ins"] == "2 paused, 2 interrupted (1 by dtmf, 1 by speech), 1 resumed"
    assert fields["keys"] == "****  typing •"  # keys at the ID prompt are masked
    assert fields["last turn"].startswith("endpoint 480 ms, asr 73")
    assert fields["outcome"] == "transfer to cards (caller_request)"

    console = Console(file=io.StringIO(), width=100, force_terminal=True, color_system=None)
    console.print(view.render())
    screen = console.file.getvalue()
    assert "12345678" not in screen
    for text in ("I lost my card and I'm furious", "Welcome to Demo Bank.", "report_lost_card 0.91",
                 "negative -0.62", "auth_id", "2 paused", "****"):
        assert text in screen, text
    assert screen.index("Welcome to Demo Bank.") < screen.index("I lost my card")  # in call order


def test_a_caller_answer_at_a_digits_prompt_is_masked_and_not_an_intent():
    view = CallView()
    view(ID)
    line = view.update(Understood("one two three four five six seven eight", "out_of_scope", 0.2, "neutral", 0.0))
    assert "****" in line and "five" not in line and "digits answer" in line
    assert view.fields()["intent"] == "-"  # the last intent is the one said at an intent prompt


def test_not_a_terminal_prints_one_plain_line_per_event():
    out = io.StringIO()
    console = Console(file=out, width=200)  # a pipe: rich sees no terminal
    with call_view(console) as view:
        for event in CALL:
            view(event)
    lines = out.getvalue().splitlines()
    assert "\x1b" not in out.getvalue() and "╭" not in out.getvalue()  # no panel, no cursor moves
    assert lines[0].startswith("bot") and "Welcome to Demo Bank." in lines[0]
    assert any("caller talks over the prompt at 1.20s" in line for line in lines)
    assert any("prompt resumes" in line for line in lines)
    assert any(line.startswith("caller") and "report_lost_card 0.91" in line and "negative" in line for line in lines)
    assert any(line.startswith("keys") and "****" in line for line in lines)
    assert "12345678" not in out.getvalue()
    assert "transfer to cards" in lines[-1]


def test_a_terminal_gets_the_live_panel():
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True, color_system=None)
    with call_view(console) as view:
        for event in CALL:
            view(event)
    screen = out.getvalue()
    assert "voicebot call" in screen and "report_lost_card 0.91" in screen and "auth_id" in screen
