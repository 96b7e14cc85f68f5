"""`flask quiz import|export|generate-bank`."""
from __future__ import annotations

import random
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from tqdm import tqdm

from ..database import unit_of_work
from . import bank, importers
from .demo import generate_rows

quiz_cli = AppGroup("quiz", help="Skills-drill question bank.")


@quiz_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(importers.FORMATS), help="Default: from the file name.")
@click.option("--job-type", default="", help="Job type for Aiken files (and GIFT without $CATEGORY).")
@click.option("--skip-bad", is_flag=True, help="Import the good questions even if some have problems.")
@click.option("--create-job-types", is_flag=True, help="Create job types named in the file that don't exist yet.")
def import_command(path: Path, fmt: str | None, job_type: str, skip_bad: bool, create_job_types: bool):
    """Import questions from an XLSX/CSV template, GIFT or Aiken file."""
    fmt = fmt or importers.detect_format(path.name)
    try:
        questions, problems = importers.parse(path.read_bytes(), fmt, job_type, max_uncompressed=1 << 31)
    except importers.FileProblem as exc:
        raise click.ClickException(str(exc)) from None
    with unit_of_work():
        if create_job_types:
            known = bank.resolve_job_types({q["job_type"] for q in questions if q["job_type"]})
            for n, name in enumerate(sorted({q["job_type"] for q in questions if q["job_type"]} - set(known)), 1):
                bank.create_job_type(None, f"JT{len(bank.job_types()) + 1:03d}", name)
        with tqdm(total=len(questions), unit="q", desc="importing", file=sys.stderr) as bar:
            result = bank.import_questions(None, questions, problems, skip_bad=skip_bad, progress=bar.update)
    for problem in result["problems"][:100]:
        click.echo(f"line {problem['line']}: {problem['message']}", err=True)
    if len(result["problems"]) > 100:
        click.echo(f"... and {len(result['problems']) - 100} more problems", err=True)
    click.echo(f"imported {result['imported']}, skipped {result['skipped']}")
    if result["problems"] and not skip_bad:
        click.echo("Nothing was imported. Fix the file or use --skip-bad.", err=True)
        sys.exit(1)


@quiz_cli.command("export")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--job-type-id", type=int, default=None)
def export_command(path: Path, job_type_id: int | None):
    """Export questions in the import template (.xlsx or .csv by file name)."""
    rows = importers.template_rows(bank.export_questions(job_type_id))
    data = importers.write_xlsx(rows) if path.suffix.lower() == ".xlsx" else importers.write_csv(rows)
    path.write_bytes(data)
    click.echo(f"exported {len(rows)} questions to {path}")


@quiz_cli.command("generate-bank")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--count", default=31713, show_default=True)
@click.option("--seed", default=2020, show_default=True)
def generate_bank(path: Path, count: int, seed: int):
    """Write a realistic bank of COUNT questions over the 24 job types (template CSV/XLSX)."""
    rows = generate_rows(count, random.Random(seed))
    data = importers.write_xlsx(rows) if path.suffix.lower() == ".xlsx" else importers.write_csv(rows)
    path.write_bytes(data)
    click.echo(f"wrote {len(rows)} questions to {path}")


def register(app: Flask) -> None:
    app.cli.add_command(quiz_cli)
