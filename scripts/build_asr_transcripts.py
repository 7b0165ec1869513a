"""Voice intent phrases with TTS, pass them through the noisy telephone channel and Whisper, and
save what the recogniser heard. Run once; the outputs are committed so training needs no ASR.

  train: intents/*.yml examples, once per pass in TRAIN_PASSES → intents/asr_augment.jsonl
  test:  intents/test/heldout.jsonl, several voices         → intents/test/heldout_asr.jsonl
         (voices already in the file are kept; all four there were rendered by the speechgen of
         RENDER_VERSION 2, before sox's dither was made repeatable, so they cannot be re-made)
  sync:  after editing intents/*.yml or adding a pass: transcripts follow their phrase's current
         intent, those of removed phrases go, and each phrase is voiced in every pass it lacks
         (same voice rotation)
  render3: the same phrases and voices, all rendered by the current speechgen
                                                            → intents/test/heldout_asr_render3.jsonl
         A second noise draw: the transcripts, and so the accuracy (±0.04), move with it.

Whisper gets the same hints as at the live intent prompt (`Hints()` = free speech → the banking
DOMAIN_PROMPT, see voicebot/pipeline/session.py), so training sees the errors callers will cause.

The test utterances are never in training. Two test voices are also training voices (a caller's
voice is not known in advance, but piper/slt-like voices are common); espeak:en-gb and
espeak:en-us+f3 are never used for training, so they measure voices the model has not heard.

A voice spec is "engine[:name][/opt…][@snr]": /l1.1 piper length scale, /n0.6 piper sampling
noise, /d1.15 flite duration stretch, /s170 espeak words per minute, /p70 espeak pitch, @10 the
line's SNR in dB (default 15). Options vary speaking rate, pitch and line noise, so one
synthetic speaker yields several "callers".

Usage: python scripts/build_asr_transcripts.py [train|test|sync|render3|both] [first_pass]"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from voicebot import speechgen  # noqa: E402
from voicebot.asr.base import Hints, get_recognizer  # noqa: E402
from voicebot.audio.wavio import read_wav, write_wav  # noqa: E402
from voicebot.cache import replaced_atomically  # noqa: E402
from voicebot.nlu.dataset import load_intents_dir  # noqa: E402

INTENT_PROMPT_HINTS = Hints()  # what Session._hints() gives for `expect: intent`
# each pass voices every training example once, rotating through its voices. Passes 0-2 were
# built with an older Whisper (before the 10 s window floor); 3-8 with the current one.
TRAIN_PASSES = (
    ("flite:rms", "espeak:en-us", "flite:awb", "espeak:en+m3"),
    ("piper",),
    ("flite:kal", "flite:slt"),
    ("piper/l1.15/n0.667", "flite:kal16", "espeak:en-us-nyc/s165", "espeak:en+f2@10"),
    ("espeak:en-029/s140", "flite:awb/d1.15", "piper/l0.9/n0.667@10", "espeak:en-gb-scotland"),
    ("espeak:en-us/s130/p70@20", "flite:rms/d0.9", "espeak:en+klatt", "flite:kal/d1.1@10"),
    ("piper/l1.05/n0.8@20", "espeak:en+m7/s160", "flite:slt/d0.9@10", "espeak:en-us+m2/s145"),
    ("espeak:en-us+f4/s155", "flite:awb@10", "espeak:en+m5/s140", "piper/l1.2/n0.5"),
    ("espeak:en-us+m4/s175@20", "flite:kal16/d1.1", "espeak:en-gb-x-gbclan", "flite:rms@10"),
)
TEST_VOICES = ("piper", "flite:slt", "espeak:en-gb", "espeak:en-us+f3")
UNSEEN_TEST_VOICES = {"espeak:en-gb", "espeak:en-us+f3"}


def parse_voice(spec: str) -> tuple[str, dict[str, float], float]:
    base, _, snr = spec.partition("@")
    voice, *opts = base.split("/")
    return voice, {o[0]: float(o[1:]) for o in opts}, float(snr or speechgen.TELEPHONE.snr_db)


def render(text: str, spec: str) -> Path:
    """Telephone WAV of `text` in voice `spec` (plain voices go through speechgen's cache)."""
    voice, opts, snr = parse_voice(spec)
    if not opts and snr == speechgen.TELEPHONE.snr_db:
        return speechgen.speak(text, voice, speechgen.TELEPHONE)
    channel = replace(speechgen.TELEPHONE, snr_db=snr)
    digest = hashlib.sha1(f"{speechgen.RENDER_VERSION}|{spec}|{text}|{channel.key()}".encode()).hexdigest()[:16]
    out = speechgen.cache_dir() / f"{digest}.wav"
    if not out.exists():
        audio = speechgen.degrade(_render_clean(text, voice, opts), channel, seed=int(digest[:8], 16))
        with replaced_atomically(out) as tmp:  # the cache is shared by parallel processes
            write_wav(tmp, audio, subtype=channel.encoding)
    return out


def _render_clean(text: str, voice: str, opts: dict[str, float]):
    kind, _, name = voice.partition(":")
    if kind == "piper":
        from voicebot.tts import get_synthesizer

        noise = opts.get("n", 0.0)
        synth = get_synthesizer("piper", length_scale=opts.get("l", 1.0), noise_scale=noise, noise_w_scale=noise)
        return synth.synthesize(text).canonical()
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "voice.wav"
        if kind == "flite":
            cmd = ["flite", "-voice", name or "kal", "--setf", f"duration_stretch={opts.get('d', 1.0)}", "-t", text, "-o", str(wav)]
        elif kind == "espeak":
            cmd = ["espeak-ng", "-v", name or "en-us", "-s", str(int(opts.get("s", 150))), "-p", str(int(opts.get("p", 50))), "-w", str(wav), text]
        else:
            raise ValueError(f"unknown voice {voice!r}")
        subprocess.run(cmd, check=True, capture_output=True)
        return read_wav(wav).canonical()


def transcribe(text: str, spec: str) -> tuple[str, list[str]]:
    """What the recogniser heard, and its runner-up readings (the live NLU lets them vote)."""
    heard = get_recognizer("whisper").transcribe(read_wav(render(text, spec)), INTENT_PROMPT_HINTS)
    return heard.text.strip(), list(heard.alternatives)


def build(rows: list[dict], voices_for, out: Path, append: bool = False) -> None:
    start = time.time()
    with replaced_atomically(out) as tmp, tmp.open("w") as fh:
        if append and out.exists():
            fh.write(out.read_text())
        for i, row in enumerate(rows):
            for voice in voices_for(i):
                heard, others = transcribe(row["text"], voice)
                if heard:
                    fh.write(json.dumps({**row, "text": heard, "alternatives": others, "source": row["text"],
                                         "voice": voice}) + "\n")
            if i % 50 == 0:
                print(f"{out.name}: {i}/{len(rows)} {time.time() - start:.0f}s", flush=True)


def sync(out: Path) -> None:
    """Transcripts follow their phrase's current intent, those of removed phrases go, and every
    phrase gets one transcript per pass it lacks (a new phrase in all passes, a new pass for all
    phrases). Rows are written as they are made, so an interrupted run leaves `out`.part valid."""
    examples = load_intents_dir(ROOT / "intents").examples
    intent_of = {e.text: e.intent for e in examples}
    kept = [r for r in map(json.loads, out.read_text().splitlines()) if r["source"] in intent_of]
    have = {(r["source"], r["voice"]) for r in kept}
    start = time.time()
    with out.with_suffix(".part").open("w") as fh:
        fh.writelines(json.dumps({**r, "intent": intent_of[r["source"]]}) + "\n" for r in kept)
        for n, voices in enumerate(TRAIN_PASSES):
            # a phrase whose transcript came out empty has none: it is tried again (cheap, few)
            missing = [(i, e) for i, e in enumerate(examples) if not any((e.text, v) in have for v in voices)]
            for done, (i, e) in enumerate(missing):
                voice = voices[i % len(voices)]
                heard, _ = transcribe(e.text, voice)
                if heard:
                    fh.write(json.dumps({"text": heard, "intent": e.intent, "source": e.text, "voice": voice}) + "\n")
                if done % 50 == 0:
                    print(f"pass {n}: {done}/{len(missing)} {time.time() - start:.0f}s", flush=True)
            fh.flush()
    out.with_suffix(".part").replace(out)


def main(which: str, first_pass: int = 0) -> None:
    trained_on = {parse_voice(v)[0] for p in TRAIN_PASSES for v in p}
    assert not trained_on & UNSEEN_TEST_VOICES, "an 'unseen' test voice is also a training voice"
    if which in ("test", "both"):
        rows = [json.loads(line) for line in (ROOT / "intents/test/heldout.jsonl").read_text().splitlines()]
        out = ROOT / "intents/test/heldout_asr.jsonl"
        # voices already transcribed are kept, so adding a voice leaves the others' numbers alone
        done = {json.loads(line)["voice"] for line in out.read_text().splitlines()} if out.exists() else set()
        build(rows, lambda i: [v for v in TEST_VOICES if v not in done], out, append=True)
    if which == "sync":
        sync(ROOT / "intents/asr_augment.jsonl")
    if which == "render3":
        rows = [json.loads(line) for line in (ROOT / "intents/test/heldout.jsonl").read_text().splitlines()]
        build(rows, lambda i: TEST_VOICES, ROOT / "intents/test/heldout_asr_render3.jsonl")
    if which in ("train", "both"):
        rows = [{"text": e.text, "intent": e.intent} for e in load_intents_dir(ROOT / "intents").examples]
        for n, voices in enumerate(TRAIN_PASSES[first_pass:], first_pass):
            build(rows, lambda i, v=voices: (v[i % len(v)],), ROOT / "intents/asr_augment.jsonl", append=n > 0)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "both", int(sys.argv[2]) if len(sys.argv) > 2 else 0)
