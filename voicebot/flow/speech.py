"""Amounts, dates and waits as a person would say them (number words come from voicebot.numwords,
which the flow may import: it never imports recognition code). Pure functions, no I/O."""

from __future__ import annotations

from datetime import date

from voicebot.numwords import say_amount  # noqa: F401  (re-exported for the flow)
from voicebot.numparse import words_to_digits
from voicebot.numwords import say_number as number_words

_MONTHS = ("January February March April May June July August September October November "
           "December").split()


def say_date(day: date) -> str:
    return f"{_MONTHS[day.month - 1]} {day.day}"


def say_wait(seconds: float) -> str:
    """An estimated wait as a person gives it: "less than a minute", "about fifteen minutes",
    "more than an hour" (also when more calls arrive than the staffed agents can take)."""
    if seconds == float("inf") or seconds > 3600:
        return "more than an hour"
    if seconds < 60:
        return "less than a minute"
    minutes = round(seconds / 60)
    if minutes > 10:  # nobody promises "about thirty-seven minutes"
        minutes = 5 * round(minutes / 5)
    if minutes == 60:
        return "about an hour"
    return f"about {number_words(minutes)} minute{'s' if minutes != 1 else ''}"


def digits_in(text: str) -> str:
    """The digits a caller said or typed: '1 2 3 4', 'one two three four', 'double four' (the one
    spoken-number parser, voicebot.numparse)."""
    return words_to_digits(text)
