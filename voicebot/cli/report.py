"""`voicebot report`: contact-centre KPIs over the stored calls; `voicebot db init`: create the
schema and demo customers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from voicebot.cli.app import app, console, fail, print_json
from voicebot.store import DEFAULT_DB

db_app = typer.Typer(help="The call/customer database.", no_args_is_help=True)
app.add_typer(db_app, name="db")

_LABELS = {
    "calls": "calls", "aht_seconds": "AHT (s)", "fcr": "FCR", "csat_avg": "CSAT (avg 1-5)",
    "csat_satisfied": "CSAT satisfied (4-5)", "csat_responses": "survey answers",
    "abandonment": "abandonment", "containment": "containment (self_service / calls)",
    "escalation_rate": "escalation rate",
}
# self_service: the bot answered and routed nothing; completed: nothing answered or routed (a wrong
# number, a goodbye); then routed by request, routed by the escalation policy, hung up mid-flow.
OUTCOMES = ("self_service", "completed", "transferred", "escalated", "abandoned")
_PERCENT = {"fcr", "csat_satisfied", "abandonment", "containment", "escalation_rate"}


def _fmt(key: str, value) -> str:
    if value is None:
        return "-"
    return f"{value:.1%}" if key in _PERCENT else str(value)


@app.command()
def report(
    as_json: bool = typer.Option(False, "--json", help="Print the KPIs as JSON."),
    db: Optional[str] = typer.Option(None, "--db", help="Database URL or SQLite path "
                                     "(default $VOICEBOT_DB or var/voicebot.db)."),
) -> None:
    """KPIs over stored calls: AHT, FCR, CSAT, abandonment, containment, escalations by reason."""
    from voicebot.store import open_store
    from voicebot.store.kpis import compute_kpis

    store = open_store(existing_database(db))
    store.recover_dead_workers()  # calls a crashed worker left open count as abandoned, not as missing
    kpis = compute_kpis(store.calls())
    if as_json:
        return print_json(kpis)
    table = Table(title=f"Call KPIs ({kpis['calls']} calls)")
    table.add_column("KPI")
    table.add_column("value", justify="right")
    for key, label in _LABELS.items():
        table.add_row(label, _fmt(key, kpis[key]))
    for section, title in (("escalations_by_reason", "escalated"), ("transfers_by_reason", "transferred")):
        for reason, rate in kpis[section].items():
            table.add_row(f"{title}: {reason}", _fmt("fcr", rate))
    counts = kpis["outcomes"]
    for outcome in (*OUTCOMES, *sorted(set(counts) - set(OUTCOMES))):
        table.add_row(f"outcome: {outcome}", str(counts.get(outcome, 0)))
    for key, label in (("nlu_models", "NLU model"), ("asr_models", "ASR model")):
        for version, calls in kpis[key].items():
            table.add_row(f"{label}: {version}", f"{calls} calls")
    console.print(table)


def existing_database(db: str | None) -> str:
    """The database to read KPIs from; a SQLite file that is not there is an error (a mistyped
    path would otherwise be created empty and reported as 0 calls)."""
    from voicebot.store import resolve_url

    url = db or os.environ.get("VOICEBOT_DB") or DEFAULT_DB
    if "://" not in url and not Path(url).exists():
        fail(f"database {url}: no such file (calls are stored by replay, demo, call and serve; "
             "give --db or $VOICEBOT_DB)")
    return resolve_url(url)


@db_app.command("init")
def db_init(db: Optional[str] = typer.Option(None, "--db", help="Database URL or SQLite path."),
            demo: bool = typer.Option(False, "--demo", help="Also insert the demo bank's customers and PINs.")) -> None:
    """Create or upgrade the schema (Alembic migrations); with --demo, add the demo customers."""
    from voicebot.store import open_store, resolve_url, shown_url

    open_store(db, demo=demo)
    console.print(f"database ready: {shown_url(resolve_url(db))}" + (" (with demo customers)" if demo else ""))


@db_app.command("upgrade")
def db_upgrade(db: Optional[str] = typer.Option(None, "--db", help="Database URL or SQLite path.")) -> None:
    """Apply pending schema migrations and print the revision."""
    from voicebot.store import resolve_url, shown_url, using_database
    from voicebot.store.schema import current_revision, make_engine, migrate

    url = resolve_url(db)
    with using_database(url):
        engine = make_engine(url)
        migrate(engine)
    console.print(f"schema at revision {current_revision(engine)}: {shown_url(url)}")


@db_app.command("flush-spool")
def db_flush_spool(db: Optional[str] = typer.Option(None, "--db", help="Database URL or SQLite path.")) -> None:
    """Write into the database the call records it could not take during calls (they were kept in
    a spool file: beside the SQLite file, or var/records.spool.jsonl); safe to run twice."""
    from voicebot.store import open_store, resolve_url, shown_url, using_database

    url = resolve_url(db)
    store = open_store(url)
    with using_database(url):
        written = store.flush_spool()
    where = store.spool.path or "no spool (an in-memory database)"
    console.print(f"{written} spooled call record(s) written into {shown_url(url)} ({where})")
