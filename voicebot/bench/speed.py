"""ASR and NLU speed and accuracy on the project's own held-out audio and text, each beside its
baseline measured in the same run:

- ASR: the project's Whisper path (utterance-length window, noise suppression, domain prompt) vs
  the packaged faster-whisper `WhisperModel.transcribe` on the same CTranslate2 tiny.en model with
  its defaults (30 s window, beam 5), and the other registered backends for WER;
- NLU: the trained model (`Nlu.understand`) vs keyword matching (keywords.py)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from voicebot.bench.keywords import KeywordClassifier

ROOT = Path(__file__).resolve().parents[2]
HELDOUT = ROOT / "intents" / "test" / "heldout.jsonl"
HELDOUT_ASR = ROOT / "intents" / "test" / "heldout_asr.jsonl"


class PackagedWhisper:
    """faster-whisper as shipped: `WhisperModel(...).transcribe(audio)` with its defaults."""

    name = "faster-whisper (packaged defaults)"

    def __init__(self) -> None:
        from faster_whisper import WhisperModel

        from voicebot.asr.whisper import default_model_dir

        self.model = WhisperModel(str(default_model_dir()), device="cpu", compute_type="int8")

    def text(self, audio) -> str:
        segments, _ = self.model.transcribe(audio.canonical().to_float(), language="en")
        return " ".join(s.text.strip() for s in segments).strip()


def _rows(path: Path, every: int = 1) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows[::every]


def asr(utterances, backends: list[str], baseline: bool = True) -> dict:
    """WER and RTF per backend on `utterances` (voicebot.asr.testsets.Utterance)."""
    from voicebot.asr.base import Hints, get_recognizer
    from voicebot.asr.wer import corpus_wer
    from voicebot.audio import read_wav

    audio = [(read_wav(u.path), u.text) for u in utterances]
    seconds = sum(a.duration for a, _ in audio)
    out = {}
    for name in backends:
        recognizer = get_recognizer(name)
        recognizer.transcribe(audio[0][0], Hints())  # first call allocates buffers
        encodes = dict(getattr(recognizer, "encodes", {}))
        started, cpu = time.perf_counter(), time.process_time()
        pairs = [(ref, recognizer.transcribe(a, Hints()).text) for a, ref in audio]
        spent, cpu = time.perf_counter() - started, time.process_time() - cpu
        # CPU time of the whole process (all threads): steadier than wall time on a shared machine
        out[name] = {"wer": round(corpus_wer(pairs), 4), "rtf": round(spent / seconds, 4),
                     "cpu_rtf": round(cpu / seconds, 4), "utterances": len(pairs),
                     "load_average_1min": round(os.getloadavg()[0], 2)}
        if encodes:  # whisper: how often its encoder found a spare core, as a live call's turn would
            out[name]["encoder"] = {k: v - encodes.get(k, 0) for k, v in recognizer.encodes.items()}
    if baseline:
        packaged = PackagedWhisper()
        packaged.text(audio[0][0])
        started = time.perf_counter()
        pairs = [(ref, packaged.text(a)) for a, ref in audio]
        spent = time.perf_counter() - started
        out[packaged.name] = {"wer": round(corpus_wer(pairs), 4), "rtf": round(spent / seconds, 4), "utterances": len(pairs)}
    return out


def nlu(every: int = 1) -> dict:
    """Intent accuracy and ms per utterance: typed held-out phrases and what Whisper heard of them
    over the telephone (intents/test/heldout_asr.jsonl), trained NLU vs keywords."""
    from voicebot.nlu import load_model

    model, keywords = load_model(), KeywordClassifier.from_intents()
    model.understand("warm up")
    out = {}
    for set_name, path in (("typed", HELDOUT), ("telephone_asr", HELDOUT_ASR)):
        rows = _rows(path, every)
        for name, classify in (("trained", lambda t: model.understand(t).intent), ("keywords", keywords.classify)):
            started = time.perf_counter()
            right = sum(classify(r["text"]) == r["intent"] for r in rows)
            ms = (time.perf_counter() - started) * 1000 / len(rows)
            out[f"{name}/{set_name}"] = {"accuracy": round(right / len(rows), 4), "ms_per_utterance": round(ms, 3),
                                         "utterances": len(rows)}
    return out


def intent_from_audio(backends: list[str], voice: str, every: int) -> dict:
    """Held-out intent phrases voiced by `voice` through the noisy telephone line, recognised by
    each backend, then understood by the trained NLU (with the recogniser's runner-up readings)
    and by keywords: intent accuracy per backend, end to end."""
    from voicebot import speechgen
    from voicebot.asr.base import Hints, get_recognizer
    from voicebot.audio import read_wav
    from voicebot.nlu import load_model

    rows = _rows(HELDOUT, every)
    audio = [read_wav(speechgen.speak(r["text"], voice, speechgen.TELEPHONE)) for r in rows]
    model, keywords = load_model(), KeywordClassifier.from_intents()
    out = {}
    for name in backends:
        recognizer = get_recognizer(name)
        heard = [recognizer.transcribe(a, Hints()) for a in audio]
        trained = sum(model.understand(h.text, h.alternatives).intent == r["intent"] for h, r in zip(heard, rows))
        kw = sum(keywords.classify(h.text) == r["intent"] for h, r in zip(heard, rows))
        out[name] = {"voice": voice, "utterances": len(rows), "intent_accuracy": round(trained / len(rows), 4),
                     "keyword_accuracy": round(kw / len(rows), 4)}
    return out
