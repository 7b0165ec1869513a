"""Whether a second Whisper decode without the banking prompt helps the first intent prompt, on
DEV data only: every other phrase of intents/test/heldout.jsonl (the dev set) in dev voices over
the noisy 8 kHz line; never a held-out phrase or voice. Each recording's first utterance is
decoded with the domain prompt (today's live path, n-best 5) and with no prompt, then the NLU
scores: A alone, B alone, B's readings added to A's runner-ups, the more confident of A and B.

    .venv/bin/python scripts/choose_intent_decoding.py [--limit N]      (~5 s per recording here)"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

DEV_VOICES = ("piper", "flite:slt", "espeak:en-gb", "espeak:en-us+f3", "espeak:en-gb-x-gbcwmd")


def readings(limit: int) -> list[dict]:
    from build_asr_transcripts import render

    from voicebot.asr import Hints, get_recognizer
    from voicebot.asr.denoise import suppress_noise
    from voicebot.audio import Audio, read_wav
    from voicebot.vad import split_utterances

    rows = [json.loads(line) for line in (ROOT / "intents/test/heldout.jsonl").read_text().splitlines() if line.strip()]
    rec = get_recognizer("whisper")
    out = []
    for row in rows[::2][:limit]:
        for voice in DEV_VOICES:
            audio = Audio.silence(0.5) + read_wav(render(row["text"], voice)).canonical() + Audio.silence(1.0)
            got = {"intent": row["intent"], "voice": voice, "A": None, "B": None}
            for u in split_utterances(audio)[:1]:
                samples = suppress_noise(u.audio.canonical().to_float(), 16000)
                for key, bias in (("A", True), ("B", False)):
                    rec.bias = bias
                    text, _, others = rec._decode(samples, Hints(), 0, n_best=5)
                    got[key] = (text, list(others))
                rec.bias = True
            out.append(got)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=36, help="phrases (each in every dev voice)")
    args = parser.parse_args()
    from voicebot.nlu import load_model

    nlu = load_model()
    rows = readings(args.limit)

    def both(r):
        a, b = nlu.understand(*r["A"]), nlu.understand(*r["B"])
        return a if a.confidence >= b.confidence else b

    ways = {
        "A: domain prompt (today)": lambda r: nlu.understand(*r["A"]),
        "B: no prompt": lambda r: nlu.understand(*r["B"]),
        "A, B's readings as runner-ups": lambda r: nlu.understand(r["A"][0], r["A"][1] + [r["B"][0], *r["B"][1]]),
        "the more confident of A and B": both,
    }
    for name, way in ways.items():
        per = defaultdict(list)
        for r in rows:
            per[r["voice"]].append(bool(r["A"]) and way(r).intent == r["intent"])
        hits = [x for v in per.values() for x in v]
        print(f"{name}: {sum(hits) / len(hits):.3f}", {v: round(sum(x) / len(x), 3) for v, x in per.items()})


if __name__ == "__main__":
    main()
