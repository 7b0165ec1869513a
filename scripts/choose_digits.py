"""Choosing how a digit prompt picks its answer, on the DEV set only (scripts/bench_digits.py
--set dev; never on held-out). `collect` records, per VAD utterance of every dev answer (first
try and the grouped repeat, each utterance expecting the digits still missing, as a call does):
Whisper's reading under each of the three digit prompts, what today's recogniser takes, a
digits-only beam search under each prompt (CTranslate2 `generate` with every token but " 0"…" 9",
"double", "triple" and end-of-text in `suppress_tokens`, 8 hypotheses), and the teacher-forced
log-probability of every candidate string under each prompt. `compare` replays selection
policies over those records offline, so a policy costs milliseconds instead of a decoding run.

    .venv/bin/python scripts/choose_digits.py collect      (~10 min here for the 88 dev answers)
    .venv/bin/python scripts/choose_digits.py compare [--misses POLICY]

Policies: `current` (what the recogniser takes today, whisper.WhisperRecognizer._digits);
`sum-of-prompts` (the right-length candidate with the highest log-probability summed over the
three prompts; `-m6`: only when within 6 nats of the best of any length, else current);
`override-N` (current, unless another right-length candidate beats it by N nats in that sum);
`constrained-P` (the first right-length string of the digits-only beam under prompt P);
`constrained-vote` (a string the digits-only beams of 2 of the 3 prompts put first, else
current); `…-reject` (no agreement → the answer is dropped and the flow asks again)."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

N_HYPOTHESES = 8
VOCABULARY = 51864  # Whisper tiny.en's output layer (text tokens, specials and timestamps)


def records_path(set_name: str) -> Path:
    from voicebot.cache import cache_dir

    return cache_dir("digits") / f"choose-{set_name}.json"


class Probe:
    """Whisper's digit readings of one utterance, the way the recogniser decodes them."""

    def __init__(self) -> None:
        from voicebot.asr import get_recognizer

        self.rec = get_recognizer("whisper")
        tok = self.rec._tokenizer
        self.digit_tokens = [tok.encode(f" {d}")[0] for d in range(10)]
        self.word_tokens = {tok.encode(" double")[0]: 2, tok.encode(" triple")[0]: 3}
        keep = set(self.digit_tokens) | set(self.word_tokens) | {tok.eot}
        self.suppress = [t for t in range(VOCABULARY) if t not in keep]

    def _features(self, encoded, copies: int = 1):
        import ctranslate2
        import numpy as np

        return ctranslate2.StorageView.from_array(np.ascontiguousarray(np.repeat(encoded, copies, 0)))

    def constrained(self, encoded, prompt: list[int], length: int) -> list[tuple[str, float]]:
        """Digits-only beam search: (digit string, length-normalised score) per hypothesis."""
        result = self.rec._model.generate(
            self._features(encoded), [prompt], beam_size=N_HYPOTHESES, num_hypotheses=N_HYPOTHESES,
            max_length=len(prompt) + length + 3, return_scores=True, suppress_blank=False,
            suppress_tokens=self.suppress, repetition_penalty=1.0)[0]
        out = []
        for ids, score in zip(result.sequences_ids, result.scores):
            digits, repeat = "", 1
            for t in ids:
                if t in self.word_tokens:
                    repeat = self.word_tokens[t]
                elif t in self.digit_tokens:
                    digits, repeat = digits + str(self.digit_tokens.index(t)) * repeat, 1
            out.append((digits, float(score)))
        return out

    def scores(self, encoded, prompt: list[int], strings: list[str]) -> dict[str, float]:
        """Teacher-forced log-probability of each digit string (" d" tokens, then end of text)."""
        import numpy as np

        from voicebot.asr.whisper_digits import _log_softmax

        out: dict[str, float] = {}
        for n in sorted({len(s) for s in strings}):
            group = [s for s in strings if len(s) == n]
            batch = [prompt + [self.digit_tokens[int(c)] for c in s] for s in group]
            results = self.rec._model.generate(self._features(encoded, len(batch)), batch, max_length=len(batch[0]) + 1,
                                               beam_size=1, return_logits_vocab=True, suppress_blank=False,
                                               suppress_tokens=[])
            for s, result in zip(group, results):
                steps = result.logits[0]
                logp = sum(_log_softmax(np.asarray(steps[j]))[self.digit_tokens[int(c)]] for j, c in enumerate(s))
                out[s] = float(logp + _log_softmax(np.asarray(steps[len(s)]))[self.rec._tokenizer.eot])
        return out

    def utterance(self, audio, length: int) -> dict | None:
        from voicebot.asr import Hints
        from voicebot.asr.domain import DIGIT_PROMPTS, apply_hints

        rec, hints = self.rec, Hints("digits", length=length)
        utt = rec._prepare(audio, hints)
        if utt.encoded is None:
            return None
        rec._first_readings([utt])
        reads = [utt.first[0]] + [rec._decode([utt], rec._settings(hints, a))[0][0] for a in range(1, len(DIGIT_PROMPTS))]
        prompts = [rec._prompt(hints, a) for a in range(len(DIGIT_PROMPTS))]
        chosen = apply_hints(rec._digits(utt)[0], hints)
        beams = [self.constrained(utt.encoded, p, length) for p in prompts]
        candidates = {apply_hints(r, hints) for r in reads} | {s for b in beams for s, _ in b}
        candidates = sorted(c for c in candidates if c.isdigit() and len(c) <= length + 2)
        return {"length": length, "reads": reads, "chosen": chosen, "beams": beams, "cands": candidates,
                "scores": [self.scores(utt.encoded, p, candidates) for p in prompts]}


def collect(set_name: str) -> Path:
    from bench_digits import items

    from voicebot.audio import Audio, read_wav
    from voicebot.vad import split_utterances

    probe, out = Probe(), []
    for row in items(set_name):
        length, record = len(row["digits"]), dict(row)
        for key in ("first", "repeat"):
            audio = Audio.silence(0.5) + read_wav(row[key]).canonical() + Audio.silence(1.0)
            utts, got = [], ""
            for u in split_utterances(audio):  # a group before a pause leaves the rest expected
                found = probe.utterance(u.audio, length - len(got) if 0 < len(got) < length else length)
                utts.append(found)
                got += found["chosen"] if found and found["chosen"].isdigit() else ""
            record[key + "_utts"] = utts
        out.append(record)
        print(f"{len(out)} answers", file=sys.stderr, flush=True)
    from voicebot.cache import replaced_atomically

    path = records_path(set_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replaced_atomically(path) as tmp:
        tmp.write_text(json.dumps(out))
    return path


# ---- policies: (utterance record, digits expected) → digits taken ("" = asked again) ----------
def current(u: dict, length: int) -> str:
    return u["chosen"]


def _summed(u: dict) -> dict[str, float]:
    return {s: sum(by_prompt[s] for by_prompt in u["scores"]) for s in u["cands"]}


def sum_of_prompts(margin: float | None = None):
    def policy(u: dict, length: int) -> str:
        total = _summed(u)
        right = [s for s in total if len(s) == length]
        if not right:
            return u["chosen"]
        best = max(right, key=total.get)
        return u["chosen"] if margin is not None and total[best] < max(total.values()) - margin else best
    return policy


def override(nats: float):
    def policy(u: dict, length: int) -> str:
        total, chosen = _summed(u), u["chosen"]
        right = [s for s in total if len(s) == length]
        if not right or (chosen not in total and len(chosen) == length):
            return chosen
        best = max(right, key=total.get)
        return best if chosen not in total or total[best] > total[chosen] + nats else chosen
    return policy


def _firsts(u: dict, length: int) -> list[str | None]:
    return [next((s for s, _ in beam if len(s) == length), None) for beam in u["beams"]]


def constrained(prompt: int):
    def policy(u: dict, length: int) -> str:
        return _firsts(u, length)[prompt] or u["chosen"]
    return policy


def constrained_vote(need: int = 2, reject: bool = False):
    def policy(u: dict, length: int) -> str:
        votes = Counter(s for s in _firsts(u, length) if s).most_common(1)
        if votes and votes[0][1] >= need:
            return votes[0][0]
        return "" if reject and len(u["chosen"]) == length else u["chosen"]
    return policy


POLICIES = {
    "current": current, "sum-of-prompts": sum_of_prompts(), "sum-of-prompts-m6": sum_of_prompts(6.0),
    "override-0": override(0.0), "override-2": override(2.0),
    "constrained-0": constrained(0), "constrained-1": constrained(1), "constrained-2": constrained(2),
    "constrained-vote": constrained_vote(), "constrained-vote-reject": constrained_vote(2, True),
    "constrained-unanimous-reject": constrained_vote(3, True),
}


def taken(utts: list[dict | None], policy) -> str:
    """What the prompt takes from one answer (utterance by utterance, as recorded)."""
    return "".join(d for u in utts if u for d in [policy(u, u["length"])] if d.isdigit())


def score(records: list[dict], policy) -> dict:
    """The three measures of scripts/bench_digits.py, replayed."""
    first = within = flow = 0
    misses = []
    for r in records:
        length = len(r["digits"])
        got = taken(r["first_utts"], policy)
        again = taken(r["repeat_utts"], policy) if got != r["digits"] else None
        first += got == r["digits"]
        within += got == r["digits"] or (len(got) != length and again == r["digits"])
        flow += got == r["digits"] or again == r["digits"]
        if got != r["digits"] and again != r["digits"]:
            misses.append({"voice": r["voice"], "digits": r["digits"], "first": got, "repeat": again})
    n = len(records)
    return {"n": n, "exact_first": round(first / n, 3), "exact_within_one_reprompt": round(within / n, 3),
            "right_within_one_reprompt_of_the_flow": round(flow / n, 3), "misses": misses}


def oracle(records: list[dict]) -> dict:
    """How often the right string is among an answer's candidates at all (one-utterance answers)."""
    single = [r for r in records if len(r["first_utts"]) == 1 and r["first_utts"][0]]
    return {"one_utterance_answers": len(single),
            "right_string_among_candidates": sum(r["digits"] in r["first_utts"][0]["cands"] for r in single),
            "right_string_first_by_sum_of_prompts": sum(
                sum_of_prompts()(r["first_utts"][0], len(r["digits"])) == r["digits"] for r in single)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("collect", "compare"))
    parser.add_argument("--set", default="dev", choices=("dev",))  # held-out is never chosen on
    parser.add_argument("--misses", metavar="POLICY", help="also list the answers POLICY gets wrong")
    args = parser.parse_args()
    if args.what == "collect":
        print(collect(args.set))
        return
    records = json.loads(records_path(args.set).read_text())
    result = {name: {k: v for k, v in score(records, p).items() if k != "misses"} for name, p in POLICIES.items()}
    result["oracle"] = oracle(records)
    if args.misses:
        result["misses"] = score(records, POLICIES[args.misses])["misses"]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
