"""Sound keys: a caller turn spelled the way it sounds, for n-gram features that survive ASR errors.

Whisper on a noisy phone line writes what it heard with the wrong spelling or word boundaries:
"transactions" → "rent actions", "balance" → "ballots", "PIN" → "pen". Spelling differs, sound
does not, so each word becomes a Metaphone-like key (consonant skeleton, voiced/voiceless pairs
merged: b/p, d/t, g/k, v/f, z/s; vowels dropped, so word boundaries leave no trace) and the keys are joined *without* spaces, so
n-grams of the key match across split or merged words ("rent actions" → "RNTKXNS" ≈
"transactions" → "TRNSKXNS"). Own implementation (a few rules, no dependency); digits are spoken
first so "10" and "ten" agree."""

from __future__ import annotations

import re

from voicebot.numwords import say_number

# Ordered rewrites on a lower-case word; upper-case letters are finished sounds
# (X = "sh"/"ch", 0 = "th", J = soft g/j), lower-case ones are still to be mapped.
_RULES: tuple[tuple[str, str], ...] = (
    (r"^(kn|gn|pn|wr|ps)", lambda m: m.group(1)[1]),  # silent first letter: knee, wrong
    (r"^x", "s"),
    (r"^wh", "w"),
    (r"mb$", "m"),
    (r"ck", "k"),
    (r"ph", "f"),
    (r"sch", "sk"),
    (r"t?ch", "X"),
    (r"sh", "X"),
    (r"[st]i(?=[ao])", "X"),  # nation, mission
    (r"th", "0"),
    (r"dg(?=[eiy])", "J"),
    (r"gh(?![aeiou])", ""),  # night, through
    (r"g(?=[eiy])", "J"),
    (r"c(?=[eiy])", "S"),
    (r"[cqkg]", "K"),
    (r"x", "KS"),
    (r"[sz]", "S"),
    (r"[bp]", "P"),
    (r"[dt]", "T"),
    (r"[fv]", "F"),
    (r"j", "J"),
    (r"[wyh](?![aeiou])", ""),  # w, y, h only sound before a vowel
    (r"[aeiouwyh]", ""),
)
_COMPILED = tuple((re.compile(p), r) for p, r in _RULES)
_WORD = re.compile(r"[a-z']+|\d+")


def word_key(word: str) -> str:
    """"transactions" → "TRNSKXNS" (Metaphone-like, voicing merged)."""
    w = word.lower().replace("'", "")
    for pattern, repl in _COMPILED:
        w = pattern.sub(repl, w)
    w = w.upper()
    return re.sub(r"(.)\1+", r"\1", w)  # doubled letters are one sound


def sound_key(text: str) -> str:
    """The whole turn as one unspaced key ("my last ten transactions" → "MLSTTNTRNSKXNS")."""
    words = []
    for tok in _WORD.findall(text.lower()):
        if tok.isdigit():
            tok = say_number(int(tok)) if len(tok) <= 6 else " ".join(say_number(int(d)) for d in tok)
        words += tok.replace("-", " ").split()
    return re.sub(r"(.)\1+", r"\1", "".join(word_key(w) for w in words))
