"""Choosing how a digit prompt picks its answer, on the DEV set only (scripts/bench_digits.py
--set dev; never on held-out). `collect` records, per VAD utterance of every dev answer (first
try and the grouped repeat), Whisper's reading under each digit prompt and the digit-only beam
search's finished strings; `compare` replays selection policies over those records offline, so
a policy costs milliseconds instead of a new decoding run.

    .venv/bin/python scripts/choose_digits.py collect [--set dev]   (~10 s per answer here)
    .venv/bin/python scripts/choose_digits.py compare [--set dev]

Policies: `current` (the recogniser's: the first reading of the right length, else the search's
best string of that length within DIGIT_MARGIN nats); `vote-N` (a string needs N of the 3
readings + the search to agree, else the answer is rejected and the flow asks again, in
groups); `search-first` (the search's string before any reading); `oracle` counts how often the
right string was among the readings or the search's strings at all."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from voicebot.numparse import words_to_digits  # noqa: E402


def records_path(set_name: str) -> Path:
    from voicebot.cache import cache_dir

    return cache_dir("digits") / f"choose-{set_name}.json"


def collect(set_name: str) -> Path:
    import ctranslate2
    import numpy as np
    from bench_digits import items

    from voicebot.asr import Hints, get_recognizer
    from voicebot.asr.denoise import suppress_noise
    from voicebot.asr.domain import DIGIT_PROMPTS
    from voicebot.asr.whisper_digits import digit_search
    from voicebot.audio import Audio, read_wav
    from voicebot.vad import split_utterances

    rec = get_recognizer("whisper")

    def utterance(u, length: int) -> dict:
        samples = suppress_noise(u.audio.canonical().to_float(), 16000)
        hints = Hints("digits", length=length)
        reads = [rec._decode(samples, hints, a)[0] for a in range(len(DIGIT_PROMPTS))]
        window = ctranslate2.StorageView.from_array(np.ascontiguousarray(rec._window(samples)[None]))
        encoded = np.asarray(rec._model.encode(window))
        found = digit_search(rec._model, rec._tokenizer, encoded, rec._prompt(hints, 0), length + 2)
        return {"reads": reads, "search": found[:20]}

    out = []
    for row in items(set_name):
        length = len(row["digits"])
        record = dict(row)
        for key, hint in (("first", length), ("repeat", 4)):  # the repeat comes in groups of four
            audio = Audio.silence(0.5) + read_wav(row[key]).canonical() + Audio.silence(1.0)
            record[key + "_utts"] = [utterance(u, hint) for u in split_utterances(audio)]
        out.append(record)
        print(f"{len(out)} answers", file=sys.stderr, flush=True)
    path = records_path(set_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_text(json.dumps(out))
    tmp.replace(path)
    return path


def _pick(found, length: int, margin: float) -> str | None:
    right = [s for s, lp in found if len(s) == length and lp >= found[0][1] - margin] if found else []
    return right[0] if right else None


def current(u: dict, length: int, margin: float = 3.0) -> str:
    for text in u["reads"]:
        if len(words_to_digits(text)) == length:
            return words_to_digits(text)
    return _pick(u["search"], length, margin) or words_to_digits(u["reads"][0])


def vote(n: int):
    def policy(u: dict, length: int) -> str:
        votes = Counter(d for d in map(words_to_digits, u["reads"]) if len(d) == length)
        found = _pick(u["search"], length, 3.0)
        votes.update([found] if found else [])
        best = votes.most_common(1)
        return best[0][0] if best and best[0][1] >= n else ""
    return policy


def search_first(u: dict, length: int) -> str:
    return _pick(u["search"], length, 3.0) or current(u, length)


def taken(utts: list[dict], length: int, policy) -> str:
    """What the prompt takes: a group before a pause leaves the next utterance the rest."""
    digits = ""
    for u in utts:
        want = length - len(digits) if 0 < len(digits) < length else length
        digits += words_to_digits(policy(u, want))
    return digits


def score(records: list[dict], policy) -> dict:
    first = within = wrong_digits = 0
    for r in records:
        length = len(r["digits"])
        got = taken(r["first_utts"], length, policy)
        again = taken(r["repeat_utts"], length, policy) if len(got) != length else None
        first += got == r["digits"]
        within += got == r["digits"] or again == r["digits"]
        wrong_digits += len(got) == length and got != r["digits"]
    n = len(records)
    return {"n": n, "exact_first": round(first / n, 3), "exact_within_one_reprompt": round(within / n, 3),
            "right_length_wrong_digits_first": wrong_digits}


def oracle(records: list[dict]) -> dict:
    single = [r for r in records if len(r["first_utts"]) == 1]
    in_reads = sum(r["digits"] in map(words_to_digits, r["first_utts"][0]["reads"]) for r in single)
    in_search = sum(r["digits"] in [s for s, _ in r["first_utts"][0]["search"]] for r in single)
    return {"single_utterance_answers": len(single), "right_string_among_readings": in_reads,
            "right_string_among_search": in_search}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("collect", "compare"))
    parser.add_argument("--set", default="dev", choices=("dev",))  # held-out is never chosen on
    args = parser.parse_args()
    if args.what == "collect":
        print(collect(args.set))
        return
    records = json.loads(records_path(args.set).read_text())
    policies = {"current": current, "vote-2": vote(2), "vote-3": vote(3), "search-first": search_first}
    result = {name: score(records, p) for name, p in policies.items()}
    result["oracle"] = oracle(records)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
