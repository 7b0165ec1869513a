"""Production judgement (tests/test_conversation_judgement.py, typed there) in whole calls replayed
from audio (VAD → Whisper → NLU → flow), one clean voice and one over an 8 kHz μ-law line with
noise: a vague card request is confirmed before a card is blocked or activated, and a caller who
says they already waited hears one apology, jumps the line and is offered a callback. Assertions
are on what the call achieved (the card's status, the confirmation asked before the customer
number, outcome, queue, priority), with the flow's own messages, never on exact transcripts."""

from __future__ import annotations

import pytest

from test_calls_audio import WEEKDAY_NOON, flow, stack  # noqa: F401  (the bank flow, models loaded once)
from voicebot.audio import read_wav
from voicebot.flow import CallEngine
from voicebot.pipeline import Session
from voicebot.speechgen import CLEAN, TELEPHONE
from voicebot.store import open_store
from voicebot.transports.replay import play_call

pytestmark = pytest.mark.slow

VOICES = [("piper", CLEAN), ("flite:slt", TELEPHONE)]
ALICE = "12345678"


@pytest.fixture
def call(stack, flow, speak, tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'calls.db'}", demo=True)

    def run(turns, voice, channel):
        """Spoken turns in `voice` over `channel`; "dtmf:…" turns are keys, "text:…" words
        understood without the recogniser."""
        played = [t if t.startswith("dtmf:") else t.removeprefix("text:") if t.startswith("text:")
                  else read_wav(speak(t, voice, channel)) for t in turns]
        session = play_call(Session(CallEngine(flow, store, now=WEEKDAY_NOON), stack), played, patience=1)
        record = session.engine.record.to_dict()
        for t in record["turns"]:
            print(f"bot: {t['bot']['text']!r}\ncaller: {t['caller']['text']!r} -> {t['caller']['intent']}")
        print("outcome:", record["outcome"], record["queue"], record["reason"], record["priority"])
        return record

    run.store = store
    return run


def bot_turns(record) -> list[str]:
    return [t["bot"]["text"] or "" for t in record["turns"]]


def lead(template: str) -> str:
    """A message's words before its first {variable}: "Just to be sure: would you like to"."""
    return template.split("{")[0].strip()


def confirmed_before_the_customer_number(record, flow) -> bool:
    """The bot asked which request, or whether this one, before it asked who the caller is."""
    messages, texts = flow.spec.messages, bot_turns(record)
    asked = [i for i, text in enumerate(texts) if lead(messages.confirm_action) in text or lead(messages.clarify) in text]
    verify = [i for i, text in enumerate(texts) if flow.spec.authentication.id_prompt in text]
    return bool(asked) and (not verify or asked[0] < verify[0])


def cards(store) -> dict[str, str]:
    return {c.kind: c.status for c in store.get_customer(ALICE).cards}


# --- a vague card request is confirmed first ---------------------------------------------------
# Over the line the request is typed and the answers are heard: flite slt's "it's about my card"
# over the noisy line is heard by the shipped recogniser (the 0.7 blend) as a sure "It's without
# my card." (lost card 0.87), a different sentence, so nothing vague is left to confirm
# (docs/asr.md, third round). A vague request heard over the line is the activate test's below.
VAGUE = [("piper", CLEAN, "it's about my card"), ("flite:slt", TELEPHONE, "text:it's about my card")]


@pytest.mark.parametrize("voice, channel, vague", VAGUE)
def test_a_vague_card_request_confirmed_with_yes_blocks_the_card(call, flow, voice, channel, vague):
    """"It's about my card" reads as a lost card, under confirm_actions_below: asked first, the
    caller's yes blocks their card."""
    record = call([vague, "yes", f"dtmf:{ALICE}", "dtmf:2468"], voice, channel)
    assert confirmed_before_the_customer_number(record, flow)
    assert cards(call.store)["debit"] == "blocked" and record["outcome"] == "self_service"
    assert record["intents"] == ["report_lost_card"]


@pytest.mark.parametrize("voice, channel, vague", VAGUE)
def test_a_vague_card_request_declined_blocks_nothing(call, flow, voice, channel, vague):
    record = call([vague, "no"], voice, channel)
    assert confirmed_before_the_customer_number(record, flow)
    assert flow.spec.messages.confirm_declined in bot_turns(record)[-2]  # asked what they want instead
    assert cards(call.store) == {"debit": "active", "credit": "inactive"}
    assert not any(flow.spec.authentication.id_prompt in text for text in bot_turns(record))


@pytest.mark.parametrize("voice, channel", VOICES)
def test_a_question_about_a_card_activates_one_only_when_the_caller_chooses_it(call, flow, voice, channel):
    """"I have a question about my card": activate a card, or dispute a charge? The caller picks
    activating, and only then is their new card activated."""
    record = call(["I have a question about my card", "activate my card", f"dtmf:{ALICE}", "dtmf:2468"],
                  voice, channel)
    assert confirmed_before_the_customer_number(record, flow)
    assert cards(call.store) == {"debit": "active", "credit": "active"} and record["intents"] == ["activate_card"]


# --- a caller who already waited -----------------------------------------------------------------
def waited_sorry_count(record, flow) -> int:
    return " ".join(bot_turns(record)).count(flow.spec.messages.waited_sorry)


@pytest.mark.parametrize("voice, channel", VOICES)
def test_a_caller_who_waited_is_offered_a_callback_not_a_new_wait(call, flow, voice, channel):
    """Customer relations has a line: a caller who says they were on hold for an hour hears one
    apology and a callback offer with no wait in it, and books the callback."""
    record = call(["I was on hold for an hour and I want to make a complaint", "yes please"], voice, channel)
    assert (record["queue"], record["priority"], record["disposition"]) == ("complaints", "high", "callback")
    # a hand-over either way: this complaint reads strongly negative (-0.98 typed), so it escalates
    assert record["outcome"] in ("transferred", "escalated") and waited_sorry_count(record, flow) == 1
    assert lead(flow.spec.messages.queue_position) not in " ".join(bot_turns(record))  # no place, no wait
    assert [t["caller_id"] for t in call.store.tasks("callback")] == [None]  # the task is booked


@pytest.mark.parametrize("voice, channel", VOICES)
def test_a_caller_who_waited_and_holds_jumps_the_line(call, flow, voice, channel):
    """Declining the callback, the caller waits in line, with the priority they were given ("no,
    I'll hold" was heard "you know, how old?" from flite over the noisy line: a plain no)."""
    record = call(["I was on hold for an hour and I want to make a complaint", "no"], voice, channel)
    assert (record["queue"], record["priority"], record["disposition"]) == ("complaints", "high", "queued")
    assert waited_sorry_count(record, flow) == 1
    assert [(e["call_id"], e["priority"]) for e in call.store.waiting(["complaints"])] == [(record["call_id"], "high")]


@pytest.mark.parametrize("voice, channel", VOICES)
def test_a_calm_caller_who_waited_is_put_through_with_the_waited_priority(call, flow, voice, channel):
    """Not escalated (calm), so the high priority is the flow's waited_priority; lending has a
    free agent: one apology and straight through, no wait announced. (Worded for the recogniser:
    over the noisy line flite's "I was on hold for twenty minutes earlier" was heard "I was untold
    for 20 minutes", and "could I talk to someone about a loan" "would I lost to someone out of
    the loan".)"""
    record = call(["I've been waiting twenty minutes to get through, I'd like to ask about a loan please"],
                  voice, channel)
    assert (record["outcome"], record["queue"], record["reason"]) == ("transferred", "loans", "routing")
    assert record["priority"] == flow.spec.settings.waited_priority == "high" and record["agent"]
    assert waited_sorry_count(record, flow) == 1
