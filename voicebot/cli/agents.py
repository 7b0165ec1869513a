"""`voicebot agents`: who can take calls right now. The flow's roster gives skills and tiers; the
database holds each agent's live status, which every call on it shares (an agent is busy after a
call is put through, for about the queue's handle time, or until set otherwise here)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from voicebot.cli.app import app, console, fail, print_json
from voicebot.cli.calls import DEFAULT_FLOW, DbOpt, FlowOpt

agents_app = typer.Typer(help="Agents' live status (available, busy, offline).", no_args_is_help=True)
app.add_typer(agents_app, name="agents")

STATUSES = ("available", "busy", "offline")


@agents_app.command("list")
def list_agents(flow: FlowOpt = DEFAULT_FLOW, db: DbOpt = None,
                as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The roster with each agent's status now."""
    from voicebot.flow import load_flow
    from voicebot.flow.routing import current
    from voicebot.store import open_store, resolve_url, using_database

    roster = load_flow(flow).spec.agents
    with using_database(resolve_url(db)):  # a database that opens and then fails: one line, as elsewhere
        live, now = open_store(db).agent_states(), datetime.now().astimezone()
    rows = [{"name": a.name, "skills": a.skills, "tier": a.tier, "languages": a.languages,
             "status": current(a, live.get(a.name), now).status,
             "busy_until": _iso(live[a.name].until) if a.name in live and live[a.name].status == "busy" else None}
            for a in roster]
    if as_json:
        return print_json(rows)
    table = Table(title=f"Agents ({Path(flow).name})")
    for column in ("name", "skills", "tier", "status", "busy until"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["name"], ", ".join(r["skills"]), str(r["tier"]), r["status"], r["busy_until"] or "")
    console.print(table)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone().isoformat(timespec="seconds") if moment else None


@agents_app.command("set")
def set_agent(
    name: Annotated[str, typer.Argument(help="agent name from the flow's roster")],
    status: Annotated[str, typer.Argument(help="available | busy | offline")],
    minutes: Annotated[Optional[float], typer.Option("--minutes", min=0, help="busy for this long, then available")] = None,
    flow: FlowOpt = DEFAULT_FLOW,
    db: DbOpt = None,
) -> None:
    """Set an agent's status (e.g. back from a call, on a break, logged off)."""
    from voicebot.flow import load_flow
    from voicebot.store import AgentState, open_store, resolve_url, using_database

    names = [a.name for a in load_flow(flow).spec.agents]
    if name not in names:
        fail(f"{flow}: no agent {name!r} in the roster (agents: {', '.join(names)})")
    if status not in STATUSES:
        fail(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    now = datetime.now().astimezone()
    until = now + timedelta(minutes=minutes) if minutes and status == "busy" else None
    with using_database(resolve_url(db)):
        open_store(db).set_agent_state(name, AgentState(status, now, until))
    console.print(f"{name}: {status}" + (f" until {until.isoformat(timespec='seconds')}" if until else ""))
