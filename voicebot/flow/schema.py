"""The call-flow YAML, as pydantic models. Shapes, ranges and defaults only; cross-references (unknown or
unreachable states, unknown queues) are checked in loader.py, where line numbers are known."""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ExpectKind = Literal["intent", "digits", "yesno", "csat", "free", "choice"]
ActionName = Literal["balance", "transactions", "block_card", "activate_card", "branch_hours",
                     "check_hours", "voicemail", "hangup"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


# the keys a yes/no prompt takes when its state names none (inputs.read_yesno, templates.keypad_yesno)
YESNO_KEYS = {"1": "yes", "2": "no"}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TransferSpec(Strict):
    """Exactly one target. `extension`/`external` may use {vars}, e.g. "{extension}"."""

    queue: str | None = None
    agent: str | None = None
    extension: str | None = None
    external: str | None = None
    reason: Literal["routing", "caller_request"] = "routing"


class StateSpec(Strict):
    say: str | None = None
    say_known: str | None = None  # replaces `say` when the caller ID matched a customer
    ask: str | None = None
    expect: ExpectKind = "intent"
    length: int | None = Field(None, ge=1)  # digits
    choices: list[str] = []  # choice
    dtmf: dict[str, str] = {}  # key → intent / choice / yes / no
    on: dict[str, str] = {}  # answer or action outcome → state
    next: str | None = None
    store_as: str | None = None  # keep a digits/free/choice answer as {var}
    no_match: str | None = None
    no_input: str | None = None
    no_input_timeout: float | None = Field(None, gt=0)
    barge_in: bool = True  # false: the caller cannot talk over this state's prompts (legal text)
    auth: bool = False  # authenticate before entering
    action: ActionName | None = None
    hours: str | None = None  # for check_hours / branch_hours
    transfer: TransferSpec | None = None
    hangup: bool = False
    resolves: bool = False  # a self-service answer: the caller's request is done
    done: str | None = None  # what was done, repeated at closure ("your debit card is now blocked")


class HoursSpec(Strict):
    timezone: str = "UTC"
    weekly: dict[Weekday, str] = {}  # "09:00-17:00"
    holidays: list[date] = []
    say: str | None = None

    @field_validator("weekly")
    @classmethod
    def _ranges(cls, weekly: dict[str, str]) -> dict[str, str]:
        for day, span in weekly.items():
            parse_span(span)
        return weekly


def parse_span(span: str) -> tuple[time, time]:
    try:
        start, end = (time.fromisoformat(part.strip()) for part in span.split("-"))
    except ValueError:
        raise ValueError(f"hours must look like 09:00-17:00, not {span!r}") from None
    if end <= start:
        raise ValueError(f"hours {span!r} end before they start")
    return start, end


class AgentSpec(Strict):
    name: str
    sip: str | None = None  # where a SIP worker transfers this agent's calls (sip:maria@pbx.example)
    skills: list[str] = []
    status: Literal["available", "busy", "offline"] = "available"
    tier: int = Field(1, ge=0)
    languages: list[str] = ["en"]
    idle_seconds: float = Field(0.0, ge=0)


class QueueSpec(Strict):
    label: str | None = None
    sip: str | None = None  # a hunt group / ACD queue URI, used when no agent is named
    strategy: Literal["fixed_order", "round_robin", "most_idle", "skill", "percentage"] = "most_idle"
    agents: list[str] = []  # roster names, in order (fixed_order); empty = everyone with the skills
    skills: list[str] = []
    split: dict[str, Annotated[int, Field(ge=0)]] = {}  # percentage: queue → percent
    hours: str | None = None
    after_hours: Literal["callback", "voicemail", "message"] = "message"
    match_language: bool = False
    calls_per_hour: float = Field(20.0, ge=0)
    handle_seconds: float = Field(300.0, gt=0)
    waiting: int = Field(0, ge=0)
    callback_over_seconds: float | None = Field(120.0, ge=0)


class EscalationSpec(Strict):
    strong_negative: float = -0.6
    negative_in_a_row: int = Field(2, ge=1)
    max_failures: int = Field(3, ge=1)
    max_pin_attempts: int = Field(3, ge=1)  # failed answers at the ID/PIN prompts in one call (wrong or unusable)
    lockout_failures: int = Field(5, ge=1)  # wrong PINs for one customer number across calls ...
    lockout_minutes: float = Field(24 * 60, gt=0)  # ... within this window lock it: the caller goes to a person
    max_unresolved_seconds: float = Field(300.0, gt=0)
    default_queue: str | None = None  # None: "general" if there is one, else the first queue
    senior_tier: int | None = Field(None, ge=0)  # hierarchical escalation: only agents of this tier or above
    queues: dict[str, str] = {}  # intent → queue, over the one its transfer state names


class AuthSpec(Strict):
    id_prompt: str = "Please say or key in your eight-digit customer number."
    pin_prompt: str = "Thanks. Now your four-digit PIN, please."
    id_reprompt: str = "Please say or key in your eight-digit customer number."  # after an error
    pin_reprompt: str = "Please say or key in your four-digit PIN."  # after an error: no "Thanks"
    id_length: int = Field(8, ge=1)
    pin_length: int = Field(4, ge=1)
    # One reply for an unknown number and a wrong PIN, after the PIN: numbers cannot be enumerated.
    mismatch: str = "That customer number and PIN don't match our records."
    # Every this many mismatches the customer number is asked again too (0: only the PIN), so a
    # misheard number can still be put right in the call; a spoken number (the recogniser may
    # have misheard it) restarts sooner than a keyed one.
    restart_after_mismatches: int = Field(2, ge=0)
    restart_after_spoken_mismatches: int = Field(1, ge=0)
    restart: str = "Let's start again."
    # Said at the PIN prompt, these take back the customer number ("sorry, my number was wrong";
    # a digit-free answer there that names the number at all is about the number): it is asked
    # again at once (an answer of id_length digits there is taken as the
    # corrected number too). Not an error, but bounded like one: at most max_pin_attempts per call.
    correct_id_phrases: list[str] = [
        "customer number", "account number", "number was wrong", "number is wrong", "number's wrong",
        "gave the wrong number", "gave you the wrong", "said the wrong number", "not my number",
        "isn't my number", "misheard", "heard it wrong", "got it wrong",
        "got my number wrong", "number again", "start again", "start over", "different number",
        "correct my number", "change the number", "change my number"]
    id_again: str = "No problem."
    # Said instead of the number or PIN ("I don't remember it"), these put the caller through to a
    # person of the request being verified, who can check who they are another way: asking again
    # would only loop to repeated_failures. [] turns it off.
    forgotten_phrases: list[str] = [
        "forgot", "forgotten", "forget", "don't remember", "do not remember", "can't remember",
        "cannot remember", "can't recall", "don't know", "do not know", "don't have it",
        "don't have my", "no idea"]
    forgotten: str = "No problem, a colleague can check who you are another way."
    # Said instead of the number or PIN, these mean the caller is fetching it ("hang on, let me
    # find my card"): no attempt, so not a failed one; the prompt is asked again with
    # `take_your_time` before it and `hold_seconds` to answer. [] turns it off.
    hold_phrases: list[str] = [
        "hang on", "hold on", "one moment", "one sec", "one second", "just a moment", "just a sec",
        "just a second", "bear with me", "give me a second", "give me a moment", "give me a minute",
        "let me find", "let me get", "let me check", "let me look", "let me see", "let's see",
        "looking for it", "getting it", "wait a moment", "wait a second", "wait a sec"]
    take_your_time: str = "No problem, take your time."
    hold_seconds: float = Field(15.0, gt=0)
    locked: str = "For your security, I'll connect you with a specialist who can verify you."
    verified: str = "Thank you, {first_name}, you're verified."


class SettingsSpec(Strict):
    low_confidence: float = Field(0.55, ge=0, le=1)
    clarify_margin: float = Field(0.15, ge=0, le=1)
    # At a yes/no prompt, a request said with a clear yes or no ("no, my balance") wins over the
    # yes/no only when the NLU is this sure of it: a misheard fragment ("no thanks" heard as
    # "No, PIN?", reset_pin 0.74) must not turn a "no" into a transfer. Without a yes/no word,
    # low_confidence applies as at any intent prompt.
    request_over_yesno: float = Field(0.85, ge=0, le=1)
    # A request that changes the account (block_card, activate_card) heard less surely than this
    # is confirmed first (which of two, or yes/no): chosen on dev data (docs/flows.md).
    confirm_actions_below: float = Field(0.75, ge=0, le=1)
    # a caller who says they already waited ("I was on hold for an hour") is routed with this
    # priority ("high" jumps half the line), and offered a callback where the queue has them
    waited_priority: Literal["normal", "high"] = "high"
    no_input_timeout: float = Field(5.0, gt=0)
    voicemail_seconds: float = Field(60.0, gt=0)
    greet_by_caller_id: bool = True  # caller ID alone sets {first_name}/say_known (not verified)
    # a caller whose line a worker lost while they waited in a queue gets their place back when
    # they call again (same caller ID, same queue) within this many minutes; 0: never
    queue_rejoin_minutes: float = Field(10.0, ge=0)


class MessagesSpec(Strict):
    sorry: str = "I'm sorry about the trouble, let's sort it out."
    no_match: str = "Sorry, I didn't get that."
    no_input: str = "Sorry, I didn't hear anything."
    clarify: str = "Would you like to {first}, or {second}?"
    clarify_again: str = "Sorry, was that to {first}, or to {second}?"
    transfer: str = "I'll connect you with a specialist in {queue} who can help."
    escalate: str = "I'm going to connect you with a specialist in {queue} right away."
    queue_position: str = "You're number {position} in line; the wait is {wait}."
    queue_place_kept: str = "Welcome back: you keep your place in line from your last call."
    callback_offer: str = ("The wait is {wait} right now. Would you like us to call you back "
                           "at this number instead?")
    callback_booked: str = "Done, we'll call you back at this number as soon as someone is free."
    after_hours_callback: str = ("We're closed right now. Would you like us to call you back at "
                                 "this number when we open?")
    voicemail_offer: str = "No one can take your call right now. Please leave a message after the tone."
    voicemail_saved: str = "Thank you, we've saved your message and will call you back."
    after_hours: str = "We're closed right now. Please call again during business hours. Goodbye."
    recap: str = "To recap: {items}."
    confirm_action: str = "Just to be sure: would you like to {request}?"
    confirm_declined: str = "Sorry, I misunderstood. What would you like to do?"
    waited_sorry: str = "I'm sorry you've already had to wait."   # "" = say nothing
    callback_offer_waited: str = ("Rather than have you hold again, would you like us to call you back "
                                  "at this number as soon as someone is free?")
    # a store operation the call needs failed (the database is unreachable, locked or refusing): said
    # before the caller is handed to a person of the default queue (reason system_unavailable)
    system_unavailable: str = "I'm sorry, I can't reach our account system right now."
    # said after an intent prompt's re-prompt (no match, no input) when the prompt has keys: a caller
    # the recogniser cannot follow still gets through. {options}: "press 1 to check your balance,
    # 2 to …, or 0 to speak with an agent", from the state's dtmf map and intent_phrases. "" = never.
    keypad_menu: str = "Or use your keypad: {options}."
    # said after a yes/no prompt's re-prompt: a "yes" the line garbles still gets through. "" = never.
    keypad_yesno: str = "Or press {yes} for yes, or {no} for no."


class FlowSpec(Strict):
    name: str
    start: str
    settings: SettingsSpec = SettingsSpec()
    escalation: EscalationSpec = EscalationSpec()
    authentication: AuthSpec = AuthSpec()
    messages: MessagesSpec = MessagesSpec()
    requests: dict[str, str] = {}  # intent → state, from any intent prompt
    global_intents: dict[str, str] = {}  # intent → state, from any prompt (e.g. goodbye)
    intent_labels: dict[str, str] = {}  # what a caller may call an intent: "your balance"
    intent_phrases: dict[str, str] = {}  # clarifying questions: "Would you like to {check your balance}?"
    global_phrases: dict[str, list[str]] = {}  # state → words that lead there from any prompt
    # words that say the caller already waited on the phone (a wait in minutes or hours counts too)
    waited_phrases: list[str] = ["on hold", "been holding", "was holding", "in the queue", "in a queue",
                                 "cut off", "hung up on me", "trying to get through", "to get through"]
    hours: dict[str, HoursSpec] = {}
    agents: list[AgentSpec] = []
    queues: dict[str, QueueSpec] = {}
    states: dict[str, StateSpec] = Field(min_length=1)
    crm_webhook: str | None = None

    def phrase_for(self, intent: str) -> str:
        """How a question names the request: "Would you like to {check your balance}?"."""
        return self.intent_phrases.get(intent) or self.intent_labels.get(intent, intent.replace("_", " "))
