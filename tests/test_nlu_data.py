"""Intent data loading and every bad-input case: file:line messages, exit code 2, no half-written
model directory. Fast: no model runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from voicebot.errors import ConfigError, ModelError
from voicebot.nlu import model_io
from voicebot.nlu.dataset import load_intents_dir, load_rows
from voicebot.nlu.train import check_counts

ROOT = Path(__file__).resolve().parents[1]
GOOD = """intents:
  - intent: greet
    description: hello
    route: greeting
    examples:
      - hello
      - hi there
  - intent: bye
    examples: |
      - goodbye
      - see you
"""


def write(tmp_path: Path, text: str, name: str = "a.yml") -> Path:
    (tmp_path / name).write_text(text)
    return tmp_path


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    from voicebot.cli import main

    monkeypatch.setattr(sys, "argv", ["voicebot", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    return exc.value.code, capsys.readouterr().err


def test_shipped_intents_load_with_enough_examples():
    data = load_intents_dir(ROOT / "intents")
    required = {"check_balance", "recent_transactions", "transfer_money", "pay_bill", "report_lost_card", "activate_card",
                "reset_pin", "loan_inquiry", "branch_hours", "update_address", "dispute_charge", "speak_to_agent",
                "complaint", "affirm", "deny", "goodbye", "out_of_scope"}
    assert set(data.intents) == required
    for name in required:
        assert sum(e.intent == name for e in data.examples) >= 40, name
    assert data.intents["check_balance"].route == "balance"


def test_heldout_file_is_not_training_data():
    from voicebot.nlu.dataset import normalize

    train = {normalize(e.text) for e in load_intents_dir(ROOT / "intents").examples}
    heldout = load_rows(ROOT / "intents/test/heldout.jsonl").examples
    assert len(heldout) >= 17 * 10
    overlap = [e.text for e in heldout if normalize(e.text) in train and len(e.text.split()) > 2]
    assert not overlap


def test_dev_styles_set_is_not_training_data():
    from voicebot.nlu.dataset import normalize

    train = {normalize(e.text) for e in load_intents_dir(ROOT / "intents").examples}
    dev = load_rows(ROOT / "intents/dev/intent_dev_styles.jsonl").examples
    assert len(dev) >= 17 * 5 and {e.intent for e in dev} == set(load_intents_dir(ROOT / "intents").intents)
    assert not [e.text for e in dev if normalize(e.text) in train and len(e.text.split()) > 2]


def test_asr_transcripts_keep_training_and_heldout_apart():
    """Training transcripts voice only training phrases; held-out transcripts only held-out
    phrases; the 'unseen' test voices never voice a training phrase."""
    from voicebot.nlu.dataset import normalize

    train = {normalize(e.text) for e in load_intents_dir(ROOT / "intents").examples}
    heldout = {normalize(e.text) for e in load_rows(ROOT / "intents/test/heldout.jsonl").examples}
    augment = [json.loads(line) for line in (ROOT / "intents/asr_augment.jsonl").read_text().splitlines()]
    assert augment and all(normalize(r["source"]) in train for r in augment)
    unseen = {"espeak:en-gb", "espeak:en-us+f3"}
    assert not {r["voice"].split("/")[0].split("@")[0] for r in augment} & unseen
    for name in ("heldout_asr.jsonl", "heldout_asr_render3.jsonl"):
        rows = [json.loads(line) for line in (ROOT / "intents/test" / name).read_text().splitlines()]
        assert all(normalize(r["source"]) in heldout for r in rows), name
        assert {r["voice"] for r in rows} >= unseen | {"piper", "flite:slt"}, name


def test_list_and_block_examples_with_lines(tmp_path):
    data = load_intents_dir(write(tmp_path, GOOD))
    assert [e.text for e in data.examples] == ["hello", "hi there", "goodbye", "see you"]
    assert data.examples[1].where.endswith("a.yml:7")
    assert data.examples[2].where.endswith("a.yml:10")


@pytest.mark.parametrize(
    "text, line, problem",
    [
        (GOOD + "  - intent: hello_again\n    examples:\n      - Hello!\n", 14, "also under 'greet'"),
        ("intents:\n  - intent: empty\n    examples: []\n", 2, "has no examples"),
        ("intents:\n  - intent: x\n    exemples:\n      - hi\n", 3, "unknown key 'exemples'"),
        ("intents:\n  - intent: x\n    examples:\n      - hi\n     - bad indent\n", 5, "malformed YAML"),
        ("intent: x\n", 1, "unknown key 'intent'"),
        ("intents:\n  - intent: Bad Name\n    examples: [hi]\n", 2, "lower_snake_case"),
    ],
)
def test_bad_yaml_names_file_and_line(tmp_path, text, line, problem):
    with pytest.raises(ConfigError, match=rf"a\.yml:{line}: .*{problem}"):
        load_intents_dir(write(tmp_path, text))


def test_bad_rows_name_file_and_line(tmp_path):
    bad_json = tmp_path / "rows.jsonl"
    bad_json.write_text('{"text": "hi", "intent": "greet"}\n{"text": "oops"\n')
    with pytest.raises(ConfigError, match=r"rows\.jsonl:2: malformed JSON"):
        load_rows(bad_json)
    bad_csv = tmp_path / "rows.csv"
    bad_csv.write_text("phrase,label\nhi,greet\n")
    with pytest.raises(ConfigError, match=r"rows\.csv:1: CSV header"):
        load_rows(bad_csv)
    missing = tmp_path / "m.jsonl"
    missing.write_text('{"text": "hi"}\n')
    with pytest.raises(ConfigError, match=r"m\.jsonl:1: row needs"):
        load_rows(missing)


def test_label_with_too_few_examples(tmp_path):
    rows = tmp_path / "few.jsonl"
    rows.write_text("".join(json.dumps({"text": f"hello {i}", "intent": "greet"}) + "\n" for i in range(6))
                    + json.dumps({"text": "bye", "intent": "bye"}) + "\n")
    with pytest.raises(ConfigError, match=r"few\.jsonl:7: label 'bye' has 1 example"):
        check_counts(load_rows(rows))


def test_cli_bad_inputs_exit_2_with_one_line(tmp_path, monkeypatch, capsys):
    write(tmp_path, "intents:\n  - intent: x\n    exemples: [hi]\n")
    code, err = run_cli(monkeypatch, capsys, "train", "--intents", str(tmp_path), "--out", str(tmp_path / "m"))
    assert code == 2 and "a.yml:3" in err and len(err.strip().splitlines()) == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    code, err = run_cli(monkeypatch, capsys, "train", "--data", str(bad), "--out", str(tmp_path / "m"))
    assert code == 2 and "bad.jsonl:1" in err
    assert not (tmp_path / "m").exists()
    old = tmp_path / "old-model"
    old.mkdir()
    (old / "metadata.json").write_text(json.dumps({"format_version": 0}))
    code, err = run_cli(monkeypatch, capsys, "classify", "hello", "--model", str(old))
    assert code == 2 and "format version 0" in err and "old-model" in err
    code, err = run_cli(monkeypatch, capsys, "eval", "--data", str(tmp_path / "nope.jsonl"))
    assert code == 2 and "nope.jsonl" in err


def test_failed_write_leaves_no_model_directory(tmp_path):
    def fill(tmp: Path) -> None:
        (tmp / "intent.npz").write_bytes(b"partial")
        raise ModelError("disk full")

    with pytest.raises(ModelError):
        model_io.write_model_dir(tmp_path / "m", fill)
    assert list(tmp_path.iterdir()) == []


def test_sound_key_matches_what_sounds_alike():
    from voicebot.nlu.phonetic import sound_key, word_key

    assert word_key("pin") == word_key("pen") and word_key("phone") == word_key("fone")
    assert sound_key("my last 10 transactions") == sound_key("my last ten transactions")
    # split words share the key's tail, so n-grams of the key still match
    assert sound_key("transactions") == "TRNSKXNS"
    assert sound_key("rent actions") == "RNTKXNS" and sound_key("friend actions") == "FRNTKXNS"
    assert sound_key("") == ""
