"""A model's version names the model, not the folder it sits in: the day it was trained and a
digest of what it computes with. The same version is in the call records it classified, the
report and the web console's call page."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np

from flow_support import ALICE_PHONE, BANK, OPEN
from voicebot.flow import CallEngine, load_flow
from voicebot.flow.scripted import said
from voicebot.nlu import model_io
from voicebot.pipeline import Session, Stack
from voicebot.store.kpis import compute_kpis
from voicebot.transports.replay import replay_text
from web_support import logged_in, web_settings, web_store

SHIPPED = Path(__file__).resolve().parents[1] / "models" / "nlu-demo"
VERSION = re.compile(r"^\d{8}-[0-9a-f]{12}$")


def _copy(tmp_path: Path, name: str) -> Path:
    return Path(shutil.copytree(SHIPPED, tmp_path / name))


def test_the_version_follows_the_weights_not_the_folder(tmp_path):
    shipped = model_io.read_metadata(SHIPPED)
    assert VERSION.match(shipped["version"]) and shipped["version"].startswith(shipped["created"][:10].replace("-", "") + "-")
    here, there = _copy(tmp_path, "nlu-demo"), _copy(tmp_path, "my-model-v2")
    assert model_io.version_of(here, model_io.read_metadata(here)) == \
        model_io.version_of(there, model_io.read_metadata(there)) == shipped["version"]

    meta = model_io.read_metadata(there)
    arrays = model_io.load_arrays(there, "intent.npz")
    first = sorted(arrays)[0]
    arrays[first] = arrays[first] * 1.01  # retrained: other weights
    np.savez_compressed(there / "intent.npz", **arrays)
    assert model_io.artefact_digest(there, meta) != meta["artefact_sha256"]

    old = _copy(tmp_path, "folder-name")  # written before versions were digests
    meta = model_io.read_metadata(old)
    meta.pop("artefact_sha256")
    meta["version"] = "folder-name"
    (old / "metadata.json").write_text(json.dumps(meta))
    assert model_io.version_of(old, model_io.read_metadata(old)) == shipped["version"]


class VersionedNlu:
    """Answers the lost-card call; carries the shipped model's version as `Nlu` does."""

    version = model_io.read_metadata(SHIPPED)["version"]
    script = {"I lost my debit card": said("I lost my debit card", "report_lost_card"),
              "no that's all": said("no that's all", "deny", yesno="no")}

    def understand(self, text, alternatives=()):
        return self.script[text]


class VersionedRecognizer:
    """Stands in for the recogniser's identity only: the calls below are typed, never heard."""

    name, version = "whisper", "models/whisper-tiny.en-telephone-0123456789ab"


def test_the_record_the_report_and_the_call_page_show_the_same_version(tmp_path):
    store = web_store(tmp_path)
    engine = CallEngine(load_flow(BANK), store, caller_id=ALICE_PHONE, now=OPEN)
    session = Session(engine, Stack(VersionedRecognizer(), VersionedNlu(), None))
    replay_text(session, ["I lost my debit card", "dtmf:12345678", "dtmf:2468", "no that's all", "dtmf:5"])
    version, asr = VersionedNlu.version, VersionedRecognizer.version
    call_id = engine.record.call_id
    assert engine.record.to_dict()["nlu_model"] == version == store.call(call_id)["nlu_model"]
    assert engine.record.to_dict()["asr_model"] == asr == store.call(call_id)["asr_model"]
    kpis = compute_kpis(store.calls())
    assert kpis["nlu_models"] == {version: 1} and kpis["asr_models"] == {asr: 1}
    c, _ = logged_in(web_settings(store, tmp_path), "maria")
    page = c.get(f"/calls/{call_id}").text
    assert f"NLU model {version}" in page and f"ASR model {asr}" in page


def test_the_asr_version_names_the_directory_and_its_weights(tmp_path):
    import hashlib

    from voicebot.asr.base import asr_version
    from voicebot.asr.whisper_model import TELEPHONE_MODEL_DIR, model_version

    digest = hashlib.sha256((TELEPHONE_MODEL_DIR / "model.bin").read_bytes()).hexdigest()[:12]
    assert model_version(TELEPHONE_MODEL_DIR) == f"models/whisper-tiny.en-telephone-{digest}"
    (tmp_path / "model.bin").write_bytes(b"other weights")
    assert model_version(tmp_path) != model_version(TELEPHONE_MODEL_DIR)
    assert asr_version(None) is None  # a call replayed from text: no recogniser heard it

    class Unversioned:
        name = "pocketsphinx"
    assert asr_version(Unversioned()) == "pocketsphinx"


def test_the_shared_recogniser_names_the_weights_it_loaded():
    """The Stack's recogniser is the batcher around Whisper: both name the directory and digest."""
    from voicebot.asr import get_recognizer
    from voicebot.asr.base import asr_version
    from voicebot.asr.whisper_model import TELEPHONE_MODEL_DIR, model_version
    from voicebot.pipeline.batching import shared_recognizer

    whisper = get_recognizer("whisper")
    assert asr_version(shared_recognizer(whisper)) == asr_version(whisper) == model_version(TELEPHONE_MODEL_DIR)
