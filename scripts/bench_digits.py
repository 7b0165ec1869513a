"""Digit strings over the phone: exact-match accuracy of 4- and 8-digit answers (PINs, customer
numbers) on 8 kHz μ-law telephone audio with line noise, in several voices, through the path a
call takes at an ID/PIN prompt (VAD cut → recogniser with the prompt's digit hints → the one
spoken-number parser). A first answer of the wrong length makes the flow ask again, and the
caller repeats the number more carefully, in groups ("one two three four, five six seven eight").
`exact_within_one_reprompt` counts a first answer of the right length but wrong digits as a
failure (the measure of earlier rounds); `right_within_one_reprompt_of_the_flow` counts what
today's flow does with it: a mismatch after the PIN asks again for the PIN and, when spoken, the
customer number, so the repeat counts there too (the baseline's flow asked the PIN alone).

    .venv/bin/python scripts/bench_digits.py [--set dev|heldout] [--baseline REV] [--option K=V] [--json]

--set dev is what choices were made on; heldout (other voices, other digit strings) is reported
and never tuned on. --baseline REV (default fc451d3, the digit path before issue 13) measures that
revision's code on the same audio in a subprocess, beside today's.

--kind rating: answers to the survey's 1-5 rating prompt (flows/bank.yml `survey`, expect: csat,
i.e. one digit) in the same voices and channel: ratings said as a word or a phrase, and answers
that hold none ("yes", "no": the flow must ask again, not record a 1). Per answer: the rating the
prompt takes and the recogniser's wall time (ms), today's beside the baseline's in the same run.

    .venv/bin/python scripts/bench_digits.py --kind rating --set dev --baseline main"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UNITS = "zero one two three four five six seven eight nine".split()
# Voice specs as in scripts/build_asr_transcripts.py ("/l" piper length scale, "/n" its sampling
# noise, "/d" flite duration stretch, "/s" espeak words per minute). No dev voice is a held-out
# one: the dev Piper renders differ in speed and sampling noise from the held-out plain Piper.
VOICES = {
    "dev": ("flite:slt", "flite:kal", "flite:kal16/d1.1", "espeak:en-us", "espeak:en-us+f3",
            "espeak:en-029/s140", "espeak:en-gb-scotland", "espeak:en+m7/s160",
            "espeak:en-us-nyc/s165", "piper/l0.9/n0.667", "piper/l1.2/n0.5"),
    "heldout": ("piper", "flite:awb", "flite:rms", "espeak:en-gb", "espeak:en+m3"),
}
SEEDS = {"dev": 13, "heldout": 4242}
PER_VOICE = {"dev": 8, "heldout": 6}  # 4- and 8-digit answers alternate
DEFAULT_BASELINE = "fc451d3"
# (what the caller says, the rating it gives; "" = none). The two sets share the five bare
# numbers and "yes" (the answer the latency benchmark's third caller gives) in other voices.
RATINGS = {
    "dev": (("one", "1"), ("two", "2"), ("three", "3"), ("four", "4"), ("five", "5"),
            ("four out of five", "4"), ("I'd say three", "3"), ("yes", ""), ("no", ""),
            ("I'm not sure", "")),
    "heldout": (("one", "1"), ("two", "2"), ("three", "3"), ("four", "4"), ("five", "5"),
                ("a two", "2"), ("five out of five", "5"), ("I would give it a one", "1"), ("yes", ""),
                ("um, okay", "")),
}


def digit_strings(seed: int, count: int) -> list[str]:
    """Strings a caller might have: repeats, runs, zeros; the same for every voice of a set."""
    rng = random.Random(seed)
    out = []
    for k in range(count):
        length = 4 if k % 2 == 0 else 8
        shape = k % 3
        if shape == 0:  # a repeated digit or pair ("1111", "4477")
            a, b = rng.choice("0123456789"), rng.choice("0123456789")
            s = (a * 2 + b * 2) * (length // 4) if rng.random() < 0.5 else a * length
        elif shape == 1:  # a run up or down ("87654321")
            start, step = rng.randrange(10), rng.choice((1, -1))
            s = "".join(str((start + step * i) % 10) for i in range(length))
        else:
            s = "".join(rng.choice("0123456789") for _ in range(length))
        out.append(s)
    return out


def spoken(digits: str, rng: random.Random) -> str:
    """How a caller says it: digit by digit, "oh" for zero now and then, "double"/"triple" for a
    digit said exactly twice/three times in a row, now and then."""
    words, i = [], 0
    while i < len(digits):
        d = digits[i]
        word = "oh" if d == "0" and rng.random() < 0.5 else UNITS[int(d)]
        run = len(digits[i:]) - len(digits[i:].lstrip(d))
        if run in (2, 3) and rng.random() < 0.5:
            words.append(("double " if run == 2 else "triple ") + word)
            i += run
            continue
        words.extend([word] * run if run >= 4 else [word])
        i += run if run >= 4 else 1
    return " ".join(words)


def grouped(digits: str, voice: str, channel) -> str:
    """A caller's second try, said more carefully (four digits at a time): each group said with
    a little pause between digits, a second's pause between groups."""
    import hashlib

    from voicebot.audio import write_wav
    from voicebot.cache import replaced_atomically
    from voicebot.speechgen import cache_dir, with_silence

    groups = [", ".join(UNITS[int(d)] for d in digits[i:i + 4]) for i in range(0, len(digits), 4)]
    paths = [render(g, voice) for g in groups]
    key = hashlib.sha1("|".join(map(str, paths)).encode()).hexdigest()[:16]
    target = cache_dir() / f"grouped-{key}.wav"
    if not target.exists():
        with replaced_atomically(target) as tmp:
            write_wav(tmp, with_silence(paths, gap_s=1.0, rate=channel.rate or 16000))
    return str(target)


def render(text: str, voice: str):
    """Telephone WAV (8 kHz μ-law, 15 dB noise unless the spec says) of `text` in voice `voice`."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from build_asr_transcripts import render as render_spec

    return render_spec(text, voice)


def items(set_name: str) -> list[dict]:
    from voicebot.speechgen import TELEPHONE

    rng = random.Random(SEEDS[set_name] + 1)
    rows = []
    for digits in digit_strings(SEEDS[set_name], PER_VOICE[set_name]):
        said = spoken(digits, rng)
        for voice in VOICES[set_name]:
            rows.append({"voice": voice, "digits": digits, "said": said,
                         "first": str(render(said, voice)),
                         "repeat": grouped(digits, voice, TELEPHONE)})
    return rows


def rating_items(set_name: str) -> list[dict]:
    return [{"voice": voice, "said": said, "rating": rating, "first": str(render(said, voice))}
            for said, rating in RATINGS[set_name] for voice in VOICES[set_name]]


def run_ratings(rows: list[dict], options: dict | None = None) -> list[dict]:
    """The rating the csat prompt takes from each answer (one digit 1-5, as the flow reads it),
    and how long the recogniser took (the utterance after the VAD, as a call hears it)."""
    import time

    from voicebot.asr import get_recognizer
    from voicebot.asr.numbers import words_to_digits
    from voicebot.audio import Audio

    recognizer = get_recognizer("whisper", **(options or {}))
    recognizer.transcribe(Audio.silence(1.0))  # the first decode allocates: not an answer's time
    out = []
    for row in rows:
        started = time.perf_counter()
        text = heard_text(recognizer, row["first"], 1)
        ms = (time.perf_counter() - started) * 1000
        digits = words_to_digits(text)
        got = digits if len(digits) == 1 and "1" <= digits <= "5" else ""
        out.append({**row, "heard": text, "got": got, "right": got == row["rating"], "ms": round(ms, 1)})
    return out


def rating_summary(results: list[dict]) -> dict:
    import numpy as np

    def rate(rows):
        return round(sum(r["right"] for r in rows) / len(rows), 3) if rows else None

    ms = [r["ms"] for r in results]
    return {"n": len(results), "right": rate(results),
            "ratings_right": rate([r for r in results if r["rating"]]),
            "non_answers_not_rated": rate([r for r in results if not r["rating"]]),
            "ms_p50": round(float(np.percentile(ms, 50)), 1), "ms_p95": round(float(np.percentile(ms, 95)), 1),
            "ms_mean": round(float(np.mean(ms)), 1), "ms_max": round(max(ms), 1),
            "misses": [{k: r[k] for k in ("voice", "said", "rating", "heard", "got")}
                       for r in results if not r["right"]]}


def heard_text(recognizer, path: str, length: int) -> str:
    from voicebot.asr import Hints
    from voicebot.audio import Audio, read_wav
    from voicebot.cli.transcribe import as_prompt_would

    audio = Audio.silence(0.5) + read_wav(path).canonical() + Audio.silence(1.0)
    return as_prompt_would(recognizer, audio, Hints("digits", length=length))


def heard(recognizer, path: str, length: int) -> str:
    """The digits a call's ID/PIN prompt takes from one answer: `voicebot transcribe --expect
    digits:N` (VAD, the prompt's hints and retries, groups across a pause joined as the flow
    does). A revision without that path (the baseline) took the first utterance alone."""
    from voicebot.asr import Hints
    from voicebot.asr.numbers import words_to_digits
    from voicebot.audio import Audio, read_wav

    audio = Audio.silence(0.5) + read_wav(path).canonical() + Audio.silence(1.0)
    try:
        from voicebot.cli.transcribe import as_prompt_would
    except ImportError:  # the baseline revision: one utterance is one answer
        from voicebot.vad import split_utterances

        first = split_utterances(audio)[:1]
        return "".join(words_to_digits(recognizer.transcribe(u.audio, Hints("digits", length=length)).text)
                       for u in first)
    return words_to_digits(as_prompt_would(recognizer, audio, Hints("digits", length=length)))


def run(rows: list[dict], options: dict | None = None) -> list[dict]:
    from voicebot.asr import get_recognizer

    recognizer = get_recognizer("whisper", **(options or {}))
    out = []
    for row in rows:
        length = len(row["digits"])
        first = heard(recognizer, row["first"], length)
        # every wrong answer is asked again by today's flow: a wrong length at once, a mismatch
        # after the PIN (the PIN, and a spoken customer number too: voicebot/flow/auth.py)
        second = heard(recognizer, row["repeat"], length) if first != row["digits"] else None
        out.append({**row, "heard_first": first, "heard_repeat": second,
                    "exact_first": first == row["digits"],
                    "exact_within_one_reprompt": first == row["digits"]
                    or (len(first) != length and second == row["digits"]),
                    "right_within_one_reprompt_of_the_flow": first == row["digits"] or second == row["digits"]})
    return out


def summary(results: list[dict]) -> dict:
    def rate(rows, key):
        return round(sum(r[key] for r in rows) / len(rows), 3) if rows else None

    by_voice = {}
    for voice in dict.fromkeys(r["voice"] for r in results):
        rows = [r for r in results if r["voice"] == voice]
        by_voice[voice] = {"n": len(rows), "exact_first": rate(rows, "exact_first"),
                           "exact_within_one_reprompt": rate(rows, "exact_within_one_reprompt"),
                           "right_within_one_reprompt_of_the_flow": rate(rows, "right_within_one_reprompt_of_the_flow")}
    by_length = {str(n): {"n": len(rows), "exact_within_one_reprompt": rate(rows, "exact_within_one_reprompt"),
                          "right_within_one_reprompt_of_the_flow": rate(rows, "right_within_one_reprompt_of_the_flow")}
                 for n in (4, 8) for rows in [[r for r in results if len(r["digits"]) == n]]}
    return {"n": len(results), "exact_first": rate(results, "exact_first"),
            "exact_within_one_reprompt": rate(results, "exact_within_one_reprompt"),
            "right_within_one_reprompt_of_the_flow": rate(results, "right_within_one_reprompt_of_the_flow"),
            "by_voice": by_voice, "by_length": by_length,
            "misses": [{k: r[k] for k in ("voice", "digits", "said", "heard_first", "heard_repeat")}
                       for r in results if not r["right_within_one_reprompt_of_the_flow"]]}


def baseline(rev: str, rows: list[dict], kind: str = "strings") -> dict:
    """The same audio through `rev`'s voicebot package (git archive into a temp dir)."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "voicebot"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        rows_file = Path(tmp) / "rows.json"
        rows_file.write_text(json.dumps(rows))
        env = {**os.environ, "PYTHONPATH": tmp}
        done = subprocess.run([sys.executable, __file__, "--rows", str(rows_file), "--kind", kind], env=env,
                              capture_output=True, text=True, cwd=tmp, check=True)
        return (rating_summary if kind == "rating" else summary)(json.loads(done.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=tuple(VOICES), default="heldout")
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="git revision ('' to skip)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="recogniser option for today's path, e.g. denoise=false")
    parser.add_argument("--kind", choices=("strings", "rating"), default="strings",
                        help="4/8-digit strings (IDs, PINs) or answers to the 1-5 rating prompt")
    parser.add_argument("--rows", help=argparse.SUPPRESS)  # internal: run rows, print results
    args = parser.parse_args()
    if not args.rows:  # this tree's voicebot, not an installed one (the baseline sets PYTHONPATH)
        sys.path.insert(0, str(ROOT))
    if args.rows:
        print(json.dumps((run_ratings if args.kind == "rating" else run)(json.loads(Path(args.rows).read_text()))))
        return
    if args.kind == "rating":
        return main_ratings(args)
    rows = items(args.set)
    result = {"set": args.set, "voices": list(VOICES[args.set]), "channel": "8 kHz mu-law, 15 dB noise",
              "today": summary(run(rows, dict(o.split("=", 1) for o in args.option)))}
    if args.baseline:
        result["baseline"] = {"rev": args.baseline, **baseline(args.baseline, rows)}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Digit strings, {args.set} set ({len(rows)} answers, {result['channel']})")
    for col in ("path", "voice", "n", "exact first try", "exact ≤ 1 re-prompt (wrong length)",
                "right ≤ 1 re-prompt (any wrong answer, as the flow asks)"):
        table.add_column(col)
    for path in ("today", "baseline"):
        if path not in result:
            continue
        res = result[path]
        name = path if path == "today" else f"baseline {args.baseline}"
        for voice, v in res["by_voice"].items():
            table.add_row(name, voice, str(v["n"]), f"{v['exact_first']:.0%}", f"{v['exact_within_one_reprompt']:.0%}",
                          f"{v['right_within_one_reprompt_of_the_flow']:.0%}")
        table.add_row(name, "all", str(res["n"]), f"{res['exact_first']:.0%}",
                      f"{res['exact_within_one_reprompt']:.0%}", f"{res['right_within_one_reprompt_of_the_flow']:.0%}",
                      style="bold")
    Console().print(table)
    for miss in result["today"]["misses"]:
        print("miss:", miss)


def main_ratings(args) -> None:
    if args.baseline == DEFAULT_BASELINE:  # older than the path a call's prompt takes (as_prompt_would)
        args.baseline = "main"
    rows = rating_items(args.set)
    load = round(os.getloadavg()[0], 2)
    result = {"set": args.set, "kind": "rating", "voices": list(VOICES[args.set]),
              "today": rating_summary(run_ratings(rows, dict(o.split("=", 1) for o in args.option)))}
    if args.baseline:
        result["baseline"] = {"rev": args.baseline, **baseline(args.baseline, rows, "rating")}
    result["load_average_1min"] = [load, round(os.getloadavg()[0], 2)]
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for path in ("today", "baseline"):
        if path in result:
            r = result[path]
            print(f"{path:8s} {r.get('rev', '')}: right {r['right']} (ratings {r['ratings_right']}, non-answers "
                  f"not rated {r['non_answers_not_rated']}) of {r['n']}; recogniser ms p50 {r['ms_p50']} "
                  f"p95 {r['ms_p95']} mean {r['ms_mean']} max {r['ms_max']}")
    print(f"load average {result['load_average_1min']} (start, end)")
    for miss in result["today"]["misses"]:
        print("miss:", miss)


if __name__ == "__main__":
    main()
