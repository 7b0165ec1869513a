"""How Whisper is prompted at the first intent prompt, on DEV data only: phrases of
intents/test/heldout.jsonl (the dev set) in dev voices over the noisy 8 kHz line; never a held-out
phrase or voice. Each recording is cut by the VAD as in a call and every utterance recognised as
an open answer (n-best 5, the live path's settings) under each Whisper prompt; the NLU then scores
the joined text with the runner-up readings voting, as a call does.

Prompts compared: `domain` (today's caller-style banking sentence, voicebot.asr.domain.DOMAIN_PROMPT),
`flow` (a caller-style sentence made of the flow's own request phrases, flows/bank.yml
`intent_phrases`: "Hi, I'd like to check your balance, …"), `none` (no prompt).

    .venv/bin/python scripts/choose_intent_decoding.py [--every 4] [--voices espeak:en-gb,espeak:en-us+f3]
                                                        [--prompts domain,flow,none]   (~1 s per recording and prompt)"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

DEV_VOICES = ("piper", "flite:slt", "espeak:en-gb", "espeak:en-us+f3")


def flow_prompt(flow_file: Path = ROOT / "flows/bank.yml") -> str:
    """A caller's sentence made of the flow's request phrases (its clarifying-question wording)."""
    from voicebot.flow import load_flow

    phrases = list(load_flow(flow_file).spec.intent_phrases.values())
    said = ", ".join(p.replace("your ", "my ") for p in phrases[:-1]) + f", and {phrases[-1]}"
    return f"Hi, I'd like to {said}. Can I talk to an agent?"


def prompts() -> dict[str, str | None]:
    from voicebot.asr.domain import DOMAIN_PROMPT

    return {"domain": DOMAIN_PROMPT, "flow": flow_prompt(), "none": None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=4, help="every Nth dev phrase")
    parser.add_argument("--voices", default="espeak:en-gb,espeak:en-us+f3", help=f"dev voices, of {DEV_VOICES}")
    parser.add_argument("--prompts", default="domain,flow,none")
    args = parser.parse_args()
    voices = args.voices.split(",")
    assert set(voices) <= set(DEV_VOICES), "dev voices only"
    from build_asr_transcripts import render

    import voicebot.asr.domain as domain
    from voicebot.asr import Hints, get_recognizer
    from voicebot.audio import Audio, read_wav
    from voicebot.nlu import load_model
    from voicebot.vad import split_utterances

    texts = prompts()
    names = args.prompts.split(",")
    rows = [json.loads(line) for line in (ROOT / "intents/test/heldout.jsonl").read_text().splitlines() if line.strip()]
    rec, nlu = get_recognizer("whisper"), load_model()
    hits: dict[str, dict[str, list[bool]]] = {n: defaultdict(list) for n in names}
    for row in rows[::args.every]:
        for voice in voices:
            audio = Audio.silence(0.5) + read_wav(render(row["text"], voice)).canonical() + Audio.silence(1.0)
            utts = [u.audio for u in split_utterances(audio)]
            for name in names:
                rec.bias = texts[name] is not None
                domain.DOMAIN_PROMPT = texts[name] or domain.DOMAIN_PROMPT
                heard = [rec.transcribe(a, Hints()) for a in utts]
                text = " ".join(t.text for t in heard if t.text)
                others = heard[0].alternatives if len(heard) == 1 else ()
                hits[name][voice].append(nlu.understand(text, others).intent == row["intent"])
            domain.DOMAIN_PROMPT, rec.bias = texts["domain"], True
    out = {}
    for name in names:
        every = [x for v in hits[name].values() for x in v]
        out[name] = {"n": len(every), "accuracy": round(sum(every) / len(every), 3),
                     "by_voice": {v: round(sum(x) / len(x), 3) for v, x in hits[name].items()}}
    print(json.dumps({"prompts": {n: texts[n] for n in names}, "results": out}, indent=2))


if __name__ == "__main__":
    main()
