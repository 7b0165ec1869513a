"""Voice intent phrases with TTS, pass them through the noisy telephone channel and Whisper, and
save what the recogniser heard. Run once; the outputs are committed so training needs no ASR.

  train: intents/*.yml examples, once per pass in TRAIN_PASSES → intents/asr_augment.jsonl
  test:  intents/test/heldout.jsonl, several voices         → intents/test/heldout_asr.jsonl

The test utterances are never in training; the voices overlap (a caller's voice is not known in
advance either). Usage: python scripts/build_asr_transcripts.py [train|test|both] [first_pass]"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from voicebot import speechgen  # noqa: E402
from voicebot.asr.base import get_recognizer  # noqa: E402
from voicebot.audio.wavio import read_wav  # noqa: E402
from voicebot.nlu.dataset import load_intents_dir  # noqa: E402

# each pass voices every training example once, rotating through its voices
TRAIN_PASSES = (("flite:rms", "espeak:en-us", "flite:awb", "espeak:en+m3"), ("piper",), ("flite:kal", "flite:slt"))
TEST_VOICES = ("piper", "flite:slt", "espeak:en-gb")


def transcribe(text: str, voice: str) -> str:
    wav = speechgen.speak(text, voice, speechgen.TELEPHONE)
    return get_recognizer("whisper").transcribe(read_wav(wav)).text.strip()


def build(rows: list[dict], voices_for, out: Path, append: bool = False) -> None:
    tmp = out.with_suffix(".part")
    start = time.time()
    with tmp.open("w") as fh:
        if append and out.exists():
            fh.write(out.read_text())
        for i, row in enumerate(rows):
            for voice in voices_for(i):
                heard = transcribe(row["text"], voice)
                if heard:
                    fh.write(json.dumps({**row, "text": heard, "source": row["text"], "voice": voice}) + "\n")
            if i % 50 == 0:
                print(f"{out.name}: {i}/{len(rows)} {time.time() - start:.0f}s", flush=True)
    tmp.replace(out)


def main(which: str, first_pass: int = 0) -> None:
    if which in ("test", "both"):
        rows = [json.loads(line) for line in (ROOT / "intents/test/heldout.jsonl").read_text().splitlines()]
        build(rows, lambda i: TEST_VOICES, ROOT / "intents/test/heldout_asr.jsonl")
    if which in ("train", "both"):
        rows = [{"text": e.text, "intent": e.intent} for e in load_intents_dir(ROOT / "intents").examples]
        for n, voices in enumerate(TRAIN_PASSES[first_pass:], first_pass):
            build(rows, lambda i, v=voices: (v[i % len(v)],), ROOT / "intents/asr_augment.jsonl", append=n > 0)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "both", int(sys.argv[2]) if len(sys.argv) > 2 else 0)
