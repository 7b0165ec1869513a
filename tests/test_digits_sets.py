"""The digit benchmark's dev and held-out sets stay apart: no voice and no digit string of the
held-out set is in the dev set that choices are made on (scripts/bench_digits.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import bench_digits  # noqa: E402


def test_dev_and_heldout_voices_and_strings_are_disjoint():
    dev, held = bench_digits.VOICES["dev"], bench_digits.VOICES["heldout"]
    assert not set(dev) & set(held)
    dev_strings = set(bench_digits.digit_strings(bench_digits.SEEDS["dev"], bench_digits.PER_VOICE["dev"]))
    held_strings = set(bench_digits.digit_strings(bench_digits.SEEDS["heldout"], bench_digits.PER_VOICE["heldout"]))
    assert not dev_strings & held_strings
    assert len(dev) * len(dev_strings) > len(held) * len(held_strings)  # the dev set is the bigger one


def test_spoken_forms_cover_the_telephone_idioms():
    import random

    said = [bench_digits.spoken(s, random.Random(k)) for k in range(20) for s in ("4477", "1000", "12345678")]
    assert any("double" in s for s in said) and any(" oh" in s or s.startswith("oh") for s in said)
    from voicebot.numparse import words_to_digits

    assert all(words_to_digits(s) in ("4477", "1000", "12345678") for s in said)
