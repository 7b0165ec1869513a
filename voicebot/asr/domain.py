"""What every backend shares about the caller's domain: the banking vocabulary that biases
recognition, and the post-processing a prompt kind asks for (digits → "1234", yes/no → "yes" or
"no", choice → the closest allowed phrase)."""

from __future__ import annotations

import difflib
import re

from voicebot.asr.base import Hints
from voicebot.asr.numbers import words_to_digits

# Words a banking IVR caller says that a general model is likely to mishear.
BANKING_VOCABULARY = (
    "balance", "transactions", "debit card", "credit card", "PIN", "branch", "opening hours",
    "transfer", "payment", "loan", "mortgage", "dispute", "charge", "address", "statement",
    "overdraft", "savings", "checking account", "agent", "representative", "stolen", "blocked",
)
YES_WORDS = {"yes", "yeah", "yep", "yup", "correct", "sure", "right", "affirmative", "ok", "okay", "absolutely"}
NO_WORDS = {"no", "nope", "nah", "negative", "incorrect", "wrong", "not"}
DIGIT_WORDS = ("zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


# A caller-style sentence in the domain's words measured better as a Whisper prompt than a bare
# keyword list (telephone flite sets: 0.34/0.29/0.27 vs 0.36/0.36/0.31 WER; docs/asr.md).
DOMAIN_PROMPT = (
    "Hello, I'm calling my bank about my debit card, my PIN, my checking account balance, a transfer "
    "to savings, a loan payment, a disputed charge, my address, and the branch hours. Can I talk to an agent?"
)


# Whisper drops or repeats digits in long strings now and then, differently under each prompt;
# when the prompt said how many digits to expect, the next prompt is tried (docs/asr.md). The
# third primes "double"/"triple", which robotic voices otherwise turn into digits ("seven").
DIGIT_PROMPTS = ("My number is 4 2 7 1 9 0 3.", "Uh, one two, three four. Five.", "It is double 4, 7 2, triple 0 5.")


_PROMPT_HINT_KINDS = {"digits": "digits", "csat": "digits", "yesno": "yesno", "choice": "choice"}


def prompt_hints(kind: str, length: int | None = None, choices: tuple[str, ...] = ()) -> Hints:
    """The recogniser hints a flow prompt of this kind sets (Expect.kind: intent, digits, yesno,
    csat, free, choice) — the same for a live call and for `voicebot transcribe --expect`."""
    hint = _PROMPT_HINT_KINDS.get(kind, "free")
    length = 1 if kind == "csat" else length
    return Hints(kind=hint, phrases=tuple(choices), length=length if hint == "digits" else None)


def bias_prompt(hints: Hints, attempt: int = 0) -> str:
    """Text for decoders that take a prompt (Whisper): it primes vocabulary and spelling without
    dictating the answer. Hints.phrases (extra domain words) come first."""
    if hints.kind == "digits" and attempt < len(DIGIT_PROMPTS):
        return DIGIT_PROMPTS[attempt]
    if hints.kind == "yesno":
        return "Yes. No."
    extra = ", ".join(hints.phrases)
    return f"{extra}. {DOMAIN_PROMPT}" if extra else DOMAIN_PROMPT


def grammar_phrases(hints: Hints) -> list[str]:
    """The closed set of things a caller may say for a constrained prompt ([] for free speech)."""
    if hints.kind == "digits":
        return list(DIGIT_WORDS)
    if hints.kind == "yesno":
        return sorted(YES_WORDS | NO_WORDS)
    if hints.kind == "choice":
        return [p.lower() for p in hints.phrases]
    return []


def apply_hints(text: str, hints: Hints) -> str:
    """Normalise a raw transcript to what the prompt kind expects; free speech is only trimmed.
    Falls back to the raw text when the answer does not fit (the flow can then re-prompt)."""
    text = " ".join(text.split())
    if hints.kind == "digits":
        return words_to_digits(text) or text
    if hints.kind == "yesno":
        return text if says_more(text, hints) else (yes_or_no(text) or text)
    if hints.kind == "choice" and hints.phrases:
        return closest_choice(text, hints.phrases) or text
    return text


def says_more(text: str, hints: Hints) -> bool:
    """Whether a constrained prompt's answer carries more than the prompt asked ("yes, and I also
    need…", "no, I want an agent", "I want an agent" at a PIN prompt): then the caller's words are
    recognised openly and kept whole, so the flow can act on the request too."""
    words = re.findall(r"[a-z']+", text.lower())
    if hints.kind == "yesno":
        return len(words) > 3 or (bool(words) and yes_or_no(text) is None)
    if hints.kind == "digits":
        return bool(words) and not words_to_digits(text)
    return False


# A yes/no answer primed with "Yes. No." may come back as its first words only ("yes please, could
# you put me through to a person" → "Yes, please."). An utterance much longer than those words take
# to say (the VAD's pre-roll and hang-over included) is heard again openly, and that reading is kept
# when it carries more than a yes or no. Calm speech runs 2-3 words a second; below one word a
# second over a long stretch, words are missing.
YESNO_MIN_WORDS_PER_SECOND = 1.0
YESNO_LONG_SECONDS = 2.5


def too_long_for(text: str, duration: float, hints: Hints) -> bool:
    """A yes/no reading with far fewer words than the utterance's length holds."""
    if hints.kind != "yesno" or duration < YESNO_LONG_SECONDS:
        return False
    return len(re.findall(r"[a-z']+", text.lower())) < duration * YESNO_MIN_WORDS_PER_SECOND


Reading = tuple[str, "float | None", tuple[str, ...]]  # text, confidence, runner-up readings (a decode's answer)


def fuller_reading(heard: Reading, primed: Reading, hints: Hints) -> Reading | None:
    """A yes/no answer that says more than yes or no, or is too long for its words (`too_long_for`),
    is decoded openly (`heard`). Kept: the first reading that says more, in this order — the open
    decode's best, the primed decode's best, then either's runners-up. Which decode stops after
    "Yes, please." is a matter of float rounding (it changed with the CPU's kernels: the primed
    decode heard "… could you put me through …" and the open one only "Yes, please."), and the
    caller's words are what the flow must act on. None: nobody heard more (a slow "yes")."""
    readings = (heard[0], primed[0], *heard[2], *primed[2])
    fuller = next((text for text in readings if says_more(text, hints)), None)
    if fuller is None:
        return None
    if fuller == heard[0]:
        return heard
    sure = [c for c in (heard[1], primed[1]) if c is not None]
    return fuller, min(sure, default=None), tuple(dict.fromkeys(t for t in readings if t != fuller))


# Words of a request or a correction ("my customer number was wrong", "I want an agent"), which
# digits misheard by Whisper never turned into on the dev set of scripts/bench_digits.py (robotic
# "seven seven…" came out as "Cameron, Cameron…", "zero nine eight seven" as "… Heaven", with the
# packaged tiny.en): a reading of such words with a stray digit is heard openly once more, and a
# one-digit rating prompt keeps them as said. (A first reading at a digits prompt that holds no
# digit at all is kept as said, whatever its words: docs/asr.md, "Digit strings".)
REQUEST_WORDS = {"customer", "number", "wrong", "mistake", "agent", "person", "someone", "somebody",
                 "representative", "operator", "human", "speak", "talk", "forgot", "remember",
                 "again", "start", "over"}


def _request_words(text: str) -> bool:
    return bool(REQUEST_WORDS & set(re.findall(r"[a-z']+", text.lower())))


def says_a_request(text: str, hints: Hints) -> bool:
    """An answer to a digits prompt that holds no digits but a request's words: the caller said
    something else than the number, so no digit string should be searched for in it."""
    return says_more(text, hints) and _request_words(text)


def may_be_a_request(text: str, hints: Hints) -> bool:
    """A digits reading with a request's words and fewer digits than the prompt asks for: one
    word of the request may have been heard as a digit ("my customer number was wrong" → "My
    customer in number was 1"), so an open reading should tell (`says_a_request` on it)."""
    digits = words_to_digits(text)
    return hints.kind == "digits" and bool(hints.length) and bool(digits) and len(digits) < hints.length \
        and _request_words(text)


def yes_or_no(text: str) -> str | None:
    words = re.findall(r"[a-z']+", text.lower())
    for w in words:  # the first decisive word wins: "no, yes it is" is a correction
        if w in NO_WORDS:
            return "no"
        if w in YES_WORDS:
            return "yes"
    return None


def closest_choice(text: str, phrases: tuple[str, ...]) -> str | None:
    lowered = text.lower()
    for p in phrases:  # an allowed phrase said inside a longer answer
        if re.search(rf"\b{re.escape(p.lower())}\b", lowered):
            return p
    best = difflib.get_close_matches(lowered.strip(" .!?"), [p.lower() for p in phrases], n=1, cutoff=0.6)
    return next((p for p in phrases if best and p.lower() == best[0]), None)


# "four out of five", "3 of 5": the scale said after a rating is not a second digit.
_OUT_OF = re.compile(r"\b(?:out\s+)?of\s+(?:the\s+)?(?:5|five|10|ten)\b", re.IGNORECASE)


def one_digit(text: str) -> str | None:
    """The digit a one-digit answer (the survey's 1-5 rating) holds, or None. Whisper under a
    digit prompt loops a lone digit ("five" → "5 5", "Three. Three. Three."), and a caller names
    the scale ("four out of five"): one digit said once or looped is that digit; several different
    digits, or none, decide nothing (scripts/bench_digits.py --kind rating)."""
    digits = words_to_digits(_OUT_OF.sub(" ", text))
    return digits[0] if digits and digits.isdigit() and len(set(digits)) == 1 else None
