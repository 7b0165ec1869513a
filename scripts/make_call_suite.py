"""Render the demo bank's call regression suite (examples/calls/): caller turns voiced by Piper,
flite and espeak-ng through an 8 kHz μ-law telephone line (voicebot.speechgen), written beside
each call's turns.txt and expect.json. The WAVs are committed (8 kHz μ-law, ~8 KB a second) so the
suite replays the same audio on every machine; run this only to change the suite.

    python scripts/make_call_suite.py [OUT_DIR]      # then: voicebot eval --calls examples/calls"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from voicebot import speechgen

ROOT = Path(__file__).resolve().parents[1]
ID_SPOKEN = "my customer number is one two three four five six seven eight"
PIN_SPOKEN = "two four six eight"

# name: (voice, channel, turns (text is voiced; "dtmf:…" and "text:…" are kept as such), expect.json)
CALLS = {
    "balance_spoken_id": ("piper", "TELEPHONE", ["I'd like to check my account balance please", ID_SPOKEN, PIN_SPOKEN,
                                                 "no thanks", "four"],
                          {"outcome": "self_service", "authenticated": True, "csat": 4}),
    "lost_card_dtmf": ("flite:slt", "TELEPHONE_QUIET", ["I lost my card", "dtmf:12345678", "dtmf:2468",
                                                         "no that's all", "dtmf:5"],
                       {"outcome": "self_service", "authenticated": True, "csat": 5, "queue": None}),
    "agent_request": ("espeak:en-us", "TELEPHONE_QUIET", ["I want to talk to a real person please"],
                      {"outcome": "transferred", "queue": "general", "reason": "caller_request", "authenticated": False}),
    "vip_by_caller_id": ("piper", "TELEPHONE_QUIET", ["can I speak to someone about a loan"],
                         {"caller_id": "+15551230002", "priority": "vip", "queue": "loans"}),
    "wrong_pin": ("piper", "TELEPHONE", ["what's my balance", "dtmf:12345678", "dtmf:1111", "dtmf:2222", "dtmf:3333"],
                  {"authenticated": False, "queue": "general"}),
    "angry_caller": ("piper", "TELEPHONE", ["This is absolutely ridiculous, I am furious, your bank stole my money "
                                            "and nobody helps me"],
                     {"outcome": "escalated", "reason": "negative_sentiment", "priority": "high"}),
    "loan_routing": ("flite:slt", "TELEPHONE_QUIET", ["I'd like some information about a personal loan"],
                     {"outcome": "transferred", "queue": "loans", "reason": "routing", "authenticated": False}),
    "transfer_money_auth": ("piper", "TELEPHONE", ["I need to send money to my brother's account", "dtmf:12345678",
                                                   "dtmf:2468"],
                            {"outcome": "transferred", "queue": "payments", "reason": "routing", "authenticated": True}),
    "after_hours_text": (None, None, ["text:let me talk to an agent please", "text:", "text:"],
                         {"at": "2026-11-22T03:00:00-05:00", "outcome": "transferred", "queue": "general",
                          "disposition": "after_hours"}),
}


def build(out: Path) -> None:
    for name, (voice, channel, turns, expect) in CALLS.items():
        folder = out / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        lines = []
        for i, turn in enumerate(turns, 1):
            if turn.startswith("dtmf:"):
                lines.append(turn)
            elif turn.startswith("text:"):
                lines.append(turn[len("text:"):])
            else:
                wav = f"{i:02d}.wav"
                shutil.copyfile(speechgen.speak(turn, voice, getattr(speechgen, channel)), folder / wav)
                lines.append(wav)
        (folder / "turns.txt").write_text("\n".join(lines) + "\n")
        (folder / "expect.json").write_text(json.dumps(expect, indent=2) + "\n")
        print(f"{name}: {len(lines)} turns", file=sys.stderr)


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "examples" / "calls")
