"""`flask members import FILE [--skip-invalid]`: bulk member import from CSV or XLSX."""
from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from tqdm import tqdm

from ..database import unit_of_work
from ..errors import DomainError
from . import importing

members_cli = AppGroup("members", help="Member data.")
SHOWN_ERRORS = 200


@members_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Import the good rows even if some rows are bad.")
def import_command(file: Path, skip_invalid: bool):
    """Import members from FILE (.csv or .xlsx). Columns: organisation code, name, national ID,
    phone, category (ordinary/hardship/retiree/model_worker or 普通/困难职工/退休/劳模).
    A file with any bad row imports nothing unless --skip-invalid is given."""
    bars: list[tqdm] = []

    def on_stage(stage: str, total: int):
        if bars:
            bars[-1].close()
        bar = tqdm(total=total, unit="行", desc={"check": "检查", "insert": "导入"}[stage],
                   leave=True, dynamic_ncols=True)
        bars.append(bar)
        return bar.update

    try:
        with unit_of_work():
            report = importing.import_members(
                None, file.name, file.read_bytes(), skip_invalid=skip_invalid,
                max_uncompressed=current_app.config["XLSX_MAX_UNCOMPRESSED"], on_stage=on_stage)
    except DomainError as exc:
        raise click.ClickException(f"{file.name}: {exc.message}") from None
    finally:
        for bar in bars:
            bar.close()

    for error in report.errors[:SHOWN_ERRORS]:
        click.echo(f"第 {error.row} 行 {importing.column_name(error.column)}：{error.message}" + (f" [{error.value}]" if error.value else ""),
                   err=True)
    if len(report.errors) > SHOWN_ERRORS:
        click.echo(f"……另有 {len(report.errors) - SHOWN_ERRORS} 条错误", err=True)
    click.echo(f"{file.name}：{report.total_rows} 行，已导入 {report.imported} 行，"
               f"有错误的行 {report.error_rows} 行" + (f"，跳过 {report.skipped} 行" if report.skipped else "") + "。")
    if report.refused:
        click.echo("文件中有错误，未导入任何数据。请修改上面的行，或加 --skip-invalid 只导入正确的行。", err=True)
        raise SystemExit(1)


def register(app: Flask) -> None:
    app.cli.add_command(members_cli)
