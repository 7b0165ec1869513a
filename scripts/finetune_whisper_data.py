"""Training audio for fine-tuning Whisper tiny.en on the telephone band (docs/asr.md "Fine-tuning
tiny.en on the telephone band"): caller phrases, digit strings and short answers voiced by
espeak-ng voices that no dev or held-out set uses, ~75 % through the project's telephone line
(speechgen.degrade: 8 kHz μ-law, 300-3400 Hz, white noise at 10-20 dB SNR) and ~25 % clean 16 kHz.

Never used here: any Piper or flite voice, and the espeak voices of the dev and held-out sets
(FORBIDDEN below; scripts/build_eval_audio.py, scripts/bench_digits.py); the dev intent phrases
(intents/test/heldout.jsonl) and the ASR benchmark's sentences (asr/testsets.py) are dropped from
the training phrases, and the dev and held-out digit strings of bench_digits.py from the digits.
Everything is drawn from SEED, so the set is the same on every run.

    python scripts/finetune_whisper_data.py [--out var/asrft/data]   → manifest.jsonl

Each manifest row: wav, label (the text as Whisper writes it), kind (free / yesno / digits /
rating: which prompt the recogniser would decode it under), voice, channel, seconds."""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import tempfile
from dataclasses import replace
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

SEED = 2026
MAX_SECONDS = 7.0  # + 3 s padding = the 10 s window every training utterance is encoded in
LANGUAGES = ("en-us", "en", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
VARIANTS = ("m1", "m2", "m4", "m5", "m6", "m8", "f1", "f2", "f4", "klatt", "klatt2", "klatt3", "klatt4",
            "klatt5", "croak", "Alex", "Andy", "Annie", "Denis", "iven2", "linda", "michel", "adam",
            "belinda", "john", "edward", "max", "rob", "paul", "steph", "zac")
# the espeak voices of the dev and held-out sets (intents and digits); "en" is en-gb
FORBIDDEN = {"en-us", "en-us+f3", "en-029", "en-gb", "en", "en-gb-scotland", "en+m7", "en-gb+m7", "en-us-nyc",
             "en+m3", "en-gb+m3", "en-gb-x-rp", "en-us+f5"}
UNITS = "zero one two three four five six seven eight nine".split()
YESNO = ("yes", "no", "yeah", "yep", "nope", "yes please", "no thank you", "no thanks", "that's right",
         "that's correct", "correct", "yes that's right", "no that's wrong", "no it isn't", "yes it is",
         "sure", "okay", "yeah go ahead", "no not really", "absolutely", "nah", "yes I do", "no I don't",
         "right", "wrong", "yes correct", "uh yes", "um no", "yes that's me", "no that's not it")
SHORT = ("agent", "representative", "operator", "a person please", "speak to someone", "help",
         "repeat that", "say that again", "main menu", "go back", "start over", "I don't know",
         "I forgot it", "I don't have it", "hold on", "one moment", "goodbye", "thanks bye", "nothing else",
         "that's all")
RATING_FORMS = ("{w}", "{w}", "{w}", "um {w}", "probably {w}", "{w} please", "I'll give it {w}", "maybe {w}")
QUESTION_WORDS = {"what", "what's", "how", "can", "could", "do", "does", "did", "is", "are", "when",
                  "where", "why", "will", "would", "has", "have", "may", "should", "am", "which", "who"}


def voices(rng: random.Random) -> str:
    """An espeak voice spec "lang+variant/s<wpm>/p<pitch>" outside FORBIDDEN."""
    while True:
        lang, var = rng.choice(LANGUAGES), rng.choice(VARIANTS + ("",))
        name = f"{lang}+{var}" if var else lang
        if name not in FORBIDDEN and var not in ("f3", "f5", "m3", "m7"):
            return f"{name}/s{rng.randint(130, 185)}/p{rng.randint(35, 75)}"


def as_whisper_writes(text: str) -> str:
    """"what's my balance" → "What's my balance?": Whisper's capital and closing mark."""
    text = " ".join(text.split())
    mark = "?" if text.split()[0].lower() in QUESTION_WORDS else "."
    return text[0].upper() + text[1:] + ("" if text[-1] in ".?!" else mark)


def excluded_digit_strings() -> set[str]:
    import bench_digits as bd

    return {s for name in bd.SEEDS for s in bd.digit_strings(bd.SEEDS[name], bd.PER_VOICE[name])}


def digit_items(rng: random.Random, count: int) -> list[dict]:
    """4- and 8-digit strings said as a caller would ("oh", "double four", groups with a pause)."""
    import bench_digits as bd

    banned, out = excluded_digit_strings(), []
    while len(out) < count:
        length = rng.choice((4, 8))
        if rng.random() < 0.25:  # repeats and runs, as callers' numbers have them
            a, b = rng.choice("0123456789"), rng.choice("0123456789")
            digits = (a * 2 + b * 2) * (length // 4) if rng.random() < 0.5 else (a + b) * (length // 2)
        else:
            digits = "".join(rng.choice("0123456789") for _ in range(length))
        if digits in banned:
            continue
        pause = length == 8 and rng.random() < 0.3
        if pause:  # a group, a pause, the rest
            said = [bd.spoken(digits[:4], rng), bd.spoken(digits[4:], rng)]
        else:
            said = [bd.spoken(digits, rng)]
        out.append({"said": said, "label": " ".join(digits), "kind": "digits"})
    return out


def items(rng: random.Random) -> list[dict]:
    from voicebot.asr.testsets import CALLER_SENTENCES, CHECK_SENTENCES
    from voicebot.intents import load_intents_dir, normalize

    dev = {normalize(json.loads(line)["text"]) for line in (ROOT / "intents/test/heldout.jsonl").read_text().splitlines() if line.strip()}
    dev |= {normalize(s) for s in CALLER_SENTENCES + CHECK_SENTENCES}
    phrases = sorted({e.text for e in load_intents_dir(ROOT / "intents").examples if normalize(e.text) not in dev})
    out = [{"said": [p], "label": as_whisper_writes(p), "kind": "free"} for p in phrases for _ in range(2)]
    out += digit_items(rng, 800)
    out += [{"said": [w], "label": as_whisper_writes(w), "kind": "yesno"} for w in YESNO for _ in range(8)]
    out += [{"said": [w], "label": as_whisper_writes(w), "kind": "free"} for w in SHORT for _ in range(4)]
    for _ in range(150):
        d = rng.randint(1, 5)
        form = rng.choice(RATING_FORMS)
        said = form.format(w=("a " if form.startswith("I'll") else "") + UNITS[d])
        label = form.format(w=("a " if form.startswith("I'll") else "") + str(d))
        out.append({"said": [said], "label": label if form != "{w}" else str(d), "kind": "rating"})
    for item in out:
        item["voice"] = voices(rng)
        item["channel"] = "clean" if rng.random() < 0.25 else f"telephone@{rng.randint(10, 20)}"
        item["gap"] = round(rng.uniform(0.5, 1.0), 2)
    return out


def espeak(text: str, spec: str):
    from voicebot.audio.wavio import read_wav

    name, speed, pitch = spec.split("/")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "v.wav"
        subprocess.run(["espeak-ng", "-v", name, "-s", speed[1:], "-p", pitch[1:], "-w", str(wav), text],
                       check=True, capture_output=True)
        return read_wav(wav).canonical()


def render(item: dict, out_dir: Path) -> dict | None:
    """The item's WAV (cached by its content), or None when longer than MAX_SECONDS."""
    from voicebot import speechgen
    from voicebot.audio.types import Audio
    from voicebot.audio.wavio import write_wav

    key = hashlib.sha1(json.dumps([item["said"], item["voice"], item["channel"], item["gap"]]).encode()).hexdigest()[:16]
    wav = out_dir / f"{key}.wav"
    if not wav.exists():
        parts = [espeak(s, item["voice"]).to_float() for s in item["said"]]
        gap = np.zeros(int(16000 * item["gap"]), np.float32)
        joined = np.concatenate([x for p in parts for x in (p, gap)][:-1])
        audio = Audio.from_float(joined, 16000)
        if item["channel"] != "clean":
            channel = replace(speechgen.TELEPHONE, snr_db=float(item["channel"].split("@")[1]))
            audio = speechgen.degrade(audio, channel, seed=int(key[:8], 16))
            write_wav(wav, audio, subtype="ULAW")
        else:
            write_wav(wav, audio)
    from voicebot.audio.wavio import read_wav

    seconds = read_wav(wav).duration
    return None if seconds > MAX_SECONDS else {**item, "wav": str(wav), "seconds": round(seconds, 2)}


def _render(args: tuple[dict, Path]) -> dict | None:
    return render(*args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("var/asrft/data"))
    parser.add_argument("--limit", type=int, help="first N items only (a quick look)")
    args = parser.parse_args()
    from tqdm import tqdm

    rng = random.Random(SEED)
    todo = items(rng)
    rng.shuffle(todo)
    todo = todo[: args.limit] if args.limit else todo
    (args.out / "wav").mkdir(parents=True, exist_ok=True)
    with Pool(2) as pool:
        rows = [r for r in tqdm(pool.imap(_render, [(i, args.out / "wav") for i in todo], chunksize=8),
                                total=len(todo), desc="render") if r]
    manifest = args.out / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    used = sorted({r["voice"].split("/")[0] for r in rows})
    (args.out / "voices.txt").write_text("\n".join(used) + "\n")
    kinds = {k: sum(r["kind"] == k for r in rows) for k in ("free", "yesno", "digits", "rating")}
    print(f"{manifest}: {len(rows)} utterances ({len(todo) - len(rows)} over {MAX_SECONDS} s dropped), {kinds}, "
          f"{len(used)} voices, {sum(r['channel'] == 'clean' for r in rows)} clean")


if __name__ == "__main__":
    main()
