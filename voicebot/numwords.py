"""Numbers as a person says them: 1520 → "one thousand five hundred twenty", 1520.75 → "... dollars
and seventy-five cents", "1234" → "one two three four". Pure functions with no imports from the
rest of voicebot, so both the recogniser side (asr.numbers) and the flow's prompts use them."""

from __future__ import annotations

from decimal import Decimal

_UNITS = "zero one two three four five six seven eight nine".split()
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((1_000_000_000, "billion"), (1_000_000, "million"), (1_000, "thousand"))


def say_number(n: int) -> str:
    """1520 → "one thousand five hundred twenty"; tens and units hyphenated ("seventy-five")."""
    if n < 0:
        return "minus " + say_number(-n)
    if n < 10:
        return _UNITS[n]
    if n < 20:
        return _TEENS[n - 10]
    if n < 100:
        tens, unit = divmod(n, 10)
        return _TENS[tens] + (f"-{_UNITS[unit]}" if unit else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_UNITS[hundreds]} hundred" + (f" {say_number(rest)}" if rest else "")
    for scale, word in _SCALES:
        if n >= scale:
            head, rest = divmod(n, scale)
            return f"{say_number(head)} {word}" + (f" {say_number(rest)}" if rest else "")
    raise AssertionError("unreachable")


def say_amount(value: float | Decimal | str, currency: str = "dollars") -> str:
    """1520.75 → "one thousand five hundred twenty dollars and seventy-five cents"; 1 → "one
    dollar"; 0.5 → "fifty cents". Accepts "$1,520.75" strings too."""
    amount = float(value.lstrip("$").replace(",", "")) if isinstance(value, str) else float(value)
    sign = "minus " if amount < 0 else ""
    whole, cents = divmod(round(abs(amount) * 100), 100)
    unit = currency[:-1] if whole == 1 and currency.endswith("s") else currency
    cent_word = "cent" if cents == 1 else "cents"
    if whole and cents:
        return f"{sign}{say_number(whole)} {unit} and {say_number(cents)} {cent_word}"
    if cents:
        return f"{sign}{say_number(cents)} {cent_word}"
    return f"{sign}{say_number(whole)} {unit}"


def say_digits(s: str) -> str:
    """Read a digit string one digit at a time: "1234" → "one two three four" (other
    characters, such as spaces or dashes, are skipped)."""
    return " ".join(_UNITS[int(c)] for c in s if c.isdigit())
