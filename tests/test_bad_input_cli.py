"""An operator's mistakes on the command line: a database URL with a typo, a server that is down,
a path that is a folder or not there, an output path that cannot be written, a bad environment
value, a port already taken. Each is one line naming what is wrong and where, exit code 2, no
traceback, nothing left half-written (test_bad_input.py covers broken WAVs and flows)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def voicebot(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
             ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voicebot", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def one_error_line(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    return lines[0]


# ---- databases ------------------------------------------------------------------------------
@pytest.mark.parametrize("url, says", [
    ("garbage://x", "unknown kind 'garbage'"),
    ("postgresql+psycopg://clerk:s3cret@127.0.0.1:1/voicebot", "Connection refused"),
    ("sqlite:////nonexistent-dir/x.db", "unable to open database file"),
])
def test_a_database_that_cannot_be_opened_is_named_without_its_password(tmp_path, url, says):
    for command in (["report"], ["db", "upgrade"], ["agents", "list"]):
        line = one_error_line(voicebot(*command, "--db", url, cwd=tmp_path))
        assert "database " in line and says in line, line
        assert "s3cret" not in line
    assert list(tmp_path.iterdir()) == []


def test_a_database_server_that_never_answers_is_given_up_on(tmp_path):
    """A port that accepts the connection and then says nothing (a server hung, or a network that
    drops its replies): the connection attempt ends after the connect timeout, with one line; the
    command had waited for ever (a call's write for the OS's TCP timeout, minutes)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # the kernel completes the handshake; nobody ever answers
        url = f"postgresql+psycopg://clerk:s3cret@127.0.0.1:{silent.getsockname()[1]}/voicebot"
        line = one_error_line(voicebot("db", "upgrade", "--db", url, cwd=tmp_path, timeout=120))
    assert "timeout expired" in line and "s3cret" not in line


def test_a_folder_or_a_file_that_is_no_database(tmp_path):
    (tmp_path / "notes.txt").write_text("not a database\n" * 100)
    assert "is a directory" in one_error_line(voicebot("report", "--db", str(tmp_path), cwd=tmp_path))
    line = one_error_line(voicebot("report", "--db", str(tmp_path / "notes.txt"), cwd=tmp_path))
    assert "notes.txt" in line and "not a database" in line
    line = one_error_line(voicebot("db", "init", "--db", str(tmp_path / "notes.txt" / "x.db"), cwd=tmp_path))
    assert "notes.txt" in line and "a file is in the way" in line


def test_report_on_a_mistyped_path_says_so_instead_of_reporting_zero_calls(tmp_path):
    line = one_error_line(voicebot("report", "--db", str(tmp_path / "typo" / "voicebot.db"), cwd=tmp_path))
    assert "typo/voicebot.db: no such file" in line
    assert list(tmp_path.iterdir()) == []  # neither the folder nor an empty database was made


def test_db_init_never_prints_the_password(tmp_path):
    from voicebot.store import shown_url

    assert shown_url("postgresql+psycopg://clerk:s3cret@db.example/voicebot") == \
        "postgresql+psycopg://clerk:***@db.example/voicebot"


# ---- outputs --------------------------------------------------------------------------------
@pytest.mark.parametrize("option, target, says", [
    ("--json", "calls", "is a folder; give a file name"),
    ("--json", "notes.txt/call.json", "notes.txt is a file, not a folder"),
    ("--audio-out", "notes.txt", "is a file; give a folder"),
    ("--audio-out", "notes.txt/calls", "notes.txt is a file, not a folder"),
])
def test_replay_output_that_cannot_be_written_fails_before_the_call(tmp_path, option, target, says):
    """Found at the start, not after the call has run (the record had been lost to a traceback)."""
    (tmp_path / "calls").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    res = voicebot("replay", "--text", "hello", "--tts", "none", "--db", str(tmp_path / "v.db"),
                   option, str(tmp_path / target), cwd=tmp_path)
    line = one_error_line(res)
    assert line.startswith(f"error: {option} {tmp_path / target}: ") and says in line
    assert res.stdout == ""  # no call was played
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calls", "notes.txt"]


def test_bench_out_under_a_file_fails_before_measuring(tmp_path):
    """It had measured for minutes and then failed to save (a traceback)."""
    (tmp_path / "notes.txt").write_text("x")
    line = one_error_line(voicebot("bench", "--quick", "--out", str(tmp_path / "notes.txt" / "b"), cwd=tmp_path))
    assert line == f"error: --out {tmp_path / 'notes.txt' / 'b'}: {tmp_path / 'notes.txt'} is a file, not a folder"


def test_replay_record_goes_into_a_new_folder(tmp_path):
    res = voicebot("replay", "--text", "hello", "--tts", "none", "--db", str(tmp_path / "v.db"),
                   "--json", str(tmp_path / "out" / "call.json"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "out" / "call.json").is_file()


def test_train_out_under_a_file_is_a_model_error(tmp_path):
    from voicebot.errors import ModelError
    from voicebot.nlu.model_io import write_model_dir

    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ModelError, match=r"notes.txt/model: cannot create the model directory \(a file is in the way\)"):
        write_model_dir(tmp_path / "notes.txt" / "model", lambda d: None)


# ---- ports ----------------------------------------------------------------------------------
def test_serve_on_a_port_already_taken_says_so_before_it_says_ready(tmp_path):
    """The console had printed its address and "ready", then uvicorn's own error and exit code 3;
    a taken SIP port had been a traceback after the models loaded."""
    tcp = socket.create_server(("127.0.0.1", 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    try:
        for option, port in (("--http", tcp.getsockname()[1]), ("--sip", udp.getsockname()[1])):
            res = voicebot("serve", option, f"127.0.0.1:{port}", "--db", str(tmp_path / "v.db"), cwd=tmp_path)
            assert one_error_line(res) == f"error: {option} 127.0.0.1:{port}: cannot listen there: Address already in use"
            assert res.stdout == ""
    finally:
        tcp.close()
        udp.close()


# ---- small options --------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ("agents", "set", "maria", "busy", "--minutes", "-5"),  # had been "busy until" a time already past
    ("serve", "--sip", "127.0.0.1:0", "--max-calls", "0"),  # had answered every call 503
    ("serve", "--sip", "127.0.0.1:0", "--max-decode-queue", "-1"),
    ("serve", "--sip", "127.0.0.1:5999", "--advertise", "my host"),  # had gone into every SDP answer
    ("call", "--echo", "bogus"),  # had been found only after the models loaded
    ("call", "--max-seconds", "-5"),
])
def test_numbers_no_one_means_are_refused(tmp_path, args):
    res = voicebot(*args, "--db", str(tmp_path / "v.db"), cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr and args[-2] in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_folder_given_as_data_file_is_called_a_folder(tmp_path):
    from voicebot.errors import ConfigError
    from voicebot.nlu.dataset import load_rows

    with pytest.raises(ConfigError, match=f"^{tmp_path}: a folder, not a data file$"):
        load_rows(tmp_path)


@pytest.mark.parametrize("value", ["digits:0", "digits:abc", "yesno:2", "numbers"])
def test_transcribe_expect_that_no_prompt_has_is_refused(value):
    """digits:0 had been taken: every answer then recognised as nothing."""
    from voicebot.cli.transcribe import parse_expect
    from voicebot.errors import ConfigError

    with pytest.raises(ConfigError, match=f"--expect '{value}': use digits:N"):
        parse_expect(value)


def test_eval_names_labels_the_model_does_not_know(tmp_path):
    """A typo in a label ("check_balanse") had only lowered the scores, silently."""
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"text": "what is my balance", "intent": "check_balanse"}\n'
                    '{"text": "I lost my card", "intent": "report_lost_card"}\n')
    res = voicebot("eval", "--data", str(rows), cwd=tmp_path)
    assert res.returncode == 0 and "Traceback" not in res.stderr
    assert "warning: intents the model does not know, every such row counted wrong: check_balanse" in res.stderr


def test_an_error_naming_a_path_with_brackets_prints_it_as_it_is(tmp_path):
    """Error lines are Rich markup: "[/x]" in a path had been read as a closing tag (MarkupError)."""
    odd = tmp_path / "[" / "x]" / "v.db"
    line = one_error_line(voicebot("report", "--db", str(odd), cwd=tmp_path))
    assert line.startswith(f"error: database {odd}: no such file")


@pytest.mark.parametrize("turn", ["dtmf:abc", "dtmf:", "dtmf:12 34"])
def test_keys_no_phone_has_are_refused_before_the_call(tmp_path, turn):
    """They had been sent as keys: the call went on as if the caller pressed nothing."""
    for text in (["--text"], []):
        line = one_error_line(voicebot("replay", *text, turn, "--tts", "none", "--db", str(tmp_path / "v.db"), cwd=tmp_path))
        assert line == f"error: {turn!r}: a phone's keys are 0-9, * and # (e.g. dtmf:1234)"
    assert list(tmp_path.iterdir()) == []


def test_a_caller_id_longer_than_the_record_holds_is_refused(tmp_path):
    """A 49-character caller ID had lost the call's record on PostgreSQL (varchar(32))."""
    line = one_error_line(voicebot("replay", "--text", "hi", "--caller-id", "9" * 49, "--tts", "none",
                                   "--db", str(tmp_path / "v.db"), cwd=tmp_path))
    assert line == "error: --caller-id: 49 characters; a call record holds at most 32"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["", "   ", "u" * 65])
def test_a_user_name_the_database_cannot_hold_is_refused(tmp_path, name):
    from voicebot.errors import VoicebotError
    from voicebot.store import open_store

    with pytest.raises(VoicebotError, match="user name: 1 to 64 characters"):
        open_store(str(tmp_path / "v.db")).add_user(name, "agent", "correct horse battery")


@pytest.mark.parametrize("weights", ["intent.npz", "sentiment.npz"])
def test_a_model_with_cut_weights_is_a_model_error_naming_the_file(tmp_path, weights):
    """A cut .npz had been a zipfile.BadZipFile traceback."""
    import shutil

    from voicebot.errors import ModelError
    from voicebot.nlu import load_model

    model = tmp_path / "model"
    shutil.copytree(ROOT / "models" / "nlu-demo", model)
    (model / weights).write_bytes((model / weights).read_bytes()[:100])
    with pytest.raises(ModelError, match=f"^{model / weights}: cannot read model weights"):
        load_model(model)


# ---- secret keys ----------------------------------------------------------------------------
def test_a_web_key_that_is_a_folder_empty_or_short_is_refused(tmp_path, monkeypatch):
    """A folder at var/web.secret had been a traceback; an empty file (`touch`) or a one-letter
    $VOICEBOT_WEB_SECRET had been taken as the key every session cookie is signed with."""
    from voicebot.errors import ConfigError
    from voicebot.web.settings import load_secret

    monkeypatch.delenv("VOICEBOT_WEB_SECRET", raising=False)
    (tmp_path / "folder.secret").mkdir()
    with pytest.raises(ConfigError, match=r"folder.secret: cannot keep the secret key there \(Is a directory\)$"):
        load_secret(tmp_path / "folder.secret")
    (tmp_path / "empty.secret").write_text("")
    with pytest.raises(ConfigError, match=r"empty.secret: the session signing key needs at least 16 characters \(has 0\)"):
        load_secret(tmp_path / "empty.secret")
    monkeypatch.setenv("VOICEBOT_WEB_SECRET", "x")
    with pytest.raises(ConfigError, match=r"^\$VOICEBOT_WEB_SECRET: .* \(has 1\)$"):
        load_secret(tmp_path / "unused.secret")
    monkeypatch.delenv("VOICEBOT_WEB_SECRET")
    assert len(load_secret(tmp_path / "new.secret")) >= 16  # made once, kept
    assert load_secret(tmp_path / "new.secret") == (tmp_path / "new.secret").read_text().strip()


def test_a_read_only_database_is_said_before_the_call(tmp_path):
    """The first write (a worker's registration, an agent's status, the demo customers) had been a
    traceback."""
    assert voicebot("db", "init", "--db", str(tmp_path / "v.db"), cwd=tmp_path).returncode == 0
    url = f"sqlite:///file:{tmp_path / 'v.db'}?mode=ro&uri=true"
    for command in (["replay", "--text", "hello", "--tts", "none"], ["agents", "set", "maria", "busy"],
                    ["users", "remove", "ghost"], ["db", "init", "--demo"]):
        line = one_error_line(voicebot(*command, "--db", url, cwd=tmp_path))
        assert line == f"error: database {url}: cannot use it: attempt to write a readonly database", command


@pytest.mark.parametrize("loader, line", [
    ("voicebot.nlu.dataset:load_rows", '{"text": "hi", "intent": ["check_balance"]}'),
    ("voicebot.nlu.dataset:load_rows", '{"text": 5, "intent": "check_balance"}'),
    ("voicebot.cli.transcribe:read_manifest", '{"file": "a.wav", "text": 5}'),
    ("voicebot.nlu.audio_eval:load_manifest", '{"file": 5, "intent": "check_balance"}'),
])
def test_a_field_that_must_be_text_and_is_not_names_its_line(tmp_path, loader, line):
    """A list or number there had been used as text (a label "['check_balance']" counted wrong,
    5 taken as the reference "5") or had been a TypeError traceback (a number as a file)."""
    import importlib

    from voicebot.errors import ConfigError

    module, name = loader.split(":")
    path = tmp_path / "rows.jsonl"
    path.write_text('{"text": "fine", "intent": "check_balance", "file": "a.wav"}\n' + line + "\n")
    (tmp_path / "a.wav").write_bytes(b"")
    with pytest.raises(ConfigError, match=rf"^{path}:2: '\w+' must be text, not "):
        getattr(importlib.import_module(module), name)(path)
