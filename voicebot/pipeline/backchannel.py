"""Is what the caller said over a prompt a turn, or only a backchannel ("mm-hm", "okay") that
shows they are following? The one rule for it: the Session resumes a prompt paused for a
backchannel (pipeline/turns.py); the barge-in detectors only decide that someone is talking
(vad/bargein.py, pipeline/interrupt.py)."""

from __future__ import annotations

import functools
import re

# Sounds and words a listener makes to show they are following, not to take the turn. Matched on
# the whole recognised text (lower-cased, punctuation dropped), so "okay I lost my card" is a turn.
BACKCHANNELS = frozenset({
    "uh huh", "uhhuh", "okay", "ok", "yeah", "yep", "right", "alright", "all right", "sure", "i see",
    "got it",
})
_HUM = re.compile(r"m+|m+h*m+|h+m+|u+h+|u+m+|a+h+|o+h+")  # mm, mhm, mmhmm, hmm, uhh, umm, ahh, oh


@functools.cache
def yesno_answers() -> frozenset[str]:
    """At a yes/no prompt the words the NLU reads as yes or no ("okay", "yeah", "uh huh", "that's
    right") are the answer, never a backchannel. (Imported on first use: the NLU package loads
    its runtime, which `voicebot call` must not do before it has found a microphone.)"""
    from voicebot.nlu.entities import NO, YES

    return frozenset(w for phrase in YES + NO for w in phrase.split())


def is_backchannel(text: str, answers: frozenset[str] | set[str] = frozenset()) -> bool:
    """True when `text` only acknowledges a prompt ("mm-hm", "okay okay", "uh huh right").
    Empty text (nothing recognised) counts too. `answers` are words that ARE an answer at this
    prompt, so they never count."""
    words = re.sub(r"[^a-z' ]+", " ", text.lower().replace("-", " ")).split()
    if any(w in answers for w in words):
        return False
    i = 0  # the whole text must be a sequence of backchannel tokens ("mm hmm" is two)
    while i < len(words):
        for n in (2, 1):
            said = " ".join(words[i : i + n])
            if said in BACKCHANNELS or n == 1 and _HUM.fullmatch(said):
                i += n
                break
        else:
            return False
    return True


def not_a_turn(text: str, kind: str) -> bool:
    """What paused a prompt of this kind (Expect.kind) was not the caller's turn: the prompt resumes."""
    return is_backchannel(text, yesno_answers() if kind == "yesno" else frozenset())
