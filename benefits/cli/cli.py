"""Platform-wide commands: demo data and the Redis counters."""
from __future__ import annotations

import json

import click
from flask import Flask
from flask.cli import AppGroup

from .. import counters
from ..database import unit_of_work
from . import demo

demo_cli = AppGroup("demo", help="Demo data from the report.")
counters_cli = AppGroup("counters", help="Redis gate counters.")


@demo_cli.command("load")
def demo_load():
    """Load the demo data (once) and print the demo accounts."""
    if demo.already_loaded():
        click.echo("Demo data is already loaded.")
    else:
        with unit_of_work():
            ctx = demo.load_all()
        for note in ctx.notes:
            click.echo(note)
        click.echo("Demo data loaded.")
    click.echo("Demo accounts (role, username, password):")
    for role, username, password in demo.demo_credentials():
        click.echo(f"  {role:<28} {username:<20} {password}")


@counters_cli.command("reconcile")
def counters_reconcile():
    """Rebuild every Redis counter from SQL (safe at any time)."""
    result = counters.reconcile_all()
    if not result and counters.client() is None:
        click.echo("REDIS_URL is not set: nothing to reconcile.")
        return
    click.echo(json.dumps(result, ensure_ascii=False, indent=2, default=str))


def register(app: Flask) -> None:
    app.cli.add_command(demo_cli)
    app.cli.add_command(counters_cli)
