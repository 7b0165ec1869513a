"""Numbers as a person says them: 1520 → "one thousand five hundred twenty" (num2words), 1520.75
→ "... dollars and seventy-five cents", "1234" → "one two three four". Pure functions with no
imports from the rest of voicebot, so both the recogniser side (asr.numbers) and the flow's
prompts use them."""

from __future__ import annotations

from decimal import Decimal

_UNITS = "zero one two three four five six seven eight nine".split()


def say_number(n: int) -> str:
    """1520 → "one thousand five hundred twenty" (num2words, read the American way: no "and"
    inside a number, so an amount keeps one "and" before its cents; no written commas, which
    would make the synthesiser pause mid-number)."""
    from num2words import num2words

    return num2words(int(n), lang="en").replace(",", "").replace(" and ", " ")


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
