"""The one spoken-number parser: what a caller said → numerals. Used by the recogniser's hints
(asr.numbers / asr.domain), the NLU's entities and the call flow (digits at an ID or PIN prompt,
masking), so every layer reads "double four" or "one two — no, one three" the same way.

Cardinals are text2num's `alpha2digit` (a maintained parser: "twelve thirty four" → "12 34",
"one hundred and five" → "105", "point seven five"). Around it sits what telephone callers say
that it leaves alone: "double four", "triple seven", "oh" for zero, "a hundred", corrections, and
joining the groups of a digit string read with pauses ("1 2 3 4, 5 6 7 8" → "12345678").
Pure functions: no imports from the rest of voicebot, so the flow may use it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from text_to_num import alpha2digit

_UNIT_WORDS = "zero one two three four five six seven eight nine".split()
_REPEATS = {"double": 2, "triple": 3}
_ZERO_WORDS = {"oh", "o", "nought", "nil"}  # zero only beside other numbers ("five oh two")
_NUMBER_WORDS = set(_UNIT_WORDS) | {
    "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
    "eighteen", "nineteen", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty",
    "ninety", "hundred", "thousand", "million", "billion", "double", "triple"}
# Words that take back the digits just said: "one two — no, one three", "sorry, I mean ...".
_CORRECTIONS = ("no", "sorry", "i mean", "i meant", "actually", "wait", "correction",
                "let me start again", "start again", "scratch that")
_CORRECTION_RE = re.compile(r"\b(?:" + "|".join(re.escape(c) for c in _CORRECTIONS) + r")\b")
CURRENCY_WORDS = {"dollar", "dollars", "buck", "bucks"}
CENT_WORDS = {"cent", "cents"}
_NUMERAL = re.compile(r"\$?\d[\d,]*(?:\.\d+)?")
_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)")
_ORDINAL_WORD = re.compile(r"first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|"
                           r"eleventh|twelfth|\w+teenth|\w+tieth|hundredth|thousandth|millionth")
_TOKEN = re.compile(r"\$?\d[\d,]*(?:\.\d+)?(?:st|nd|rd|th)?|[a-zA-Z]+(?:'[a-z]+)?|[^\sa-zA-Z\d]")


def _is_number(word: str) -> bool:
    return word in _NUMBER_WORDS or bool(_NUMERAL.fullmatch(word))


def _spell_out(text: str) -> list[str]:
    """Tokens with the telephone idioms alpha2digit does not know rewritten as plain number words:
    "double four" → "four four", "five oh two" → "five zero two", "a hundred" → "one hundred"."""
    words = _TOKEN.findall(text.replace("-", " ").replace("—", " , ").replace("–", " , "))
    low = [w.lower() for w in words]
    out: list[str] = []
    i = 0
    while i < len(words):
        w = low[i]
        nxt = low[i + 1] if i + 1 < len(words) else ""
        if w in _REPEATS and (nxt in _UNIT_WORDS or nxt in _ZERO_WORDS or re.fullmatch(r"\d", nxt)):
            digit = "zero" if nxt in _ZERO_WORDS else nxt
            out.extend([digit] * _REPEATS[w])
            i += 2
            continue
        if w in _ZERO_WORDS:  # a run of them ("one oh oh oh") is zeros when a number borders it
            end = i
            while end < len(words) and low[end] in _ZERO_WORDS:
                end += 1
            around = [low[k] for k in (i - 1, end) if 0 <= k < len(words)]
            zero = any(_is_number(a) for a in around)
            out.extend("zero" if zero else words[k] for k in range(i, end))
            i = end
            continue
        elif w == "a" and nxt in ("hundred", "thousand", "million"):
            out.append("one")
        else:
            out.append(words[i])
        i += 1
    return out


def to_numerals(text: str) -> list[str]:
    """`text` as tokens with every spoken number a numeral ("twelve thirty four" → "12", "34").
    Ordinal words stay words ("the fifth of March" is a date, "the second one" a choice)."""
    out: list[str] = []
    chunk: list[str] = []
    for word in [*_spell_out(text), ""]:
        if word and not _ORDINAL_WORD.fullmatch(word.lower()):
            chunk.append(word)
            continue
        if chunk:
            out.extend(_TOKEN.findall(alpha2digit(" ".join(chunk), "en", threshold=0)))
        if word:
            out.append(word)
        chunk = []
    return out


@dataclass
class _Group:
    start: int
    end: int
    text: str
    value: float
    is_money: bool


def _value(tok: str) -> float:
    return float(tok.lstrip("$").replace(",", ""))


def _digits(tok: str) -> str:
    return re.sub(r"\D", "", tok.split(".")[0])


def _groups(tokens: list[str]) -> list[_Group]:
    """Numbers as a reader would write them: digit runs joined, money with its cents."""
    low = [t.lower() for t in tokens]
    numeric = [bool(_NUMERAL.fullmatch(t)) for t in tokens]
    groups: list[_Group] = []
    i = 0
    while i < len(tokens):
        if not numeric[i]:
            i += 1
            continue
        start, text = i, tokens[i]
        value = _value(text)
        end = i + 1
        # "one two three" → 1 2 3, "twelve thirty four" → 12 34: short adjacent numbers are one string
        while (end < len(tokens) and numeric[end] and "$" not in tokens[end] and "$" not in text
               and "." not in text and "." not in tokens[end]
               and _value(tokens[end - 1]) < 100
               and (_value(tokens[end]) < 100 or tokens[end].startswith("0"))):
            text = _digits(text) + _digits(tokens[end])
            value = float(text)
            end += 1
        money = end < len(tokens) and low[end] in CURRENCY_WORDS
        if text.startswith("$"):
            money, text = True, "$" + _fmt(value, cents=True)
        elif money:
            end += 1
            cents_at = end + 1 if end < len(tokens) and low[end] == "and" else end
            if cents_at + 1 < len(tokens) and numeric[cents_at] and low[cents_at + 1] in CENT_WORDS \
                    and _value(tokens[cents_at]) < 100:
                value += _value(tokens[cents_at]) / 100
                end = cents_at + 2
            text = "$" + _fmt(value, cents=True)
        elif end < len(tokens) and low[end] in CENT_WORDS and value < 100:
            money, value, end = True, value / 100, end + 1
            text = "$" + _fmt(value, cents=True)
        else:
            text = _fmt(value) if "." in text or "," in text else text
        groups.append(_Group(start, end, text, value, money))
        i = end
    return groups


def normalize_numbers(text: str) -> str:
    """Running text with number phrases as numerals: "send twenty five dollars" → "send $25",
    "one two three four" → "1234", "five dollars and fifty cents" → "$5.50"."""
    tokens = to_numerals(text)
    out: list[str] = []
    i = 0
    for group in _groups(tokens):
        out.extend(tokens[i:group.start])
        out.append(group.text)
        i = group.end
    out.extend(tokens[i:])
    return _join(out)


def parse_amount(text: str) -> float | None:
    """The money amount in `text`: "twenty five dollars" → 25.0, "$1,520.75" → 1520.75. A stated
    currency wins over other numbers; with none, the first number counts. None when none."""
    groups = _groups(to_numerals(text))
    for g in groups:
        if g.is_money:
            return round(g.value, 2)
    return round(groups[0].value, 2) if groups else None


def words_to_digits(text: str) -> str:
    """The digit string a caller said, with leading zeros and corrections applied:
    "one one one one" → "1111", "double four two one" → "4421", "five oh two" → "502",
    "one two — no, one three" → "13", "1 2 3 4, 5 6 7 8" → "12345678". Empty if none."""
    said = ""
    for k, part in enumerate(_CORRECTION_RE.split(text.lower())):
        digits = "".join(_digits(t) for t in to_numerals(part)
                         if _NUMERAL.fullmatch(t) and not _ORDINAL.fullmatch(t))
        if k and said and digits:  # a correction replaces as many digits as it repeats
            said = said[: max(0, len(said) - len(digits))] + digits
        else:
            said += digits
    return said


_ONLY_DIGITS = re.compile(r"[\d\s,.-]+")


def awaits_rest(text: str, digits: str, length: int) -> bool:
    """Whether an answer to a prompt for `length` digits is a group said before a pause, so the
    prompt listens on for the rest (expecting only the digits still missing): the answer so far
    holds `digits`, at most half the number, and this utterance's `text` said nothing but digits
    ("one two three four" … "five six seven eight"). A longer short answer is a misheard number,
    asked again at once. The flow (flow/auth.py) and `voicebot transcribe --expect digits:N`
    (cli/transcribe.py) decide by this one rule."""
    return 0 < len(digits) * 2 <= length and bool(_ONLY_DIGITS.fullmatch(text))


def mask_digit_strings(text: str, mask: str, min_digits: int = 4) -> str:
    """`text` with every digit string of `min_digits` or more (however said: "12345678",
    "two four six eight", "double four two one") replaced by `mask`; amounts stay. Text without
    one comes back unchanged."""
    tokens = to_numerals(text)
    singles = [g for g in _groups(tokens) if not g.is_money and "." not in g.text]
    runs: list[list[_Group]] = []  # numbers apart only by pauses ("Oh, two. Four, six, eight.")
    for g in singles:
        if runs and all(t in ",.-;" for t in tokens[runs[-1][-1].end:g.start]):
            runs[-1].append(g)
        else:
            runs.append([g])
    hits = [(r[0].start, r[-1].end) for r in runs
            if sum(len(_digits(g.text)) for g in r) >= min_digits]
    if not hits:
        return text
    out: list[str] = []
    i = 0
    for start, end in hits:
        out.extend(tokens[i:start])
        out.append(mask)
        i = end
    out.extend(tokens[i:])
    return _join(out)


def _fmt(value: float, cents: bool = False) -> str:
    if value == int(value):
        return str(int(value))
    return f"{value:.2f}" if cents else f"{value:g}"


def _join(tokens: list[str]) -> str:
    text = " ".join(tokens)
    return re.sub(r"\s+([.,!?;:%)])", r"\1", text).replace("( ", "(").strip()
