"""Digit strings of a known length from Whisper, when its free decoding drops or repeats a digit.

Whisper tiny.en hears "one one one one" as "1 1 1" and "eight seven six…" as "And 7 6…": a beam
over the whole vocabulary counts repeated words badly. This is a beam search over digit strings
only (" 0"…" 9", plus "double"/"triple" a caller may say), scored by the same model token by
token on the same audio (CTranslate2 `generate` with a forced prefix returns the next token's
logits), with the end of the transcript scored too. It returns every finished string with its
log-probability; the recogniser takes the best one of the prompt's length when that is nearly as
likely as the best of any length (else the flow asks again). See docs/asr.md, scripts/bench_digits.py."""

from __future__ import annotations

import numpy as np

BEAM = 6
WORDS = {"double": 2, "triple": 3}


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    x -= x.max()
    return x - np.log(np.exp(x).sum())


def digit_search(model, tokenizer, encoded: np.ndarray, prompt: list[int], max_digits: int,
                 beam: int = BEAM) -> list[tuple[str, float]]:
    """(digit string, log-probability including the end of text) for every string the beam
    finished, best first. `encoded` is the encoder output for one utterance ([1, frames, dim])."""
    import ctranslate2

    digit_tokens = [tokenizer.encode(f" {d}")[0] for d in range(10)]
    word_tokens = {tokenizer.encode(f" {w}")[0]: n for w, n in WORDS.items()
                   if len(tokenizer.encode(f" {w}")) == 1}
    eot = tokenizer.eot
    # a beam entry: (tokens so far, digits they spell, pending repeat count, log-probability)
    beams: list[tuple[tuple[int, ...], str, int, float]] = [((), "", 1, 0.0)]
    finished: dict[str, float] = {}
    for _ in range(max_digits + 2):
        if not beams:
            break
        batch = [prompt + list(tokens) for tokens, *_ in beams]
        features = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.repeat(encoded, len(batch), 0)))
        results = model.generate(features, batch, max_length=len(batch[0]) + 4, beam_size=1,
                                 return_logits_vocab=True, suppress_blank=False, suppress_tokens=[])
        grown = []
        for (tokens, digits, repeat, logp), result in zip(beams, results):
            steps = result.logits[0]
            if len(steps) <= len(tokens):
                continue
            scores = _log_softmax(np.asarray(steps[len(tokens)]))
            if digits and repeat == 1:
                total = logp + scores[eot]
                finished[digits] = max(finished.get(digits, -np.inf), total)
            for d, tok in enumerate(digit_tokens):
                if len(digits) + repeat <= max_digits:
                    grown.append((tokens + (tok,), digits + str(d) * repeat, 1, logp + scores[tok]))
            if repeat == 1:
                for tok, times in word_tokens.items():
                    grown.append((tokens + (tok,), digits, times, logp + scores[tok]))
        beams = sorted(grown, key=lambda b: -b[3])[:beam]
    return sorted(finished.items(), key=lambda kv: -kv[1])


def one_digit_scores(model, tokenizer, encoded: np.ndarray, prompt: list[int]) -> list[tuple[str, float]]:
    """(digit, log-probability of " d" then the end of text) for the ten digits, best first: the
    one-digit strings `digit_search` finishes, with the same scores, in one batched forced pass
    (the prompt plus each digit; the logits at the digit and after it) instead of a beam's
    several `generate` calls (~0.5-0.9 s for a one-digit answer on 2 cores)."""
    import ctranslate2

    digit_tokens = [tokenizer.encode(f" {d}")[0] for d in range(10)]
    batch = [prompt + [tok] for tok in digit_tokens]
    features = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.repeat(encoded, len(batch), 0)))
    results = model.generate(features, batch, max_length=len(batch[0]) + 1, beam_size=1,
                             return_logits_vocab=True, suppress_blank=False, suppress_tokens=[])
    scores = []
    for d, (tok, result) in enumerate(zip(digit_tokens, results)):
        steps = result.logits[0]
        if len(steps) < 2:
            continue
        scores.append((str(d), float(_log_softmax(np.asarray(steps[0]))[tok]
                                     + _log_softmax(np.asarray(steps[1]))[tokenizer.eot])))
    return sorted(scores, key=lambda kv: -kv[1])


def looks_looped(digits: str) -> bool:
    """A string that is its first half twice ("2345" + "2345"): told to expect eight digits, a
    decoder without repetition penalty, or the digit search, stretches a group of four said
    before a pause to exactly eight (dev set of scripts/bench_digits.py: "2 3 4 5, 6 7 8 9" heard
    as 2345 2345 + 6789). One repeated digit ("77777777") is not a loop: callers say that."""
    half = len(digits) // 2
    return len(digits) % 2 == 0 and len(set(digits)) > 1 and digits == digits[:half] * 2


def pick(finished: list[tuple[str, float]], length: int, margin: float) -> str | None:
    """The best string of `length` digits if it is within `margin` (nats) of the best of any
    length; None when the audio plainly holds another count (a fragment, a wrong number)."""
    if not finished:
        return None
    best = finished[0][1]
    right = [(s, lp) for s, lp in finished if len(s) == length]
    return right[0][0] if right and right[0][1] >= best - margin else None
