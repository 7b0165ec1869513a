"""`voicebot users`: web accounts for agents and supervisors (argon2id password hashes)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from voicebot.cli.app import app, console, fail, print_json
from voicebot.cli.calls import DbOpt

users_app = typer.Typer(help="Web console accounts (agents, supervisors).", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("add")
def add_user(
    name: Annotated[str, typer.Argument(help="login name; for an agent, their name in the flow's roster")],
    role: Annotated[str, typer.Option("--role", help="agent | supervisor")] = "agent",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from stdin")] = False,
    db: DbOpt = None,
) -> None:
    """Add a user (or reset their password and role); the password is prompted, never an argument."""
    from voicebot.store import open_store, resolve_url, using_database

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with using_database(resolve_url(db)):
        open_store(db).add_user(name, role, password)
    console.print(f"user {name} ({role}) saved")


@users_app.command("list")
def list_users(db: DbOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Users and their roles."""
    from voicebot.store import open_store

    users = open_store(db).users()
    if as_json:
        return print_json(users)
    table = Table(title="Users")
    for column in ("name", "role", "created"):
        table.add_column(column)
    for u in users:
        table.add_row(u["name"], u["role"], u["created_at"])
    console.print(table)


@users_app.command("remove")
def remove_user(name: Annotated[str, typer.Argument()], db: DbOpt = None) -> None:
    """Delete a user (their calls stay)."""
    from voicebot.store import open_store, resolve_url, using_database

    with using_database(resolve_url(db)):
        removed = open_store(db).remove_user(name)
    if not removed:
        fail(f"no user {name!r}")
    console.print(f"user {name} removed")
