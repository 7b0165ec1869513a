"""Spoken numbers ↔ numerals, both ways.

words → digits: what a recogniser hears ("one two three four", "double five", "twenty five
dollars", "one thousand five hundred twenty point seven five") becomes numerals for NLU entities.
digits → words: what TTS should say for an amount ("1520.75" → "one thousand five hundred twenty
dollars and seventy-five cents") or a digit string read one digit at a time.

The word parser splits a run of number words into separate numbers where English would
("twelve thirty four" → 12, 34; "one two" → 1, 2) by tracking what may follow what, as text2num
does."""

from __future__ import annotations

import re
from dataclasses import dataclass

from voicebot.numwords import say_amount, say_digits, say_number  # noqa: F401  (re-exported)

UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9,
}
TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}
SCALES = {"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
REPEATS = {"double": 2, "triple": 3}
ZERO_WORDS = {"zero", "oh", "o", "nought"}  # "oh" is a zero only next to other number words
CURRENCY_WORDS = {"dollar", "dollars", "buck", "bucks"}
CENT_WORDS = {"cent", "cents"}
_NUMBER_WORDS = set(UNITS) | set(TEENS) | set(TENS) | set(SCALES) | {"hundred"} | ZERO_WORDS
_TOKEN = re.compile(r"\$?\d[\d,]*(?:\.\d+)?|[a-zA-Z]+(?:'[a-z]+)?|[^\sa-zA-Z\d]")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.replace("-", " "))


def _is_numeral(tok: str) -> bool:
    return tok[:1].isdigit() or (tok[:1] == "$" and len(tok) > 1)


def _numeral_value(tok: str) -> float:
    return float(tok.lstrip("$").replace(",", ""))


@dataclass
class _Span:
    """One number found in a token list: tokens [start, end) and its value and digit string."""

    start: int
    end: int
    value: float
    digits: str  # as spoken: "oh one" → "01" (keeps leading zeros), 1500 → "1500"
    single_digit: bool  # a lone digit word: joins neighbours into a digit string


class _Cardinal:
    """Accumulates one cardinal number word by word; `accepts` says whether a word continues it."""

    def __init__(self) -> None:
        self.total, self.part, self.last, self.scale = 0, 0, "", 10**12

    def accepts(self, w: str) -> bool:
        if not self.last:
            return w in UNITS or w in TEENS or w in TENS
        if w in UNITS:
            return w != "zero" and (self.last in ("tens", "hundred", "scale", "and"))
        if w in TEENS or w in TENS:
            return self.last in ("hundred", "scale", "and")
        if w == "hundred":
            return self.last in ("unit", "teen", "tensunit") and 0 < self.part < 100
        if w in SCALES:
            return self.last != "scale" and (self.part > 0) and SCALES[w] < self.scale
        return False

    def add(self, w: str) -> None:
        if w in UNITS:
            self.part += UNITS[w]
            self.last = "tensunit" if self.last == "tens" else "unit"
        elif w in TEENS:
            self.part, self.last = self.part + TEENS[w], "teen"
        elif w in TENS:
            self.part, self.last = self.part + TENS[w], "tens"
        elif w == "hundred":
            self.part, self.last = self.part * 100, "hundred"
        elif w in SCALES:
            self.scale = SCALES[w]
            self.total, self.part, self.last = self.total + self.part * self.scale, 0, "scale"

    @property
    def value(self) -> int:
        return self.total + self.part


def _find_numbers(words: list[str]) -> list[_Span]:
    """Every number in a lower-cased token list, in order."""
    spans: list[_Span] = []
    i = 0
    while i < len(words):
        w = words[i]
        if _is_numeral(w):
            spans.append(_Span(i, i + 1, _numeral_value(w), re.sub(r"\D", "", w.split(".")[0]), False))
            i += 1
        elif w in REPEATS and i + 1 < len(words) and (words[i + 1] in UNITS or words[i + 1] in ZERO_WORDS):
            digit = str(UNITS.get(words[i + 1], 0))
            times = REPEATS[w]
            spans.append(_Span(i, i + 2, float(digit * times), digit * times, False))
            i += 2
        elif w in ZERO_WORDS and (w == "zero" or _near_number(words, i)):
            spans.append(_Span(i, i + 1, 0.0, "0", True))
            i += 1
        elif w == "a" and i + 1 < len(words) and (words[i + 1] == "hundred" or words[i + 1] in SCALES):
            span = _cardinal_from(["one"] + words[i + 1 :], 0)
            spans.append(_Span(i, i + span.end, span.value, span.digits, False))
            i += span.end
        elif w in UNITS or w in TEENS or w in TENS:
            span = _cardinal_from(words, i)
            spans.append(span)
            i = span.end
        else:
            i += 1
    return spans


def _cardinal_from(words: list[str], start: int) -> _Span:
    card, j, end = _Cardinal(), start, start
    while j < len(words):
        w = words[j]
        if w == "and" and card.last in ("hundred", "scale") and j + 1 < len(words) and _continues_after_and(card, words[j + 1]):
            j += 1
            continue
        if not card.accepts(w):
            break
        card.add(w)
        j += 1
        end = j
    single = end - start == 1 and words[start] in UNITS
    return _Span(start, end, float(card.value), str(card.value), single)


def _continues_after_and(card: _Cardinal, word: str) -> bool:
    """"one hundred and five": an "and" is part of the number only if a number word follows."""
    saved = card.last
    card.last = "and"
    ok = card.accepts(word)
    card.last = saved
    return ok


def _near_number(words: list[str], i: int) -> bool:
    """"oh" counts as zero only inside a run of number words ("five oh two")."""
    around = [words[k] for k in (i - 1, i + 1) if 0 <= k < len(words)]
    return any(w in _NUMBER_WORDS - {"o", "oh"} or _is_numeral(w) or w in REPEATS for w in around)


def words_to_digits(text: str) -> str:
    """All digits spoken in `text`, concatenated: "my pin is one two three four" → "1234",
    "five oh double seven" → "5077", "twelve thirty four" → "1234". Empty if there are none."""
    words = [t.lower() for t in _tokens(text)]
    return "".join(s.digits for s in _find_numbers(words))


def normalize_numbers(text: str) -> str:
    """Running text with number phrases as numerals: "send twenty five dollars" → "send $25",
    "one two three four" → "1234", "one thousand five hundred twenty point seven five" →
    "1520.75", "five dollars and fifty cents" → "$5.50"."""
    tokens = _tokens(text)
    words = [t.lower() for t in tokens]
    out: list[str] = []
    i = 0
    for group in _group_spans(words, _find_numbers(words)):
        out.extend(tokens[i : group.start])
        out.append(group.text)
        i = group.end
    out.extend(tokens[i:])
    return _join(out)


@dataclass
class _Group:
    start: int
    end: int
    text: str
    value: float
    is_money: bool


def _group_spans(words: list[str], spans: list[_Span]) -> list[_Group]:
    """Merge spans into what a reader would write: digit runs, decimals, money with cents."""
    groups: list[_Group] = []
    k = 0
    while k < len(spans):
        s = spans[k]
        start, end, value, text = s.start, s.end, s.value, s.digits if s.single_digit else _fmt(s.value)
        # "one two three" / "five five": adjacent short numbers read as one digit string
        while k + 1 < len(spans) and _joins(words, s, spans[k + 1], end):
            k += 1
            text += spans[k].digits
            end = spans[k].end
            value = float(text)
            s = spans[k]
        # "twenty point seven five"
        if end + 1 < len(words) and words[end] == "point":
            frac = ""
            j = end + 1
            while j < len(words) and (words[j] in UNITS or words[j] in ZERO_WORDS):
                frac += str(UNITS.get(words[j], 0))
                j += 1
            if frac:
                text, value, end = f"{text}.{frac}", float(f"{int(value)}.{frac}"), j
        money = end < len(words) and words[end] in CURRENCY_WORDS
        if words[start].startswith("$"):
            money, text = True, "$" + _fmt(value, cents=True)
        elif money:
            end += 1
            cents_at = end + 1 if end < len(words) and words[end] == "and" else end
            nxt = next((sp for sp in spans[k + 1 :] if sp.start == cents_at), None)
            if nxt and nxt.end < len(words) and words[nxt.end] in CENT_WORDS and nxt.value < 100:
                value += nxt.value / 100
                end = nxt.end + 1
                k = spans.index(nxt)
            text = "$" + _fmt(value, cents=True)
        elif end < len(words) and words[end] in CENT_WORDS and value < 100:
            money, value, end = True, value / 100, end + 1
            text = "$" + _fmt(value, cents=True)
        groups.append(_Group(start, end, text, value, money))
        while k < len(spans) and spans[k].start < end:  # spans swallowed by this group
            k += 1
    return groups


def _joins(words: list[str], left: _Span, right: _Span, end: int) -> bool:
    """Whether `right` continues a digit string after `left` ("one two", "twelve thirty four")."""
    if right.start != end or words[left.start].startswith("$") or words[right.start].startswith("$"):
        return False
    short = lambda s: s.single_digit or s.value < 100  # noqa: E731
    return short(left) and (short(right) or right.digits.startswith("0"))


def _fmt(value: float, cents: bool = False) -> str:
    if value == int(value):
        return str(int(value))
    return f"{value:.2f}" if cents else f"{value:g}"


def _join(tokens: list[str]) -> str:
    text = " ".join(tokens)
    return re.sub(r"\s+([.,!?;:%)])", r"\1", text).replace("( ", "(").strip()


def parse_amount(text: str) -> float | None:
    """The money amount in `text` (words or numerals): "twenty five dollars" → 25.0,
    "$1,520.75" → 1520.75, "fifty cents" → 0.5. A stated currency wins over other numbers; with
    none, the first number counts. None when there is no number."""
    words = [t.lower() for t in _tokens(text)]
    groups = _group_spans(words, _find_numbers(words))
    for g in groups:
        if g.is_money or g.text.startswith("$"):
            return round(g.value, 2)
    return round(groups[0].value, 2) if groups else None
