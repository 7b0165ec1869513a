"""Amounts, dates and waits as a person would say them (number words come from voicebot.numwords,
which the flow may import: it never imports recognition code). Pure functions, no I/O."""

from __future__ import annotations

from datetime import date

from voicebot.numwords import say_amount  # noqa: F401  (re-exported for the flow)
from voicebot.numwords import say_number as number_words

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_MONTHS = ("January February March April May June July August September October November "
           "December").split()


def say_date(day: date) -> str:
    return f"{_MONTHS[day.month - 1]} {day.day}"


def say_minutes(seconds: float) -> str:
    if seconds == float("inf"):
        return "well over an hour"  # more calls arrive than the staffed agents can handle
    minutes = max(1, round(seconds / 60))
    return f"{number_words(minutes)} minute{'s' if minutes != 1 else ''}"


_WORD_DIGITS = {w: str(i) for i, w in enumerate(_ONES[:10])} | {"oh": "0", "o": "0"}


def digits_in(text: str) -> str:
    """The digits a caller said or typed: '1 2 3 4', 'one two three four', '12-34' → '1234'."""
    out = []
    for token in text.lower().replace("-", " ").replace(",", " ").split():
        token = token.strip(".!?")
        if token.isdigit():
            out.append(token)
        elif token in _WORD_DIGITS:
            out.append(_WORD_DIGITS[token])
    return "".join(out)
