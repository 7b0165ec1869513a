"""Spoken numbers ↔ numerals for the recogniser side. The parsing lives in voicebot.numparse (one
parser for ASR hints, NLU entities and the flow; built on text2num's alpha2digit); the reading
aloud in voicebot.numwords. Both are re-exported here, where ASR code has always found them."""

from __future__ import annotations

from voicebot.numparse import normalize_numbers, parse_amount, words_to_digits  # noqa: F401
from voicebot.numwords import say_amount, say_digits, say_number  # noqa: F401
