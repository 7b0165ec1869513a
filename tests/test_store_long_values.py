"""Values as long as a user's system makes them fit the store on SQLite and PostgreSQL alike: a
voicemail's WAV path under a deep folder (PostgreSQL had refused more than 255 characters in
`tasks.recording`, losing the voicemail's task; SQLite never checks a length)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from flow_support import BANK, start
from pg_support import backend_url, private_cluster
from voicebot.flow import load_flow
from voicebot.flow.scripted import said
from voicebot.store import open_store
from voicebot.store.schema import alembic_config, make_engine
from voicebot.store.sql import SqlStore

pg_cluster = pytest.fixture(scope="module")(private_cluster)
DEEP = "/srv/" + "/".join(f"contact-centre-recordings-{n:02d}" for n in range(12)) + "/voicemail"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    return backend_url(request, tmp_path, "long")


def test_a_voicemail_under_a_deep_folder_keeps_its_task(url):
    path = f"{DEEP}/{'a' * 32}-3.wav"
    assert len(path) > 255
    store = open_store(url)
    engine = start(load_flow(BANK), store)
    engine.offer_voicemail("general")
    engine.handle(said("please call me back about my card", recording=path))
    [task] = store.tasks("voicemail")
    assert task["recording"] == path


def test_a_database_at_0004_keeps_its_voicemails_and_then_takes_long_paths(url):
    from alembic import command

    engine = create_engine(url)
    with engine.connect() as conn:
        command.upgrade(alembic_config(conn), "0004")
        conn.commit()
    engine.dispose()
    old = {"kind": "voicemail", "text": "hi", "recording": "var/voicemail/x-1.wav",
           "created_at": "2026-11-23T10:00:00+00:00"}
    SqlStore(make_engine(url)).add_task(old)  # left by the release before
    store = open_store(url)  # migrates to the head
    store.add_task({**old, "recording": f"{DEEP}/{'b' * 300}.wav"})
    assert [t["recording"] for t in store.tasks("voicemail")] == [old["recording"], f"{DEEP}/{'b' * 300}.wav"]
