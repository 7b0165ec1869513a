"""Whole calls replayed from audio through the live pipeline (VAD → whisper → NLU → flow), one per
branch of the demo bank flow. Caller turns are voiced by Piper, flite and espeak-ng; some arrive
as 8 kHz μ-law telephone audio."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from voicebot.flow import CallEngine, load_flow
from voicebot.pipeline import Session, Stack
from voicebot.speechgen import CLEAN, TELEPHONE, TELEPHONE_QUIET
from voicebot.store import open_store
from voicebot.transports.replay import replay_audio
from secret_support import without_random_hex

pytestmark = pytest.mark.slow

NY = ZoneInfo("America/New_York")
WEEKDAY_NOON = datetime(2026, 11, 18, 12, 0, tzinfo=NY)  # a Wednesday
SUNDAY_NIGHT = datetime(2026, 11, 22, 3, 0, tzinfo=NY)

AUTH = ["my customer number is one two three four five six seven eight", "two four six eight"]


@pytest.fixture(scope="module")
def stack():
    return Stack.load(asr="whisper", tts=None)


@pytest.fixture(scope="module")
def flow():
    return load_flow("flows/bank.yml")


@pytest.fixture
def call(stack, flow, speak, tmp_path):
    db = f"sqlite:///{tmp_path / 'calls.db'}"

    def run(turns, voice="piper", channel=CLEAN, caller_id=None, now=WEEKDAY_NOON, patience=1):
        """patience=1: like a real caller, say a turn again when the bot asks again (recognition on
        another CPU may differ by a word); tests of failure paths pass patience=0."""
        paths = [t if t.startswith("dtmf:") else str(speak(t, voice, channel)) for t in turns]
        engine = CallEngine(flow, open_store(db, demo=True), caller_id=caller_id, now=now)
        session = replay_audio(Session(engine, stack), paths, patience=patience)
        record = session.engine.record.to_dict()
        json.dumps(record)  # the record is plain JSON
        print_call(record)  # pytest shows it when an assertion fails
        return record, session

    run.db = db
    return run


def print_call(record) -> None:
    for t in record["turns"]:
        caller = t["caller"]
        print(f"bot: {t['bot']['text']!r}\ncaller: {caller['text']!r} -> {caller['intent']}")
    print("outcome:", record["outcome"], record["queue"], record["reason"])


def served(record) -> list[str]:
    """The requests the call acted on. Not the first turn's raw intent: a turn the bot did not get
    (and the caller said again) is no part of what the call achieved."""
    return record["intents"]


def bot_text(record) -> str:
    return " ".join(t["bot"]["text"] or "" for t in record["turns"]).lower()


def test_balance_then_survey(call):
    record, _ = call(["I'd like to check my account balance please", *AUTH, "no thanks", "four"])
    assert record["authenticated"] is True
    assert record["outcome"] == "self_service" and record["csat"] == 4
    assert "one thousand five hundred twenty dollars and seventy-five cents" in bot_text(record)
    assert served(record) == ["check_balance"]


def test_lost_card_over_the_phone_line(call):
    record, session = call(["I lost my card", "dtmf:12345678", "dtmf:2468", "no that's all", "dtmf:5"],
                           voice="flite:slt", channel=TELEPHONE_QUIET)
    assert served(record) == ["report_lost_card"]
    assert "blocked" in bot_text(record)
    assert record["outcome"] == "self_service" and record["csat"] == 5
    cards = session.engine.store.get_customer("12345678").cards  # the store really holds the block
    assert [c.status for c in cards if c.kind == "debit"] == ["blocked"]


@pytest.mark.parametrize(
    "utterance,intent,queue,reason",
    [
        ("I want to talk to a real person please", "speak_to_agent", "general", "caller_request"),
        ("I'd like some information about a personal loan", "loan_inquiry", "loans", "routing"),
    ],
)
def test_routed_without_authentication(call, utterance, intent, queue, reason):
    record, _ = call([utterance], voice="espeak:en-us")
    assert served(record) == [intent]
    assert (record["outcome"], record["queue"], record["reason"]) == ("transferred", queue, reason)
    assert record["authenticated"] is False


def test_transfer_money_authenticates_then_routes(call):
    record, _ = call(["I need to send money to my brother's account", *AUTH], channel=TELEPHONE)
    assert (record["outcome"], record["queue"], record["reason"]) == ("transferred", "payments", "routing")
    assert record["authenticated"] is True


def test_vip_known_by_caller_id(call):
    """Bob (VIP) is known by his number alone. "Someone about a loan" sits between speak_to_agent
    and loan_inquiry, so which one wins moves with a CPU's rounding: when the bot asks which he
    means, he answers like a person ("a loan"); when it does not, the answer is never needed."""
    record, _ = call(["can I speak to someone about a loan", "a loan"], caller_id="+15551230002")
    assert (record["outcome"], record["queue"], record["reason"]) == ("transferred", "loans", "caller_request")
    assert record["priority"] == "vip" and record["authenticated"] is False


def test_angry_caller_is_escalated(call):
    record, _ = call(["This is absolutely ridiculous, I am furious, your bank stole my money and nobody helps me"])
    assert record["outcome"] == "escalated" and record["reason"] == "negative_sentiment"
    assert record["priority"] == "high"


def test_three_no_matches_escalate(call):
    record, _ = call(["what is the weather like on mars", "tell me a joke about penguins",
                      "who won the football game last night"], voice="flite:kal", patience=0)
    assert (record["outcome"], record["reason"]) == ("escalated", "repeated_failures")


def test_silent_turns_count_as_no_input(stack, flow, tmp_path):
    from voicebot.audio import Audio, write_wav

    silent = str(write_wav(tmp_path / "silence.wav", Audio.silence(2.0)))
    engine = CallEngine(flow, open_store(f"sqlite:///{tmp_path / 's.db'}", demo=True), now=WEEKDAY_NOON)
    record = replay_audio(Session(engine, stack), [silent] * 3).engine.record.to_dict()
    assert (record["outcome"], record["reason"]) == ("escalated", "repeated_failures")


def test_caller_who_hangs_up_at_once_is_abandoned(call):
    record, _ = call([])
    assert record["outcome"] == "abandoned" and record["csat"] is None


def test_abandoned_mid_flow(call):
    record, _ = call(["what's my balance", "one two three four five six seven eight"], patience=0)
    assert record["outcome"] == "abandoned" and record["csat"] is None


def test_wrong_pin_three_times(call):
    number = "one two three four five six seven eight"  # asked again after each mismatch (spoken)
    record, _ = call(["check my balance", number, "one three five seven", number, "nine eight seven six",
                      number, "four three two one"], patience=0)
    assert record["authenticated"] is False
    assert (record["outcome"], record["reason"]) == ("escalated", "repeated_failures")



@pytest.mark.parametrize("voice, channel", [("piper", CLEAN), ("flite:slt", TELEPHONE)])
def test_wrong_then_right_spoken_pin_with_a_patient_caller(call, voice, channel):
    """A caller who repeats what the bot did not get (patience) does not repeat a PIN it got and
    turned down: the script's next turn is the next try. Repeating "two four six nine" had used a
    second attempt, the right PIN landed at the customer number prompt, and the call escalated."""
    record, _ = call(["I'd like to hear my recent transactions", "dtmf:12345678", "two four six nine",
                      "two four six eight", "no thanks", "dtmf:4"], voice, channel, patience=1)
    assert record["authenticated"] is True
    assert (record["outcome"], record["csat"]) == ("self_service", 4)


@pytest.mark.parametrize("words, voice, channel", [("sorry, I have forgotten my PIN", "piper", CLEAN),
                                                   ("I don't remember my PIN, sorry", "flite:slt", TELEPHONE),
                                                   ("I don't know it, that's the problem", "flite:kal", TELEPHONE)])
def test_a_forgotten_pin_goes_to_a_person(call, words, voice, channel):
    """Heard at the PIN prompt, "I've forgotten my PIN" is not three wrong-length answers."""
    record, _ = call(["I'd like to check my balance", "dtmf:12345678", words], voice, channel, patience=0)
    assert (record["outcome"], record["queue"], record["reason"]) == ("transferred", "general", "routing")
    assert record["failures"] == 0

def test_pin_and_id_are_redacted(call):
    record, _ = call(["what's my balance", *AUTH, "no", "five"])
    dumped = without_random_hex(json.dumps(record))
    assert "2468" not in dumped and "2 4 6 8" not in dumped
    assert "12345678" not in dumped


def test_after_hours_loan_call(call):
    record, session = call(["I'd like to ask about a mortgage loan", "yes please"], now=SUNDAY_NIGHT)
    # the loans queue is closed on Sunday night and its after_hours is `callback`
    assert (record["outcome"], record["queue"], record["disposition"]) == ("transferred", "loans", "callback")
    assert "we're closed right now. would you like us to call you back" in bot_text(record)
    assert [t["kind"] for t in session.engine.store.tasks()] == ["callback"]


def test_multi_turn_single_wav(stack, flow, speak, tmp_path):
    from voicebot.audio import write_wav
    from voicebot.speechgen import with_silence

    turns = [speak(t, "piper") for t in ["what time does the branch open on saturday", "no thank you", "three"]]
    path = write_wav(tmp_path / "call.wav", with_silence(turns, gap_s=1.5))
    engine = CallEngine(flow, open_store(f"sqlite:///{tmp_path / 'x.db'}", demo=True), now=WEEKDAY_NOON)
    record = replay_audio(Session(engine, stack), [str(path)]).engine.record.to_dict()
    assert served(record) == ["branch_hours"]
    assert record["outcome"] == "self_service" and record["csat"] == 3


@pytest.mark.parametrize(
    "utterance,intent,queue",
    [
        ("I want to pay my electricity bill", "pay_bill", "payments"),
        ("I forgot my PIN and need a new one", "reset_pin", "cards"),
        ("there is a charge on my statement that I never made", "dispute_charge", "disputes"),
        ("I moved house and need to change my address", "update_address", "general"),
    ],
)
def test_account_requests_authenticate_then_route(call, utterance, intent, queue):
    record, _ = call([utterance, "dtmf:12345678", "dtmf:2468"], voice="flite:awb", channel=TELEPHONE_QUIET)
    assert served(record) == [intent] and record["authenticated"] is True
    assert (record["outcome"], record["queue"], record["reason"]) == ("transferred", queue, "routing")


@pytest.mark.parametrize(
    "utterance,intent,expected",
    [
        ("can you tell me my last few transactions", "recent_transactions", "transactions"),
        ("I just got my new card in the mail and want to activate it", "activate_card", "active"),
    ],
)
def test_more_self_service(call, utterance, intent, expected):
    record, _ = call([utterance, *AUTH, "no thank you", "dtmf:4"], voice="espeak:en-us+f3")
    assert served(record) == [intent]
    assert expected in bot_text(record)
    assert record["outcome"] == "self_service" and record["csat"] == 4


def test_complaint_waits_long_so_a_callback_is_offered(call):
    record, session = call(["I want to make a formal complaint about the service", "yes please"],
                           caller_id="+15551230001")
    assert served(record) == ["complaint"] and record["queue"] == "complaints"
    assert "would you like us to call you back at this number instead" in bot_text(record)
    assert record["disposition"] == "callback"
    assert any(t["kind"] == "callback" for t in session.engine.store.tasks())


def test_after_hours_voicemail_is_recorded_transcribed_and_stored(stack, flow, speak, tmp_path):
    from voicebot.audio import read_wav as load

    turns = [str(speak("I forgot my PIN and need a new one", "piper")), "dtmf:12345678", "dtmf:2468",
             str(speak("Hi, please call me back tomorrow morning about my PIN, thank you", "piper"))]
    store = open_store(f"sqlite:///{tmp_path / 'vm.db'}", demo=True)
    engine = CallEngine(flow, store, caller_id="+15551230001", now=SUNDAY_NIGHT)
    session = Session(engine, stack, voicemail_dir=tmp_path / "voicemail")
    record = replay_audio(session, turns).engine.record.to_dict()
    assert record["disposition"] == "voicemail" and record["queue"] == "cards"
    [task] = store.tasks("voicemail")
    assert task["caller_id"] == "+15551230001" and "call me back" in task["text"].lower()
    assert load(task["recording"]).duration > 2.0  # the caller's own audio is kept
