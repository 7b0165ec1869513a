"""The trained intent model on data it was not trained on: the dev phrases (`heldout.jsonl` and its
transcripts: not trained on, but looked at while choosing — the held-out figures are in
tests/test_nlu_measure.py), out-of-scope, sentiment, retraining from JSONL. One training per session."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from voicebot.events import Understood
from voicebot.nlu import load_model, model_io
from voicebot.nlu.dataset import load_rows
from voicebot.nlu.evaluate import evaluate
from voicebot.nlu.train import load_training_data, train

ROOT = Path(__file__).resolve().parents[1]
TEST = ROOT / "intents" / "test"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def bank_model(tmp_path_factory):
    path = train(load_training_data(ROOT / "intents"), tmp_path_factory.mktemp("nlu") / "bank")
    return load_model(path)


def test_metadata_records_data_labels_metrics_threshold(bank_model):
    meta = model_io.read_metadata(bank_model.path)
    assert len(meta["data_hash"]) == 16 and "check_balance" in meta["labels"]
    assert meta["oos"]["strategy"] in meta["oos"]["compared"]
    assert 0.0 <= meta["threshold"] < 1.0 and meta["metrics"]["in_scope_accuracy"] > 0.5
    assert meta["sentiment"]["mode"] in ("head", "combined", "vader")


def test_heldout_intents(bank_model):
    report = evaluate(bank_model, load_rows(TEST / "heldout.jsonl").examples)
    assert report["intent_accuracy"] >= 0.93, report["worst"]
    assert report["model_version"] == bank_model.version  # the report says which model it measured
    assert report["oos_recall"] >= 0.85
    assert report["in_scope_false_oos_rate"] <= 0.05


def test_other_wordings_dev_set(bank_model):
    """British, indirect and long-winded requests, written as a dev set before any training phrase
    of that kind (intents/dev/intent_dev_styles.jsonl, never trained on). Measured (docs/nlu.md):
    0.908 before those training phrases, 0.96 after."""
    report = evaluate(bank_model, load_rows(ROOT / "intents" / "dev" / "intent_dev_styles.jsonl").examples)
    assert report["intent_accuracy"] >= 0.93, report["worst"]


@pytest.mark.parametrize("text", ["what's the weather", "what's the weather like in paris", "is it going to snow tomorrow",
                                  "tell me the weather forecast", "who's playing in the super bowl"])
def test_out_of_scope_is_never_banking(bank_model, text):
    assert bank_model.understand(text).intent == "out_of_scope"


def test_understood_has_alternatives_entities_sentiment(bank_model):
    result = bank_model.understand("transfer two hundred dollars to savings tomorrow")
    assert isinstance(result, Understood) and result.intent == "transfer_money"
    assert result.entities == {"amount": 200.0, "currency": "USD", "date": "tomorrow"}
    assert result.alternatives[0][0] == "transfer_money" and len(result.alternatives) == 3
    assert result.alternatives[0][1] >= result.alternatives[1][1]
    assert bank_model.understand("yeah that's right").entities["yesno"] == "yes"
    assert bank_model.understand("no that's all thanks bye").intent == "goodbye"
    assert bank_model.understand("").intent == "out_of_scope"


@pytest.mark.parametrize("name, target", [("general", 0.80), ("banking", 0.70)])
def test_sentiment_heldout(bank_model, name, target):
    rows = [json.loads(line) for line in (TEST / f"sentiment_{name}.jsonl").read_text().splitlines()]
    from sklearn.metrics import f1_score

    pred = [bank_model.understand(r["text"]).sentiment for r in rows]
    assert f1_score([r["sentiment"] for r in rows], pred, average="macro") >= target


@pytest.mark.parametrize("text", ["I'd like to check my balance", "can I transfer money to my son", "what time do you open",
                                  "I need to reset my pin", "nothing more thank you goodbye",
                                  "that's my fourth call this month about it"])
def test_neutral_requests_are_not_negative_and_frustration_is(bank_model, text):
    expected_negative = "fourth call" in text
    assert (bank_model.understand(text).sentiment == "negative") == expected_negative


def by_voice_accuracy(model, name: str, n_best: bool = False) -> dict[str, float]:
    """Intent accuracy per voice; with n_best the recogniser's runner-up readings vote too, as in
    a live call (Session → Nlu.understand(text, alternatives))."""
    rows = [json.loads(line) for line in (TEST / name).read_text().splitlines()]
    if n_best:
        results = [(model.understand(r["text"], r.get("alternatives", ())).intent,) for r in rows]
    else:
        results = model.classify_batch([r["text"] for r in rows])
    voices = sorted({r["voice"] for r in rows})
    return {v: sum(p[0] == r["intent"] for p, r in zip(results, rows) if r["voice"] == v) / sum(r["voice"] == v for r in rows)
            for v in voices}


THREE_VOICES = ("piper", "flite:slt", "espeak:en-gb")  # the target is set on these


def test_whisper_telephone_transcripts(bank_model):
    """Held-out phrases voiced by TTS, sent through the 8 kHz μ-law noisy channel, transcribed by
    the packaged tiny.en (the recogniser before the telephone-band model; kept as a fixed record,
    it cannot be re-rendered). The NLU now learns the telephone-band model's mishearings, so it
    reads these a little worse on en-gb. Measured (docs/nlu.md): three voices 0.848, piper 0.962,
    slt 0.880, en-gb 0.702, en-us+f3 0.630 (the NLU trained on the packaged model's: 0.867, en-gb 0.745)."""
    acc = by_voice_accuracy(bank_model, "heldout_asr.jsonl")
    assert sum(acc[v] for v in THREE_VOICES) / 3 >= 0.83, acc
    assert acc["piper"] >= 0.93 and acc["flite:slt"] >= 0.85 and acc["espeak:en-gb"] >= 0.68, acc
    assert acc["espeak:en-us+f3"] >= 0.60, acc  # a voice no training transcript used


def test_whisper_transcripts_of_another_noise_draw(bank_model):
    """The same phrases rendered by today's (deterministic) speechgen and transcribed by today's
    recogniser (the telephone-band tiny.en, blend 0.7), noise suppression included — what the live
    pipeline hears. Measured: 0.955 on three voices (piper 0.976, slt 0.938, en-gb 0.952, en-us+f3
    0.923); the NLU trained on the packaged model's mishearings: 0.939."""
    acc = by_voice_accuracy(bank_model, "heldout_asr_render3.jsonl")
    assert sum(acc[v] for v in THREE_VOICES) / 3 >= 0.90, acc
    assert acc["piper"] >= 0.94 and acc["espeak:en-gb"] >= 0.85 and acc["espeak:en-us+f3"] >= 0.83, acc


def test_n_best_readings_vote_on_the_intent(bank_model):
    """As in a live call: Whisper's runner-up readings of the same audio vote when the best one is
    unsure. Measured on heldout_asr_render3 (dev): three voices 0.960 (piper 0.971, slt 0.957,
    en-gb 0.952), en-us+f3 0.933; without the votes 0.955 and 0.923."""
    acc = by_voice_accuracy(bank_model, "heldout_asr_render3.jsonl", n_best=True)
    assert sum(acc[v] for v in THREE_VOICES) / 3 >= 0.91, acc  # issue target 0.88, with float-noise room
    assert acc["espeak:en-us+f3"] >= 0.85, acc


def test_retrain_from_jsonl_and_csv(bank_model, tmp_path, monkeypatch, capsys):
    from voicebot.cli import main

    keep = {"check_balance", "branch_hours", "reset_pin"}
    examples = [e for e in load_training_data(ROOT / "intents").examples if e.intent in keep and not e.source]
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"text": e.text, "intent": e.intent}) + "\n" for e in examples))
    monkeypatch.setattr(sys, "argv", ["voicebot", "train", "--data", str(rows), "--out", str(tmp_path / "m")])
    try:
        main()
    except SystemExit as exc:
        assert exc.code in (0, None)
    small = load_model(tmp_path / "m")
    assert set(small.labels) == keep
    # the version names the model (training day, digest of its weights), not the --out folder
    meta = model_io.read_metadata(tmp_path / "m")
    assert small.version == meta["version"] != "m" and re.fullmatch(r"\d{8}-[0-9a-f]{12}", meta["version"])
    assert meta["version"].endswith(model_io.artefact_digest(tmp_path / "m", meta)[:12])
    assert f"model version {meta['version']}" in " ".join(capsys.readouterr().out.split())
    assert small.understand("when does the bank close on friday").intent == "branch_hours"
    csv_rows = tmp_path / "rows.csv"
    csv_rows.write_text("text,intent\n" + "".join(f"\"{e.text}\",{e.intent}\n" for e in examples))
    assert len(load_rows(csv_rows).examples) == len(examples)


def test_default_model_loads_once(bank_model):
    first = load_model()
    assert first is load_model()
    assert first.understand("what's my balance").intent == "check_balance"


def test_no_model_trains_one_automatically(bank_model, tmp_path, monkeypatch, capsys):
    from voicebot.nlu import train as train_module

    keep = ("report_lost_card", "branch_hours")
    intents = tmp_path / "intents"
    intents.mkdir()
    (intents / "small.yml").write_text("intents:\n" + "".join(
        f"  - intent: {name}\n    examples:\n" + "".join(f"      - \"{e.text}\"\n" for e in load_rows_of(name)) for name in keep))
    monkeypatch.setattr(train_module, "INTENTS_DIR", intents)
    monkeypatch.setattr(model_io, "MODELS_DIR", tmp_path / "models")
    nlu = load_model()
    assert nlu.path.parent == tmp_path / "models" and "training one" in capsys.readouterr().err
    assert nlu.understand("I lost my card").intent == "report_lost_card"


def load_rows_of(intent: str):
    return [e for e in load_training_data(ROOT / "intents").examples if e.intent == intent and not e.source][:12]
