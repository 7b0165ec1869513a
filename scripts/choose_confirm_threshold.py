"""Choose `settings.confirm_actions_below` (flows/bank.yml) on DEV data only: how many readings of
the intents whose request changes the account (activate_card, report_lost_card) at or above
low_confidence are right or wrong, and how many of each a threshold would confirm first.

Dev sets: intents/test/heldout.jsonl (typed; dev despite its name, docs/nlu.md),
intents/dev/intent_dev_styles.jsonl (typed), intents/test/heldout_asr_render3.jsonl (Whisper
transcripts of heldout.jsonl in the four dev voices, with their n-best). The held-out sets are not read.

    python scripts/choose_confirm_threshold.py [--model DIR] [--json]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from voicebot.flow import load_flow
from voicebot.flow.confirm import ConfirmMixin
from voicebot.nlu import load_model

ROOT = Path(__file__).resolve().parents[1]
DEV_SETS = ("intents/test/heldout.jsonl", "intents/dev/intent_dev_styles.jsonl",
            "intents/test/heldout_asr_render3.jsonl")
STEPS = (0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)


def changing_intents(flow) -> set[str]:
    probe = ConfirmMixin()
    probe.spec = flow.spec
    return {i for i in flow.spec.requests if probe.changes_account(i)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    flow = load_flow(ROOT / "flows" / "bank.yml")
    low, changing = flow.spec.settings.low_confidence, changing_intents(flow)
    nlu = load_model(args.model)
    acted = []  # (truth, reading, confidence, text, set) of readings the flow would act on
    for name in DEV_SETS:
        for line in (ROOT / name).read_text().splitlines():
            row = json.loads(line)
            heard = nlu.understand(row["text"], row.get("alternatives", ()))
            if heard.intent in changing and heard.confidence >= low:
                acted.append((row["intent"], heard.intent, heard.confidence, row["text"], name))
    table = [{"below": t,
              "right_acted": sum(1 for tr, p, c, *_ in acted if tr == p and c >= t),
              "right_confirmed": sum(1 for tr, p, c, *_ in acted if tr == p and c < t),
              "wrong_acted": sum(1 for tr, p, c, *_ in acted if tr != p and c >= t),
              "wrong_confirmed": sum(1 for tr, p, c, *_ in acted if tr != p and c < t)} for t in STEPS]
    wrong = [{"confidence": c, "read": p, "truth": tr, "text": x, "set": s} for tr, p, c, x, s in acted if tr != p]
    report = {"intents": sorted(changing), "readings": len(acted), "wrong": wrong, "thresholds": table}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{len(acted)} readings of {', '.join(sorted(changing))} at or above {low}; wrong:")
    for w in wrong:
        print(f"  {w['confidence']:.3f} {w['read']} (truth {w['truth']}) {w['text']!r} [{w['set']}]")
    print("below  right_acted  right_confirmed  wrong_acted  wrong_confirmed")
    for r in table:
        print(f"{r['below']:.2f}  {r['right_acted']:11d}  {r['right_confirmed']:15d}  {r['wrong_acted']:11d}  {r['wrong_confirmed']:15d}")


if __name__ == "__main__":
    main()
