"""Render the dev and held-out text sets as noisy 8 kHz μ-law telephone calls and write manifests
for `voicebot eval --audio` (WAVs go into the speech cache on first use; later runs reuse them).

  dev:     intents/test/heldout.jsonl (208 phrases; looked at while choosing features, the
           n-best gate, and the denoiser, so it is development data) in the dev voices
  heldout: intents/test/intent_heldout.jsonl (120 phrases written by another hand, never used to
           choose anything) in voices used neither for training nor for choosing — piper is a
           whole TTS family no training transcript comes from (voicebot.nlu.train.HELD_OUT_FAMILIES)
  sentiment: intents/test/sentiment_banking_heldout.jsonl (sentiment-only rows) in one held-out voice

Usage: python scripts/build_eval_audio.py dev|heldout|sentiment [--out DIR]   → prints the manifest path"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from build_asr_transcripts import TRAIN_PASSES, parse_voice, render  # noqa: E402

from voicebot.cache import cache_dir, replaced_atomically  # noqa: E402

DEV_VOICES = ("piper", "flite:slt", "espeak:en-gb", "espeak:en-us+f3")
# Never in TRAIN_PASSES nor DEV_VOICES; piper's family is left out of training altogether, and this
# piper render differs from the dev one (sampling noise on, slower speech).
HELDOUT_VOICES = ("piper/l1.1/n0.667", "espeak:en-gb-x-rp", "espeak:en-us+f5")
SETS = {
    "dev": ("intents/test/heldout.jsonl", DEV_VOICES),
    "heldout": ("intents/test/intent_heldout.jsonl", HELDOUT_VOICES),
    "sentiment": ("intents/test/sentiment_banking_heldout.jsonl", HELDOUT_VOICES[:1]),
}


def build(name: str, out_dir: Path | None = None, limit: int | None = None, voices: tuple[str, ...] | None = None) -> Path:
    """Render set `name` (first `limit` rows) and write its manifest; returns the manifest path."""
    text_file, default_voices = SETS[name]
    rows = [json.loads(line) for line in (ROOT / text_file).read_text().splitlines() if line.strip()]
    rows = rows[:limit] if limit else rows
    out_dir = Path(out_dir or cache_dir("eval"))
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = out_dir / f"{name}{'-' + str(limit) if limit else ''}.jsonl"
    lines = []
    for row in rows:
        for voice in voices or default_voices:
            wav = render(row["text"], voice)
            lines.append(json.dumps({"file": os.path.relpath(wav, out_dir), **{k: row[k] for k in ("intent", "sentiment") if row.get(k)},
                                     "text": row["text"], "voice": voice}))
    with replaced_atomically(manifest) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return manifest


def check_voices() -> None:
    trained = {parse_voice(v)[0] for p in TRAIN_PASSES for v in p}
    used = trained | {parse_voice(v)[0] for v in DEV_VOICES}
    clash = [v for v in HELDOUT_VOICES if not v.startswith("piper") and parse_voice(v)[0] in used]
    assert not clash, f"held-out voices also used for training or choosing: {clash}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("set", choices=sorted(SETS))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    check_voices()
    print(build(args.set, args.out, args.limit))
