"""Honest measurement (issue 13, items 8–10): held-out sets kept apart from training and dev,
sentiment/intent figures at the goals on typed held-out text, n-best voting that never overturns a
confident best reading, `voicebot eval --audio` through the live first intent prompt, and
telephone accuracy on voices nothing was trained or tuned on."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score

from voicebot.nlu import load_model
from voicebot.nlu.dataset import load_intents_dir, load_rows, normalize
from voicebot.nlu.evaluate import evaluate
from voicebot.nlu.runtime import BEST_WEIGHT, NBEST_GATE, combine_readings
from voicebot.nlu.train import HELD_OUT_FAMILIES, load_training_data, voice_family

ROOT = Path(__file__).resolve().parents[1]
TEST = ROOT / "intents" / "test"
SHIPPED = ROOT / "models" / "nlu-demo"


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    from voicebot.cli import main

    monkeypatch.setattr(sys, "argv", ["voicebot", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out + out.err


def eval_audio_script():
    spec = importlib.util.spec_from_file_location("build_eval_audio", ROOT / "scripts" / "build_eval_audio.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def shipped():
    return load_model(SHIPPED)


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ---- the sets are kept apart ------------------------------------------------------------------
def test_heldout_sets_are_not_training_or_dev_data():
    train = {normalize(e.text) for e in load_intents_dir(ROOT / "intents").examples}
    train |= {normalize(r["text"]) for p in (ROOT / "intents/sentiment").glob("*.jsonl") for r in jsonl(p)}
    dev = {normalize(r["text"]) for p in (ROOT / "intents/dev").glob("*.jsonl") for r in jsonl(p)}
    for name in ("intent_heldout.jsonl", "sentiment_banking_heldout.jsonl"):
        rows = jsonl(TEST / name)
        long_rows = [normalize(r["text"]) for r in rows if len(r["text"].split()) > 2]
        assert not set(long_rows) & train, name
        assert not set(long_rows) & dev, name


def test_a_whole_voice_family_is_left_out_of_training():
    training = load_training_data(ROOT / "intents")
    augment = jsonl(ROOT / "intents/asr_augment.jsonl")
    assert any(voice_family(r["voice"]) in HELD_OUT_FAMILIES for r in augment)  # the filter has work to do
    kept_sources = {e.text for e in training.examples if e.source}
    assert kept_sources and len(kept_sources) < len(augment)
    trained_voices = {r["voice"] for r in augment if voice_family(r["voice"]) not in HELD_OUT_FAMILIES}
    script = eval_audio_script()
    script.check_voices()
    for voice in script.HELDOUT_VOICES:
        assert voice not in trained_voices and voice not in script.DEV_VOICES
    assert any(voice_family(v) in HELD_OUT_FAMILIES for v in script.HELDOUT_VOICES)


# ---- typed held-out figures at the goals (shipped model) --------------------------------------
@pytest.mark.parametrize("name, goal", [("sentiment_banking_heldout", 0.80), ("sentiment_general", 0.90)])
def test_sentiment_heldout_goal(shipped, name, goal):
    report = evaluate(shipped, load_rows(TEST / f"{name}.jsonl", need_intent=False).examples)
    assert report["sentiment_macro_f1"] >= goal, report["sentiment_macro_f1"]


def test_intent_heldout_typed(shipped):
    """Measured 0.957 on the other author's phrases (0.897 before the British and indirect training
    phrases, docs/nlu.md); the issue's 0.90 is set for audio."""
    report = evaluate(shipped, load_rows(TEST / "intent_heldout.jsonl").examples)
    assert report["intent_accuracy"] >= 0.93, report["worst"]
    assert report["oos_recall"] >= 0.85


def test_eval_accepts_rows_with_only_a_sentiment(tmp_path, monkeypatch, capsys):
    rows = tmp_path / "s.jsonl"
    rows.write_text(json.dumps({"text": "still no answer after my last two calls", "sentiment": "negative"}) + "\n"
                    + json.dumps({"text": "what's my balance", "intent": "check_balance"}) + "\n")
    code, out = run_cli(monkeypatch, capsys, "eval", "--data", str(rows), "--model", str(SHIPPED), "--json")
    report = json.loads(out)
    assert code == 0 and report["sentiment_n"] == 1 and report["intent_n"] == 1
    assert report["sentiment_macro_f1"] == 1.0 and report["intent_accuracy"] == 1.0
    csv_rows = tmp_path / "s.csv"
    csv_rows.write_text("text,sentiment\nthanks that's sorted it,positive\n")
    assert load_rows(csv_rows, need_intent=False).examples[0].sentiment == "positive"
    code, out = run_cli(monkeypatch, capsys, "eval", "--data", str(csv_rows), "--model", str(SHIPPED), "--json")
    assert code == 0 and json.loads(out)["intent_accuracy"] is None


# ---- n-best voting ----------------------------------------------------------------------------
def test_combine_readings_keeps_a_confident_best_reading():
    confident = np.array([[0.7, 0.2, 0.1], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    assert combine_readings(confident).argmax() == 0  # three runner-ups agreeing cannot overturn it
    unsure = np.array([[0.4, 0.35, 0.25], [0.1, 0.8, 0.1], [0.1, 0.8, 0.1]])
    mixed = combine_readings(unsure)
    assert mixed.argmax() == 1 and np.isclose(mixed.sum(), 1.0)
    assert np.allclose(mixed, (BEST_WEIGHT * unsure[0] + unsure[1] + unsure[2]) / (BEST_WEIGHT + 2))


def test_n_best_never_overturns_a_correct_confident_reading(shipped):
    """Every held-out phrase heard exactly as typed, with four runner-up readings that all mean
    something else: the intent stays the typed one whenever the typed one is confident."""
    rows = jsonl(TEST / "intent_heldout.jsonl")
    checked = correct = 0
    for i, row in enumerate(rows):
        typed = shipped.understand(row["text"])
        correct += typed.intent == row["intent"]
        if typed.intent != row["intent"] or typed.confidence < NBEST_GATE:
            continue
        decoys = tuple(r["text"] for r in rows[i + 1:] + rows[:i] if r["intent"] != row["intent"])[:4]
        heard = shipped.understand(row["text"], decoys)
        assert heard.intent == typed.intent, (row["text"], decoys)
        assert heard.alternatives == typed.alternatives  # the very same answer as typed
        checked += 1
    # most correct readings are confident, so the guarantee covers them (measured 89 of 104); an
    # unsure one (< 0.6) is near the flow's no-match line (0.55) and may be swayed by the others
    assert checked >= 0.8 * correct


# ---- eval --audio -----------------------------------------------------------------------------
@pytest.mark.slow
def test_eval_audio_small_manifest(tmp_path, monkeypatch, capsys, speak, telephone):
    phrases = [("what's my balance please", "check_balance", "neutral"),
               ("I lost my credit card yesterday", "report_lost_card", "neutral"),
               ("still no answer after my last two calls, this is ridiculous", "complaint", "negative")]
    lines = []
    for n, (text, intent, sentiment) in enumerate(phrases):
        wav = Path(speak(text, "piper", telephone))
        (tmp_path / f"{n}.wav").write_bytes(wav.read_bytes())
        lines.append(json.dumps({"file": f"{n}.wav", "intent": intent, "sentiment": sentiment, "text": text}))
    lines.append(json.dumps({"file": "0.wav", "sentiment": "neutral"}))  # a sentiment-only row
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    code, out = run_cli(monkeypatch, capsys, "eval", "--audio", str(manifest), "--model", str(SHIPPED), "--json")
    report = json.loads(out)
    assert code == 0 and report["n"] == 4 and report["intent_n"] == 3 and report["sentiment_n"] == 4
    assert report["intent_accuracy"] >= 2 / 3 and report["sentiment_macro_f1"] is not None
    assert report["wer_n"] == 3 and report["wer"] < 0.3
    code, out = run_cli(monkeypatch, capsys, "eval", "--audio", str(manifest), "--model", str(SHIPPED))
    assert code == 0 and "intent accuracy" in out and "WER" in out
    (tmp_path / "bad.jsonl").write_text(json.dumps({"file": "missing.wav", "intent": "check_balance"}) + "\n")
    code, out = run_cli(monkeypatch, capsys, "eval", "--audio", str(tmp_path / "bad.jsonl"))
    assert code == 2 and "bad.jsonl:1" in out and "missing.wav" in out


@pytest.mark.slow
def test_telephone_intents_on_heldout_voices():
    """The held-out phrases in the three held-out voices (piper: a family no training transcript
    comes from), 8 kHz μ-law + noise, through the live first intent prompt. Measured 0.828 (piper
    0.940, en-gb-x-rp 0.784, en-us+f5 0.759; the round before 0.793): the issue's 0.90 is NOT met
    (docs/nlu.md says why); the floor guards today's figure with a margin for float differences."""
    from voicebot.nlu.audio_eval import evaluate_audio

    manifest = eval_audio_script().build("heldout")
    report = evaluate_audio(manifest, model=str(SHIPPED))
    assert report["intent_accuracy"] >= 0.80, report["intent_accuracy_by_voice"]
    assert report["intent_accuracy_by_voice"]["piper/l1.1/n0.667"] >= 0.90  # the family never trained on
    assert report["oos_recall"] >= 0.8 and report["wer"] < 0.45
