"""Customer data never lands where voicebot writes. An authenticated call (the demo customer
12345678, PIN 2468 — spoken, and keyed as DTMF) runs through the live pipeline with its own var
dir, prompt cache, DEBUG log file and SQLite database; then every byte voicebot wrote (call record
JSON, stereo recording, voicemail, database, logs, caches, screen output) is searched for the PIN
and the customer number in every written form, and the stored recording's caller channel is
transcribed to check nobody can hear them back either."""

from __future__ import annotations

import io
import logging
import re
import shutil
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from num2words import num2words
from rich.console import Console

from voicebot.flow import load_flow
from voicebot.pipeline.prompts import POLICY_MARKER, PromptCache, PublicText
from voicebot.speechgen import CLEAN
from secret_support import without_random_hex

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BANK = ROOT / "flows" / "bank.yml"
CUSTOMER, PIN = "12345678", "2468"
WEEKDAY_NOON = datetime(2026, 11, 18, 12, 0, tzinfo=ZoneInfo("America/New_York"))
SPOKEN_AUTH = ["my customer number is one two three four five six seven eight", "two four six eight"]
KEYED_AUTH = [f"dtmf:{CUSTOMER}", f"dtmf:{PIN}"]
DIGIT_WORDS = "zero one two three four five six seven eight nine".split()


def written_forms(number: str) -> set[str]:
    """How a number can be written down: digits plain/spaced/dashed, digit words, number words."""
    words = [DIGIT_WORDS[int(d)] for d in number]
    forms = {number, " ".join(number), "-".join(number), " ".join(words), "-".join(words),
             "".join(words), num2words(int(number)), num2words(int(number)).replace(",", "")}
    if len(number) == 4:
        forms.add(num2words(int(number), to="year"))  # "twenty-four sixty-eight"
    return {f.lower() for f in forms}


SECRETS = {"PIN": written_forms(PIN), "customer number": written_forms(CUSTOMER)}


def leaks(data: bytes) -> list[str]:
    text = without_random_hex(data.decode("latin-1")).lower()
    text_utf16 = without_random_hex(data.decode("utf-16-le", errors="ignore")).lower()  # SQLite may store UTF-16
    return [f"{what} as {form!r}" for what, forms in SECRETS.items() for form in forms
            if form in text or form in text_utf16]


def without_samples(wav: bytes) -> bytes:
    """A WAV's header and metadata chunks (LIST/INFO text could name anyone) without its audio
    samples: PCM bytes spell four given digits by chance, and what the audio says is checked by
    transcribing it instead."""
    out, pos = bytearray(wav[:12]), 12
    while pos + 8 <= len(wav):
        cid, size = wav[pos:pos + 4], int.from_bytes(wav[pos + 4:pos + 8], "little")
        body = wav[pos + 8:pos + 8 + size]
        out += wav[pos:pos + 8] + (b"" if cid == b"data" else body)
        pos += 8 + size + (size & 1)
    return bytes(out)


def db_counts(path: Path) -> dict[str, int]:
    data = path.read_bytes().decode("latin-1").lower()
    return {form: data.count(form) for forms in SECRETS.values() for form in forms}


def seeded_db(url: str):
    """The bank's customer master with the demo customers (the only place their number may be)."""
    from voicebot.store import open_store

    store = open_store(url)
    if store.get_customer(CUSTOMER) is None:  # a build where opening a store no longer seeds
        from sqlalchemy.orm import Session

        from voicebot.store.seed import seed_demo

        with Session(store.engine) as session:
            seed_demo(session)
            session.commit()
    store.engine.dispose()


def make_sandbox(tmp_path: Path, monkeypatch) -> Path:
    """A working directory (var/ lands here), its own cache (prompts start with only the flow's
    public sentences copied in; the read-only model exports are linked)."""
    shared = Path(__import__("voicebot.cache", fromlist=["cache_dir"]).cache_dir("prompts")).parent
    flow = load_flow(BANK)
    public = PublicText.of_flow(flow)
    seed = PromptCache("piper", 16000, directory=shared / "prompts")
    cache = tmp_path / "cache"
    (cache / "prompts").mkdir(parents=True)
    (cache / "prompts" / POLICY_MARKER).touch()
    for sentence in public.fixed:
        src = seed._path(sentence)
        if src.exists():
            shutil.copy(src, cache / "prompts" / src.name)
    for name in ("onnx", "embeddings"):
        (shared / name).mkdir(exist_ok=True)
        (cache / name).symlink_to(shared / name, target_is_directory=True)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("VOICEBOT_CACHE", str(cache))
    return tmp_path


@contextmanager
def debug_log(path: Path):
    """Every logger at DEBUG into `path` (opened once the caller's test audio is rendered: the
    test's own speech synthesis of the PIN is not something voicebot writes during a call)."""
    handler = logging.FileHandler(path)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()


def run_call(sandbox: Path, turns: list[str]):
    from voicebot.cli.calls import _finish, _printer, open_call
    from voicebot.pipeline import Session
    from voicebot.transports.replay import replay_audio

    url = f"sqlite:///{sandbox / 'work' / 'calls.db'}"
    seeded_db(url)
    before = db_counts(sandbox / "work" / "calls.db")
    with debug_log(sandbox / "voicebot.log"):
        engine, stack = open_call(BANK, caller_id=None, at=WEEKDAY_NOON, asr="whisper", tts="piper", db=url)
        screen = io.StringIO()  # what the user sees is written somewhere too: keep and search it
        shown = _printer(engine, Console(file=screen, width=200))
        session = Session(engine, stack, listener=shown, voicemail_dir=Path("var/voicemail"))
        replay_audio(session, turns, patience=2)  # a person repeats a turn the bot did not get
        with redirect_stdout(io.StringIO()) as out, redirect_stderr(io.StringIO()) as err:
            _finish(session, "var/record.json", Path("var/calls"))
    (sandbox / "screen.txt").write_text(screen.getvalue() + out.getvalue() + err.getvalue())
    engine.store.engine.dispose()
    return session, before


def scan(sandbox: Path, db_before: dict[str, int]) -> list[str]:
    found = []
    db = sandbox / "work" / "calls.db"
    for path in sorted(sandbox.rglob("*")):
        if not path.is_file() or path.is_symlink() or any(p.is_symlink() for p in path.parents):
            continue
        if path == db:
            continue
        data = path.read_bytes()
        if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
            data = without_samples(data)
        found += [f"{path.relative_to(sandbox)}: {leak}" for leak in leaks(data)]
    after = db_counts(db)  # the customer master holds the number; nothing the call wrote may add one
    found += [f"calls.db: {form!r} {db_before[form]} -> {n} times" for form, n in after.items()
              if n > db_before[form]]
    return found


def call_tables(db: Path) -> bytes:
    import sqlite3

    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("select name from sqlite_master where type='table'")]
        rows = [repr(row) for t in tables if t not in ("customers", "cards", "transactions")
                for row in conn.execute(f'select * from "{t}"')]
    return "\n".join(rows).encode()


class Call:
    def __init__(self, way: str, sandbox: Path, session, db_before: dict[str, int]) -> None:
        self.way, self.sandbox, self.session, self.db_before = way, sandbox, session, db_before


@pytest.fixture(scope="module", params=["speech", "dtmf"])
def authenticated_call(request, speak, tmp_path_factory) -> Call:
    """One balance call per way of giving the ID and PIN, run once and inspected by every test."""
    auth = SPOKEN_AUTH if request.param == "speech" else KEYED_AUTH
    turns = ["I'd like to check my account balance please", *auth, "no thanks", "four"]
    paths = [t if t.startswith("dtmf:") else str(speak(t, "piper", CLEAN)) for t in turns]
    with pytest.MonkeyPatch.context() as monkeypatch:
        sandbox = make_sandbox(tmp_path_factory.mktemp(request.param), monkeypatch)
        session, before = run_call(sandbox, paths)
    return Call(request.param, sandbox, session, before)


def test_nothing_written_holds_the_pin_or_customer_number(authenticated_call):
    sandbox, session = authenticated_call.sandbox, authenticated_call.session
    assert session.engine.record.authenticated is True  # the call really heard (or got) both secrets
    written = [p for p in sandbox.rglob("*") if p.is_file()]
    assert any(p.name == "record.json" for p in written) and any(p.suffix == ".wav" for p in written)
    assert (sandbox / "voicebot.log").stat().st_size > 0 and (sandbox / "screen.txt").stat().st_size > 0
    assert scan(sandbox, authenticated_call.db_before) == []
    assert leaks(call_tables(sandbox / "work" / "calls.db")) == []


def test_personal_prompts_never_reach_the_prompt_cache(authenticated_call):
    from voicebot.events import Prompt
    from voicebot.tts.base import sentences

    session = authenticated_call.session
    prompts = session.stack.prompts
    assert prompts.private > 0  # personal sentences were synthesized and dropped
    spoken = [s for e in session.events if isinstance(e, Prompt) for s in sentences(e.text)]
    personal = [s for s in spoken if "Alice" in s or "balance is" in s]
    assert len(personal) >= 2, spoken  # the call did greet by name and read the balance
    cached = {p.name for p in (authenticated_call.sandbox / "cache" / "prompts").iterdir()}
    assert not [s for s in personal if prompts._path(s).name in cached]
    assert [s for s in spoken if s not in personal and prompts._path(s).name in cached]  # others are


def test_stored_recording_does_not_let_anyone_hear_the_secrets(authenticated_call):
    from voicebot.asr.base import get_recognizer
    from voicebot.audio import Audio, read_wav
    from voicebot.flow.speech import digits_in
    from voicebot.vad import split_utterances

    if authenticated_call.way == "dtmf":
        pytest.skip("a replay's keyed digits are events, not audio on the caller channel")
    (wav,) = (authenticated_call.sandbox / "work" / "var" / "calls").glob("*.wav")
    stereo = read_wav(wav)
    caller = Audio(stereo.samples[:, 0].copy(), stereo.rate)  # caller left, bot right
    recognizer = get_recognizer("whisper")
    heard = " ".join(recognizer.transcribe(u.audio).text for u in split_utterances(caller.canonical()))
    assert "balance" in heard.lower()  # the rest of the caller's side is still there
    digits = digits_in(heard)
    words = re.sub(r"[^a-z ]", " ", heard.lower())
    assert PIN not in digits and CUSTOMER not in digits and "four six" not in words, heard
