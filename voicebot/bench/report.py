"""One table of a bench run (Rich for the terminal, Markdown for bench/latest.md), and the run's
JSON saved under bench/."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from voicebot.cache import replaced_atomically

GOALS = {"cold_start_s": "≤ 4", "rss_mb_start": "≤ 600", "rss_mb_per_call": "≤ 5", "asr_rtf": "≤ 0.08",
         "turn_latency_p50_ms": "≤ 500", "turn_latency_p95_ms": "≤ 900", "barge_in_stop_ms_p95": "≤ 200",
         "concurrent_calls": "≥ 12"}
NONE_MEANS = {"barge_in_stop_ms_p95": "never stops"}
SPEED = (("turn latency p50 (ms)", "turn_latency_p50_ms"), ("turn latency p95 (ms)", "turn_latency_p95_ms"),
         ("barge-in: prompt stops after onset, p95 (ms)", "barge_in_stop_ms_p95"),
         ("ASR real-time factor", "asr_rtf"), ("NLU ms per utterance", "nlu_ms_per_utterance"),
         ("calls held (p95 ≤ 1 s)", "concurrent_calls"), ("start to ready (s; median of starts after the first)", "cold_start_s"),
         ("start to ready, first start of the run (s; page cache as found)", "cold_start_first_s"),
         ("RSS with all models (MB)", "rss_mb_start"), ("RSS per extra call (MB)", "rss_mb_per_call"))


def rows(result: dict) -> list[tuple[str, str, str, str]]:
    """(metric, value, baseline, goal)"""
    out = []
    for label, key in SPEED:
        base = result["baselines"].get(key)
        value = f"{NONE_MEANS.get(key, '-') if base['value'] is None else _fmt(base['value'])} ({base['name']})" \
            if base else "-"
        out.append((label, _fmt(result.get(key)), value, GOALS.get(key, "-")))
    asr = result["details"]["asr"]
    if "rtf_passes" in asr.get("whisper", {}):
        base = asr.get(result["baselines"]["asr_rtf"]["name"])
        out.append(("ASR real-time factor of each pass (wall; the median is the figure above)", _passes(asr["whisper"]),
                    _passes(base) if base and "rtf_passes" in base else "-", "-"))
    for name, wer in result["wer"].items():
        out.append((f"WER {name}", _fmt(wer), "-", "-"))
    for name, acc in result["intent_accuracy"].items():
        out.append((f"intent accuracy {name}", _fmt(acc), "-", "-"))
    cmds = result["commands"]
    torch = cmds.get("classify_torch_minilm")
    for name, cmd in cmds.items():
        if name == "classify_torch_minilm":
            continue
        base = f"{torch['seconds']} s, {torch['peak_rss_mb']} MB (MiniLM on torch)" if name == "classify" and torch else "-"
        out.append((f"`voicebot {name.replace('_', ' ')}` from process start", f"{cmd['seconds']} s, {cmd['peak_rss_mb']} MB peak",
                    base, "-"))
    idle = result["details"]["memory"]
    out.append((f"RSS per extra idle call (MB; {idle['held_calls']} held after their first turn)",
                _fmt(idle["rss_mb_per_call"]), "-", "-"))
    steps = result["details"]["concurrency"]["steps"]
    out.append(("turn latency p95 by simultaneous calls",
                "; ".join(f"{s['calls']}: {s['p95_ms']} ms ({s['turns']} turns, {s.get('cpu_s_per_turn')} CPU-s/turn, "
                          f"decode batches {s.get('decode_batches')}, load {s.get('load_average_1min')})"
                          for s in steps), "-", "-"))
    stages = result["details"]["turn_latency"]["realtime"]["stages_p50_ms"]
    out.append(("turn stages p50 (ms)", ", ".join(f"{k.removesuffix('_ms')} {v}" for k, v in stages.items()), "-", "-"))
    return out


def _passes(r: dict) -> str:
    """Every timed pass's wall RTF, the median CPU RTF and the load around them."""
    return (f"{', '.join(_fmt(v) for v in r['rtf_passes'])} (CPU median {_fmt(r['cpu_rtf'])}; load "
            f"{r.get('load_average_1min_before')} → {r.get('load_average_1min')})")


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}" if isinstance(v, float) and v < 1 else f"{v:,.1f}" if isinstance(v, float) else str(v)


def _end(m: dict) -> str:
    end = m.get("load_average_1min_at_end")
    if end is None:
        return ""
    # The load at the end includes the benchmark itself; the load at the start is other jobs'.
    busy = (m.get("load_average_1min") or 0) >= (m.get("cores") or 1) / 2
    return f", {end} at end" + (" (other jobs share the cores: every time is inflated)" if busy else "")


def machine_line(m: dict) -> str:
    return (f"{m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, {m['os']}, Python {m['python']}, "
            f"load average {m['load_average_1min']} at start{_end(m)}, commit {m['commit']}")


def print_table(result: dict, console) -> None:
    from rich.table import Table

    table = Table(title=f"voicebot bench{' --quick' if result['quick'] else ''} ({result['seconds']} s)")
    for col in ("metric", "this build", "baseline, same run", "goal"):
        table.add_column(col, overflow="fold")
    for row in rows(result):
        table.add_row(*row)
    console.print(table)
    console.print(f"[dim]{machine_line(result['machine'])}[/]", highlight=False)


def markdown(result: dict) -> str:
    cmd = "voicebot bench" + (" --quick" if result["quick"] else "")
    lines = [f"`{cmd}` ({result['seconds']} s) on {machine_line(result['machine'])}.", "",
             "| metric | this build | baseline, same run | goal |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(r)} |" for r in rows(result)]
    data = result["details"]["data"]
    lines += ["", "Data: " + "; ".join(f"{k}: {v}" for k, v in data.items()) + "."]
    return "\n".join(lines) + "\n"


def save(result: dict, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"{stamp}{'-quick' if result['quick'] else ''}.json"
    for target, text in ((path, json.dumps(result, indent=2, ensure_ascii=False) + "\n"),
                         (directory / "latest.md", markdown(result))):
        with replaced_atomically(target) as tmp:
            tmp.write_text(text)
    return path
