"""Every benchmark in one run. `run(quick=True)` fits in ~5 minutes on 2 idle cores: fewer
utterances and calls, the same measurements. Figures name their data in `details`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass


BLOCKING = "blocking Session: inline turns, fixed 600 ms hang-over, no barge-in"


@dataclass(frozen=True)
class Plan:
    latency_calls: int  # of latency.CALLS, each on both paths
    concurrency_levels: tuple[int, ...]
    asr_backends: tuple[str, ...]
    asr_sets: tuple[str, ...]
    asr_every: int  # every n-th sentence of a set
    nlu_every: int
    intent_backends: tuple[str, ...]
    intent_voice: str
    intent_every: int
    hold_calls: int
    concurrency_min_turns: int = 20  # caller turns per concurrency level at least (its p95's sample)
    # timed passes over the ASR sentences (the median is the figure) for the backends and for the
    # packaged baseline: one pass of the quick set is ~1 s of work, which a spell of load swings
    asr_passes: int = 1
    asr_baseline_passes: int = 1


# quick: concurrency starts at 4 calls (below, a level needs rounds of calls for its turns) and
# goes down only if 4 fail
QUICK = Plan(1, (4, 8, 12), ("whisper",), ("piper",), 6, 2, ("whisper",), "piper", 8, 8, 12, asr_passes=5,
             asr_baseline_passes=3)
FULL = Plan(3, (1, 2, 4, 6, 8, 10, 12, 16), ("whisper", "moonshine", "pocketsphinx"),
            ("piper", "flite:slt", "real"), 1, 1, ("whisper", "moonshine"), "flite:slt", 1, 20, 20)


def _utterances(sets, every):
    from voicebot.asr.testsets import real_speech, telephone_set

    out = []
    for name in sets:
        out += (real_speech() if name == "real" else telephone_set(name))[::every]
    return out


def run(quick: bool = True, log: Callable[[str], None] = lambda _: None) -> dict:
    from voicebot.bench import coldstart, concurrency, latency, machine, speed
    from voicebot.flow import load_flow
    from voicebot.pipeline import Stack

    plan = QUICK if quick else FULL
    started = time.perf_counter()
    timings = {}

    def step(name: str, fn):
        log(f"{name}…")
        t = time.perf_counter()
        result = fn()
        timings[name] = round(time.perf_counter() - t, 1)
        return result

    load_at_start = machine.describe()  # before this run's own processes add to the load
    cold = step("cold start and memory (fresh processes)", lambda: coldstart.run(plan.hold_calls))
    flow = load_flow(coldstart.ROOT / "flows" / "bank.yml")
    stack = Stack.load(asr="whisper", tts="piper")
    stack.prompts.follow(flow)  # the flow's caching policy, as `serve` and `call` take it
    mat = latency.material(latency.CALLS[:plan.latency_calls])
    latency.warm(stack, mat)
    lat = step("turn latency and barge-in (1x real time, then the blocking path)", lambda: latency.compare(stack, flow, mat))
    conc = step("concurrent calls (1x real time)", lambda: concurrency.concurrent(stack, flow, mat, list(plan.concurrency_levels),
                                                                                plan.concurrency_min_turns))
    blocking = lat["baseline_blocking"]
    utts = _utterances(plan.asr_sets, plan.asr_every)
    asr = step("ASR WER and speed", lambda: speed.asr(utts, list(plan.asr_backends), passes=plan.asr_passes,
                                                                baseline_passes=plan.asr_baseline_passes))
    nlu = step("NLU accuracy and speed", lambda: speed.nlu(plan.nlu_every))
    intents = step("intent accuracy from audio",
                   lambda: speed.intent_from_audio(list(plan.intent_backends), plan.intent_voice, plan.intent_every))
    packaged = speed.PackagedWhisper.name
    return {
        "quick": quick,
        "turn_latency_p50_ms": lat["turn_latency_p50_ms"],
        "turn_latency_p95_ms": lat["turn_latency_p95_ms"],
        "barge_in_stop_ms_p95": lat["barge_in_stop_ms_p95"],
        "asr_rtf": asr["whisper"]["rtf"],  # the median pass's (wall)
        "asr_rtf_spread": asr["whisper"]["rtf_spread"],  # the fastest and slowest pass's
        "asr_cpu_rtf": asr["whisper"]["cpu_rtf"],
        "nlu_ms_per_utterance": nlu["trained/telephone_asr"]["ms_per_utterance"],
        "concurrent_calls": conc["concurrent_calls"],
        "rss_mb_start": cold["ready"]["rss_mb_start"],
        "rss_mb_per_call": conc["rss_mb_per_call"],
        "cold_start_s": cold["ready"]["cold_start_s"],
        "cold_start_first_s": cold["ready"]["first_start_s"],
        "wer": {name: r["wer"] for name, r in asr.items()},
        "intent_accuracy": {
            **{f"{name} → trained NLU": r["intent_accuracy"] for name, r in intents.items()},
            **{f"{name} → keywords": r["keyword_accuracy"] for name, r in intents.items()},
            **{k.replace("/", " on "): v["accuracy"] for k, v in nlu.items()},
        },
        "baselines": {
            "asr_rtf": {"name": packaged, "value": asr[packaged]["rtf"]},
            "nlu_ms_per_utterance": {"name": "keyword matching", "value": nlu["keywords/telephone_asr"]["ms_per_utterance"]},
            "turn_latency_p50_ms": {"name": BLOCKING, "value": blocking["turn_latency_p50_ms"]},
            "turn_latency_p95_ms": {"name": BLOCKING, "value": blocking["turn_latency_p95_ms"]},
            "barge_in_stop_ms_p95": {"name": BLOCKING, "value": blocking["barge_in_stop_ms_p95"]},
        },
        "commands": {k: v for k, v in cold.items() if k != "ready"},
        "details": {
            "memory": cold["ready"], "turn_latency": lat, "concurrency": conc, "asr": asr, "nlu": nlu,
            "intent_from_audio": intents,
            "data": {
                "calls": f"{plan.latency_calls} demo-bank call(s) of voicebot.bench.latency.CALLS (Piper voice, "
                         f"{sum(len(c) for c in mat.calls)} turns) paced at 1x, each turn said 0.6 s after the bot "
                         "went quiet; turn latency from the last loud sample of the caller's WAV (the endpointer's "
                         "hang-over included) to the bot's first loud sample; barge-in: the caller talks over the "
                         "greeting, onset to the bot going quiet (None: the prompt played on)",
                "concurrency": f"levels {', '.join(map(str, plan.concurrency_levels))} of those calls at once (threads, "
                               "own Session, one store and the shared Stack, 0.7 s apart; halving below the first "
                               f"level if it fails), each level at least {plan.concurrency_min_turns} turns (calls go "
                               "round again); rss_mb_per_call: peak RSS at the largest level run minus at the "
                               "smallest, per extra call",
                "asr": f"voicebot.asr.testsets sets {', '.join(plan.asr_sets)} (1 in {plan.asr_every} sentences; "
                       "telephone sets: 8 kHz μ-law, 15 dB SNR), heard back to back by the recogniser the "
                       "Stack loaded, with a live call's options, after one warm-up call; RTF: the median of "
                       f"{plan.asr_passes} timed passes ({plan.asr_baseline_passes} for the packaged baseline), "
                       "each pass's figure and the spread in asr.*.rtf_passes; asr.whisper.encoder: how many "
                       "encodes found a core spare (1.5 cores free of other work: the two-thread encoder, as a "
                       "call's turn would) and the load average then, since the figure follows the machine's load",
                "nlu": f"intents/test/heldout.jsonl (typed) and heldout_asr.jsonl (Whisper transcripts), 1 in {plan.nlu_every} rows",
                "intent_from_audio": f"intents/test/heldout.jsonl voiced by {plan.intent_voice} over the telephone "
                                     f"line, 1 in {plan.intent_every} phrases",
            },
            "step_seconds": timings,
        },
        "seconds": round(time.perf_counter() - started, 1),
        "machine": {**load_at_start, "load_average_1min_at_end": round(os.getloadavg()[0], 2)},
    }
