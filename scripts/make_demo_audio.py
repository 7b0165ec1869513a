"""Render the demo caller's turns (audio/demo/NN.wav) with the Piper voice, 16 kHz PCM.

    .venv/bin/python scripts/make_demo_audio.py
"""

from __future__ import annotations

from pathlib import Path

from voicebot.audio import write_wav
from voicebot.tts import get_synthesizer

TURNS = [
    "Hi, I think I lost my debit card somewhere yesterday.",
    "One two three four five six seven eight.",
    "Two four six eight.",
    "No, that's all, thank you.",
    "Five.",
]


def main() -> None:
    out = Path(__file__).resolve().parents[1] / "audio" / "demo"
    out.mkdir(parents=True, exist_ok=True)
    synth = get_synthesizer("piper")
    for i, text in enumerate(TURNS, 1):
        path = write_wav(out / f"{i:02d}.wav", synth.synthesize(text).canonical())
        print(path, text)
    (out / "transcript.txt").write_text("\n".join(TURNS) + "\n")


if __name__ == "__main__":
    main()
