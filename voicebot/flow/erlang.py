"""Erlang C: the chance a caller waits and the expected wait, for an M/M/N queue.

traffic A = arrival_rate × handle_time (erlangs). With N agents (N > A):
    P(wait) = (A^N/N! · N/(N−A)) / (Σ_{k<N} A^k/k! + A^N/N! · N/(N−A))
    ASA     = P(wait) · handle_time / (N − A)
Computed with the Erlang B recursion (B₀ = 1, Bₖ = A·Bₖ₋₁ / (k + A·Bₖ₋₁)), which avoids factorial
overflow: C = N·B / (N − A·(1 − B))."""

from __future__ import annotations

import math


def erlang_b(agents: int, traffic: float) -> float:
    b = 1.0
    for k in range(1, agents + 1):
        b = traffic * b / (k + traffic * b)
    return b


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that an arriving call has to wait (1.0 when the queue is unstable)."""
    if agents <= 0 or traffic >= agents:
        return 1.0
    if traffic <= 0:
        return 0.0
    b = erlang_b(agents, traffic)
    return agents * b / (agents - traffic * (1 - b))


def average_wait(agents: int, calls_per_hour: float, handle_seconds: float) -> float:
    """Expected speed of answer in seconds (math.inf when agents cannot keep up)."""
    traffic = calls_per_hour * handle_seconds / 3600.0
    if agents <= 0 or traffic >= agents:
        return math.inf
    return erlang_c(agents, traffic) * handle_seconds / (agents - traffic)


def service_level(agents: int, calls_per_hour: float, handle_seconds: float, target: float) -> float:
    """Share of calls answered within `target` seconds."""
    traffic = calls_per_hour * handle_seconds / 3600.0
    if agents <= 0 or traffic >= agents:
        return 0.0
    pw = erlang_c(agents, traffic)
    return 1.0 - pw * math.exp(-(agents - traffic) * target / handle_seconds)
