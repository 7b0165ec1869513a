"""Bad input a user can hand voicebot: a corpus of broken WAVs and broken flows. Each gets one line
naming the file and the problem, exit code 2, no traceback, and nothing half-written; a WAV that
is unusual but sound (stereo 48 kHz float) simply works."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicebot.audio import read_wav, write_wav
from voicebot.errors import AudioError, ConfigError
from voicebot.flow import load_flow

ROOT = Path(__file__).resolve().parents[1]
TONE = (np.sin(np.arange(3200) * 2 * np.pi * 440 / 16000) * 8000).astype("<i2").tobytes()


def riff(*, tag=1, channels=1, rate=16000, bits=16, data=TONE, data_size=None, riff_size=None,
         block=None, cut=None, fmt_extra=b"") -> bytes:
    """A WAV built byte by byte, so each header field can lie on its own."""
    block = channels * bits // 8 if block is None else block
    fmt = struct.pack("<HHIIHH", tag, channels, rate, (rate * block) & 0xFFFFFFFF, block, bits) + fmt_extra
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data"
            + struct.pack("<I", len(data) if data_size is None else data_size) + data)
    out = b"RIFF" + struct.pack("<I", len(body) if riff_size is None else riff_size) + body
    return out[:cut] if cut else out


# name → (bytes, what the one-line error must say)
BROKEN = {
    "bits3.wav": (riff(bits=3), "3 bits per sample"),
    "bits0.wav": (riff(bits=0), "0 bits per sample"),
    "float16.wav": (riff(tag=3, bits=16), "16 bits per sample"),
    "cut_in_fmt.wav": (riff(cut=30), "cut short"),
    "cut_before_data.wav": (riff(cut=36), "cut short"),
    "cut_in_data_header.wav": (riff(cut=40), "cut short"),
    "zero_frames.wav": (riff(data=b""), "no audio samples"),
    "claims_1GB.wav": (riff(data_size=1 << 30), "claims 1.0 GB"),
    "data_claims_double.wav": (riff(data_size=2 * len(TONE)), "truncated, or the header lies"),
    "block_align_lies.wav": (riff(block=7), "inconsistent"),
    "codec_unknown.wav": (riff(tag=0x1234), "unsupported WAV encoding unknown (format tag 0x1234)"),
    "codec_mp3.wav": (riff(tag=0x55), "unsupported WAV encoding MP3"),
    "extensible_unknown.wav": (riff(tag=0xFFFE, fmt_extra=struct.pack("<HHIH", 22, 16, 4, 0x77) + b"\0" * 14),
                               "format tag 0x0077"),
    "rate0.wav": (riff(rate=0), "sample rate of 0 Hz"),
    "channels0.wav": (riff(channels=0, block=0), "0 channels"),
    "not_riff.wav": (b"ID3\x04" + b"\0" * 60, "not a WAV file"),
    "empty.wav": (b"", "empty file"),
}


@pytest.fixture(scope="module")
def broken_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("broken_wavs")
    for name, (content, _problem) in BROKEN.items():
        (folder / name).write_bytes(content)
    return folder


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_each_broken_wav_is_one_named_error(broken_dir, name):
    path = broken_dir / name
    with pytest.raises(AudioError) as err:
        read_wav(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and BROKEN[name][1] in message
    assert "\n" not in message


def test_sizes_that_lie_harmlessly_still_read(tmp_path):
    """A RIFF size that is wrong (many writers get it wrong) or a streaming writer's 0xFFFFFFFF data
    size does not stop a sound file: the samples are all there."""
    for name, content in {"riff_big.wav": riff(riff_size=0xFFFFFFF0), "riff_small.wav": riff(riff_size=10),
                          "streamed.wav": riff(data_size=0xFFFFFFFF)}.items():
        audio = read_wav(tmp_path / name if (tmp_path / name).write_bytes(content) else None)
        assert audio.num_samples == 3200 and audio.rate == 16000, name
        assert np.array_equal(audio.samples, np.frombuffer(TONE, "<i2")), name


def test_stereo_48k_float_is_downmixed_and_resampled(tmp_path, speak):
    mono = read_wav(speak("I lost my card", "flite:slt")).canonical()
    wide = mono.resample(48000).to_float()
    path = tmp_path / "stereo48k_float.wav"
    sf.write(path, np.stack([wide, wide * 0.5], axis=1), 48000, subtype="FLOAT")
    audio = read_wav(path)
    assert (audio.rate, audio.channels) == (48000, 2)
    back = audio.canonical()
    assert (back.rate, back.channels) == (16000, 1)
    n = min(back.num_samples, mono.num_samples)
    a, b = back.to_float()[:n], mono.to_float()[:n]
    corr = float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)))
    assert corr > 0.99  # the same speech at 0.75 of the level (the downmix of 1.0 and 0.5)
    assert 0.7 < np.abs(a).sum() / np.abs(b).sum() < 0.8


def test_write_wav_never_leaves_half_a_file(tmp_path, monkeypatch):
    target = tmp_path / "out.wav"
    audio = read_wav(tmp_path / "t.wav" if (tmp_path / "t.wav").write_bytes(riff()) else None)

    def dies(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sf, "write", dies)
    with pytest.raises(OSError):
        write_wav(target, audio)
    assert list(tmp_path.iterdir()) == [tmp_path / "t.wav"]  # neither out.wav nor a temp file


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voicebot", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env=_env())


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.mark.slow  # loads the recogniser in a fresh process
def test_transcribe_cli_reports_every_broken_wav_on_one_line(broken_dir, tmp_path):
    files = sorted(str(p) for p in broken_dir.iterdir())
    res = _cli("transcribe", *files, "--json", cwd=tmp_path)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == len(files)
    for path in files:
        assert sum(path in line for line in errors) == 1
    assert list(tmp_path.iterdir()) == []  # nothing written where it ran


@pytest.mark.slow
def test_replay_of_a_broken_wav_writes_nothing(broken_dir, tmp_path):
    record = tmp_path / "call.json"
    res = _cli("replay", str(broken_dir / "bits3.wav"), "--json", str(record), "--tts", "none",
               "--db", f"sqlite:///{tmp_path / 'calls.db'}", "--audio-out", str(tmp_path / "calls"),
               cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().count("\n") == 0 and "bits3.wav" in res.stderr
    assert list(tmp_path.iterdir()) == []  # no record, database, recording or var/


# ---- flows ----------------------------------------------------------------------------------
GOOD_FLOW = (ROOT / "flows" / "bank.yml").read_text(encoding="utf-8")


def _latin1_flow() -> bytes:
    """bank.yml with one word saved in Latin-1 (an é as byte 0xe9), as an editor might."""
    return GOOD_FLOW.encode("utf-8").replace(b"Demo Bank", b"D\xe9mo Bank", 1)


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def _broken_flow(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    assert old in GOOD_FLOW
    text = GOOD_FLOW.replace(old, new, 1)
    path = tmp_path / "flow.yml"
    path.write_text(text, encoding="utf-8")
    return path, _line_of(text, new.strip().splitlines()[0])


def test_flow_not_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "latin1.yml"
    path.write_bytes(_latin1_flow())
    with pytest.raises(ConfigError) as err:
        load_flow(path)
    line = _line_of(GOOD_FLOW, "Demo Bank")
    assert str(err.value).startswith(f"{path}:{line}: not UTF-8 text (byte 0xe9)")


@pytest.mark.parametrize("content, line, says", [
    (b"intents:\n  - intent: caf\xe9\n    examples: [a, b]\n", 2, "not UTF-8 text (byte 0xe9)"),  # was line 1
    (b"intents:\n  - intent: a\x00\n", 2, "control characters are not allowed"),
])
def test_intent_file_errors_name_their_line(tmp_path, content, line, says):
    from voicebot.intents import load_intents_dir

    (tmp_path / "a.yml").write_bytes(content)
    with pytest.raises(ConfigError) as err:
        load_intents_dir(tmp_path)
    assert str(err.value).startswith(f"{tmp_path / 'a.yml'}:{line}: ") and says in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_template_variable_fails_at_load(tmp_path):
    path, line = _broken_flow(tmp_path, "Your available balance is {balance}",
                              "Your available balance is {balanse}")
    with pytest.raises(ConfigError) as err:
        load_flow(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:{line}: states.balance.say: unknown variable {{balanse}}")
    assert "did you mean 'balance'" in msg


@pytest.mark.parametrize("old, new, where", [
    ('  system_unavailable: "', '  transfer: "Connecting you to {queu}."\n  system_unavailable: "', "transfer: unknown variable {queu}"),
    # spoken as written: the database is down, nothing fills a {queue} in
    ("I can't reach our account system right now.", "I can't reach {queue} right now.",
     "system_unavailable: unknown variable {queue}")])
def test_unknown_variable_in_a_message_fails_at_load(tmp_path, old, new, where):
    path, line = _broken_flow(tmp_path, old, new)
    with pytest.raises(ConfigError) as err:
        load_flow(path)
    assert str(err.value).startswith(f"{path}:{line}: messages.{where}")


def test_broken_braces_fail_at_load(tmp_path):
    path, line = _broken_flow(tmp_path, "Your available balance is {balance}",
                              "Your available balance is {balance")
    with pytest.raises(ConfigError, match=rf"flow.yml:{line}: states.balance.say: .*literal braces"):
        load_flow(path)


def test_unknown_intent_under_requests_fails_at_load(tmp_path):
    path, line = _broken_flow(tmp_path, "  check_balance: balance\n", "  check_balanse: balance\n")
    with pytest.raises(ConfigError) as err:
        load_flow(path)
    assert str(err.value).startswith(f"{path}:{line}: requests.check_balanse: unknown intent "
                                     "'check_balanse' (did you mean 'check_balance'?)")


def test_intents_can_be_given_by_the_caller():
    """A flow for a custom model is checked against that model's labels."""
    with pytest.raises(ConfigError, match="requests.check_balance: unknown intent"):
        load_flow(ROOT / "flows" / "bank.yml", intents={"goodbye"})


# Flows that load but would stop a call mid-way (a traceback in the log and the call recorded as
# abandoned), or silently misbehave: each is refused at load with its line.
_TAIL = "  b: {say: bye, hangup: true}\n"
BAD_FLOWS = {
    "yes_leads_nowhere": ("  a: {ask: ok?, expect: yesno, on: {yess: b, no: b}}\n" + _TAIL, 4, "the answer 'yes' leads nowhere"),
    "key_not_a_choice": ("  a: {ask: pick, expect: choice, choices: [red], dtmf: {'1': green}, on: {red: b}}\n" + _TAIL,
                         4, "the answer 'green' leads nowhere"),
    "key_not_a_key": ("  a:\n    ask: ok?\n    expect: yesno\n    dtmf: {x: 'yes'}\n    next: b\n" + _TAIL, 7,
                      "dtmf key 'x' is not a phone key"),
    "yesno_key_means_neither": ("  a: {ask: ok?, expect: yesno, dtmf: {'1': yep}, next: b}\n" + _TAIL, 4, "not 'yep'"),
    "loop_without_asking": ("  a: {say: hi, next: c}\n  c: {say: again, next: a}\n", 4,
                            "loop without asking the caller anything: a → c → a"),
    "negative_timeout": ("  a: {ask: ok?, expect: yesno, no_input_timeout: -5, next: b}\n" + _TAIL, 4,
                         "states.a.no_input_timeout: Input should be greater than 0"),
    "digits_length_0": ("  a: {ask: number?, expect: digits, length: 0, next: b}\n" + _TAIL, 4,
                        "states.a.length: Input should be greater than or equal to 1"),
    "not_a_date": ("  a: {say: hi, hangup: true}\nhours: {main: {holidays: [2026-13-45]}}\n", 5,
                   "hours.main.holidays.0: Input should be a valid date"),
    "queue_name_too_long": ("  a: {say: hi, hangup: true}\nqueues:\n  " + "q" * 33 + ": {}\n", 6,
                            "queue name 'qqqq"),
    "agent_name_too_long": ("  a: {say: hi, hangup: true}\nagents:\n  - {name: " + "n" * 65 + "}\n", 6,
                            "is longer than 64 characters"),
    "webhook_not_a_url": ("  a: {say: hi, hangup: true}\ncrm_webhook: crm.example.com/calls\n", 5,
                          "expected an http:// or https:// URL"),
    "control_character": ("  a: {say: \"hi\x00\", hangup: true}\n", 4, "control characters are not allowed"),
}


@pytest.mark.parametrize("name", sorted(BAD_FLOWS))
def test_flow_that_would_break_a_call_fails_at_load(tmp_path, name):
    body, line, says = BAD_FLOWS[name]
    path = tmp_path / f"{name}.yml"
    path.write_text("name: t\nstart: a\nstates:\n" + body, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_flow(path, intents=())
    message = str(err.value)
    assert message.startswith(f"{path}:{line}: ") and says in message and "\n" not in message, message


@pytest.mark.parametrize("setting, value, says", [
    ("settings.low_confidence", "5.5", "less than or equal to 1"),
    ("escalation.max_failures", "0", "greater than or equal to 1"),
    ("authentication.pin_length", "-4", "greater than or equal to 1"),
])
def test_settings_out_of_range_fail_at_load(tmp_path, setting, value, says):
    section, key = setting.split(".")
    text = GOOD_FLOW.replace(f"\n{section}:\n", f"\n{section}:\n  {key}: {value}\n", 1)
    text = text.replace(f"  {key}: ", f"  #{key}: ", 2).replace(f"  #{key}: {value}", f"  {key}: {value}", 1)
    path = tmp_path / "flow.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_flow(path)
    assert str(err.value).startswith(f"{path}:{_line_of(text, f'  {key}: {value}')}: {setting}: ") and says in str(err.value)


@pytest.mark.slow
def test_replay_with_a_broken_flow_is_one_line_and_writes_nothing(tmp_path):
    path = tmp_path / "flow.yml"
    path.write_bytes(_latin1_flow())
    res = _cli("replay", "--text", "hello", "--flow", str(path), "--json", str(tmp_path / "r.json"),
               "--db", f"sqlite:///{tmp_path / 'calls.db'}", cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().count("\n") == 0 and "not UTF-8" in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flow.yml"]


@pytest.mark.slow  # runs the recogniser
def test_transcribe_cli_takes_stereo_48k_float_as_it_is(tmp_path, speak):
    from typer.testing import CliRunner

    from voicebot.cli import _load_commands
    from voicebot.cli.app import app

    mono = read_wav(speak("I lost my card", "flite:slt")).canonical().resample(48000).to_float()
    path = tmp_path / "stereo48k_float.wav"
    sf.write(path, np.stack([mono, mono], axis=1), 48000, subtype="FLOAT")
    _load_commands()
    res = CliRunner().invoke(app, ["transcribe", str(path), "--json"])
    assert res.exit_code == 0, res.output
    [row] = __import__("json").loads(res.stdout)
    assert row["error"] is None and row["text"].strip() and abs(row["duration"] - len(mono) / 48000) < 0.01
