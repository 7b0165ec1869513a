"""Conversation behaviour in whole calls replayed from audio (VAD → Whisper → NLU → flow): wrong
numbers, PINs with repeated digits, wrong then right PINs, three failed PINs, a person about a
topic, "yes" plus a request, a clarifying question answered unclearly. Several voices, clean and
8 kHz μ-law with line noise. Assertions are on what the call achieved, never on exact words."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session as DbSession

from test_calls_audio import flow, stack  # noqa: F401  (the bank flow, models loaded once)

from voicebot.flow import CallEngine
from voicebot.pipeline import Session
from voicebot.speechgen import CLEAN, TELEPHONE
from voicebot.store import open_store
from voicebot.store.models import CustomerRow
from voicebot.store.pins import hash_pin, new_salt
from voicebot.audio import read_wav
from voicebot.transports.replay import play_call

pytestmark = pytest.mark.slow

WEEKDAY_NOON = datetime(2026, 11, 18, 12, 0, tzinfo=ZoneInfo("America/New_York"))
ID = "my customer number is one two three four five six seven eight"


@pytest.fixture
def call(stack, flow, speak, tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'calls.db'}", demo=True)

    def run(turns, voice="piper", channel=CLEAN, patience=0):
        """Each turn is spoken in `voice` over `channel`, except "dtmf:…" (keys) and "text:…" (the
        words understood without ASR, to set a call up without depending on how they are heard)."""
        played = [t if t.startswith("dtmf:") else t.removeprefix("text:") if t.startswith("text:")
                  else read_wav(speak(t, voice, channel)) for t in turns]
        session = play_call(Session(CallEngine(flow, store, now=WEEKDAY_NOON), stack), played,
                            patience=patience)
        record = session.engine.record.to_dict()
        for t in record["turns"]:
            print(f"bot: {t['bot']['text']!r}\ncaller: {t['caller']['text']!r} -> {t['caller']['intent']}")
        print("outcome:", record["outcome"], record["queue"], record["reason"])
        return record

    run.store = store
    return run


def set_pin(store, customer_id: str, pin: str) -> None:
    with DbSession(store.engine) as s:
        row = s.get(CustomerRow, customer_id)
        row.pin_salt = new_salt()
        row.pin_hash = hash_pin(pin, row.pin_salt)
        s.commit()


def no_empty_prompts(record) -> bool:
    """Every turn the bot answered says something (the last turn is the caller hanging up)."""
    return all(t["bot"]["text"].strip() for t in record["turns"][:-1])


@pytest.mark.parametrize("voice, channel, turns", [
    ("flite:slt", TELEPHONE, ["I'm sorry, I called the wrong number"]),
    ("piper", CLEAN, ["check my balance", "oh sorry, wrong number, bye"]),
    ("espeak:en-us", TELEPHONE, ["check my balance", ID, "sorry, wrong number"]),
])
def test_wrong_number_ends_completed(call, voice, channel, turns):
    record = call(turns, voice, channel)
    assert (record["outcome"], record["queue"]) == ("completed", None)


@pytest.mark.parametrize("voice, channel", [("espeak:en-us", TELEPHONE), ("flite:kal", CLEAN)])
def test_three_wrong_pins_escalate(call, voice, channel):
    # after each mismatch the bot starts again from the (spoken) customer number; the caller follows
    # the request is typed: how "check my balance" is heard is not what this test is about (espeak en-us
    # over the line came out "I can't, my Maryland." on one CPU, a clarifying question shifted every turn)
    record = call(["text:check my balance", ID, "one three five seven", ID, "nine nine nine nine", ID,
                   "four three two one"], voice, channel)
    assert (record["outcome"], record["reason"]) == ("escalated", "repeated_failures")
    assert record["authenticated"] is False


@pytest.mark.parametrize("voice, channel", [("flite:kal", TELEPHONE), ("piper", TELEPHONE)])
def test_wrong_then_right_pin_authenticates(call, voice, channel):
    # a wrong PIN of four distinct digits (repeated digits: test_repeated_digit_pins); after the
    # mismatch the spoken customer number is asked again, then the right PIN
    record = call(["what's my balance", ID, "one three five seven", ID, "two four six eight",
                   "no thanks", "dtmf:4"], voice, channel)
    assert record["authenticated"] is True and record["outcome"] == "self_service"


def test_a_wrong_customer_number_is_put_right_in_the_same_call(call):
    """The caller's spoken number is taken wrongly: after the mismatch the bot starts again from
    the customer number, and the right number and PIN authenticate."""
    wrong_id = "my customer number is one two three four five six seven nine"
    record = call(["what's my balance", wrong_id, "two four six eight", ID,
                   "two four six eight", "no thanks", "dtmf:4"], "piper", TELEPHONE)
    assert record["authenticated"] is True and record["outcome"] == "self_service"


@pytest.mark.parametrize("voice", ["piper", "flite:slt"])
def test_a_customer_number_taken_back_at_the_pin_prompt(call, voice):
    """A keyed number the caller knows was wrong: saying so at the PIN prompt asks for the number
    again (without it a keyed number would only get the PIN asked again), and the right number
    and PIN authenticate."""
    record = call(["what's my balance", "dtmf:12345679", "my customer number was wrong",
                   "dtmf:12345678", "two four six eight", "no thanks", "dtmf:4"], voice, TELEPHONE)
    assert record["authenticated"] is True and record["outcome"] == "self_service"


@pytest.mark.parametrize("pin, said, voice, channel", [
    ("1111", "one one one one", "flite:slt", TELEPHONE),
    ("2222", "two two two two", "piper", TELEPHONE),
    ("4477", "double four, double seven", "espeak:en-us", CLEAN),
    ("9999", "nine nine nine nine", "flite:awb", TELEPHONE),
])
def test_repeated_digit_pins(call, pin, said, voice, channel):
    set_pin(call.store, "12345678", pin)
    record = call(["what's my balance", "dtmf:12345678", said, "no thanks", "dtmf:5"], voice, channel,
                  patience=1)
    assert record["authenticated"] is True and record["outcome"] == "self_service"


@pytest.mark.parametrize("utterance, voice, channel, queue", [
    ("can I speak to someone about a loan", "espeak:en-us", TELEPHONE, "loans"),
    ("can I speak to someone about a loan", "piper", CLEAN, "loans"),
    ("I need an agent for my card", "flite:slt", TELEPHONE, "cards"),
    ("can I speak to someone about my credit card please", "piper", TELEPHONE, "cards"),
    ("can I speak to someone about my credit card please", "flite:slt", CLEAN, "cards"),
])
def test_person_about_a_topic_goes_to_that_queue(call, utterance, voice, channel, queue):
    record = call([utterance], voice, channel)
    assert (record["outcome"], record["queue"], record["reason"]) == ("transferred", queue, "caller_request")


@pytest.mark.parametrize("voice, channel", [("piper", TELEPHONE), ("flite:rms", CLEAN)])
def test_yes_plus_a_request_at_a_yes_no_prompt(call, voice, channel):
    record = call(["what are your branch opening hours", "yes, and I also need to talk to a person"],
                  voice, channel)
    assert (record["outcome"], record["queue"], record["reason"]) == ("transferred", "general", "caller_request")


# each heard as "yes" alone before the answer's length was looked at (espeak en-us and en-us+f3
# are heard openly too, but as "… a real burden", which reads angry and escalates: the ASR's part)
@pytest.mark.parametrize("voice", ["espeak:en-gb", "flite:awb", "flite:slt"])
def test_yes_please_then_a_longer_request_is_heard_whole(call, voice):
    """A pause after "yes please" and a request after it: primed with "Yes. No." the recogniser may
    keep only "yes"; the answer's length says there was more, and it is heard again openly."""
    record = call(["what are your branch opening hours", "yes please, could you put me through to a real person"],
                  voice, TELEPHONE)
    answer = record["turns"][2]["caller"]
    assert answer["intent"] == "speak_to_agent", answer["text"]  # the request was heard, not "yes" alone
    # and acted on: the caller reaches a person. A garbled request may also read angry ("… for a real
    # burden?" in espeak en-gb) and be escalated for it; that is the sentiment's part, not this test's
    assert record["queue"] == "general" and record["outcome"] in ("transferred", "escalated")


@pytest.mark.parametrize("voice, channel, asked", [
    ("piper", CLEAN, "what's going on with my account"),
    # the unclear answers over a noisy line; the request typed, so that the question is asked
    # however this machine's float rounding hears "account" ("spouse" on one CPU)
    ("flite:slt", TELEPHONE, "text:what's going on with my account"),
])
def test_clarifying_question_answered_unclearly_twice(call, voice, channel, asked):
    record = call([asked, "I don't know", "both I guess"], voice, channel)
    assert no_empty_prompts(record)
    assert "customer number" in " ".join(t["bot"]["text"] for t in record["turns"])
    assert set(record["intents"]) & {"recent_transactions", "check_balance"}


def test_transcribe_expect_recognises_as_the_prompt_would(speak, tmp_path):
    import json

    from typer.testing import CliRunner

    from voicebot.cli import _load_commands
    from voicebot.cli.app import app

    _load_commands()
    pin = speak("two four six eight", "piper", TELEPHONE)
    answer = speak("yes, and I also need to talk to a person", "piper", TELEPHONE)
    done = CliRunner().invoke(app, ["transcribe", "--expect", "digits:4", "--json", str(pin)])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)[0]["text"] == "2468"
    done = CliRunner().invoke(app, ["transcribe", "--expect", "yesno", "--json", str(answer)])
    assert "person" in json.loads(done.output)[0]["text"].lower()  # more than yes: kept whole
    bad = CliRunner().invoke(app, ["transcribe", "--expect", "digits:four", str(pin)])
    assert bad.exit_code == 2 and "--expect" in bad.output
