"""`flask medical import FILE --programme N [--skip-bad-rows]`: the social-insurance file of any
size (hundreds of thousands of rows) through the same import as the page and the API, with a
progress bar; and `flask medical returns FILE --programme N` for a large bank return file."""
from __future__ import annotations

import contextlib
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from ..database import unit_of_work
from ..errors import DomainError
from ..extensions import db
from ..money import format_yuan
from . import service
from .models import MedicalProgramme

medical_cli = AppGroup("medical", help="Medical benefit (医疗普惠): insurance and bank return files.")
SHOWN_ERRORS = 200
STAGES = {"check": "检查", "write": "写入"}


def _programme(programme_id: int) -> MedicalProgramme:
    programme = db.session.get(MedicalProgramme, programme_id)
    if programme is None:
        raise click.ClickException(f"没有这个医疗普惠项目：{programme_id}")
    return programme


def _print_errors(errors) -> None:
    for e in errors[:SHOWN_ERRORS]:
        click.echo(f"第 {e.row} 行：{e.message}" + (f" [{e.value}]" if e.value else ""), err=True)
    if len(errors) > SHOWN_ERRORS:
        click.echo(f"……另有 {len(errors) - SHOWN_ERRORS} 条错误", err=True)


@medical_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--programme", "programme_id", type=int, required=True, help="Programme id.")
@click.option("--skip-bad-rows", is_flag=True, help="Import the good rows of a file that has bad rows.")
def import_command(file: Path, programme_id: int, skip_bad_rows: bool):
    """Import a social-insurance file (.csv or .xlsx: 身份证号, 姓名, 年度, 自付金额（元）) into a
    programme. A file with any bad row imports nothing unless --skip-bad-rows; importing the same
    file again adds nothing. One transaction: an interrupted import leaves nothing behind."""
    programme = _programme(programme_id)
    data = file.read_bytes()
    with contextlib.ExitStack() as bars:
        def on_stage(stage: str, total: int):
            bars.close()
            return bars.enter_context(click.progressbar(length=total, label=STAGES[stage], show_pos=True,
                                                        show_eta=True)).update

        try:
            with unit_of_work():
                report = service.import_claims(None, programme, file.name, data, skip_bad_rows=skip_bad_rows,
                                               max_uncompressed=current_app.config["XLSX_MAX_UNCOMPRESSED"],
                                               on_stage=on_stage)
        except DomainError as exc:
            raise click.ClickException(f"{file.name}：{exc.message}") from None
    _print_errors(report.errors)
    click.echo(f"{file.name}：{report.total_rows} 行，有错误的行 {report.bad_rows} 行。")
    if report.refused:
        click.echo("文件中有错误，未导入任何数据。请修改文件，或加 --skip-bad-rows 只导入正确的行。", err=True)
        raise SystemExit(1)
    click.echo(f"新增 {report.added} 条，金额更新 {report.updated} 条，与已导入的相同 {report.unchanged} 条"
               + (f"，跳过错误行 {report.bad_rows} 行" if report.bad_rows else "") + "。")
    click.echo(f"项目现有医保记录 {report.claims} 条，按身份证号比对到会员 {report.matched} 人。")


@medical_cli.command("returns")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--programme", "programme_id", type=int, required=True, help="Programme id.")
def returns_command(file: Path, programme_id: int):
    """Import the bank's return file (业务参考号, 结果 成功/失败, 失败原因). Any bad row — an
    unknown reference above all — refuses the whole file; the same file again changes nothing."""
    programme = _programme(programme_id)
    try:
        with unit_of_work():
            report = service.import_returns(None, programme, file.name, file.read_bytes(),
                                            max_uncompressed=current_app.config["XLSX_MAX_UNCOMPRESSED"])
    except DomainError as exc:
        raise click.ClickException(f"{file.name}：{exc.message}") from None
    if report.refused:
        _print_errors(report.errors)
        click.echo(f"回盘文件有 {report.bad_rows} 行有问题，整个文件未导入。", err=True)
        raise SystemExit(1)
    click.echo(f"{file.name}：{report.total_rows} 行；到账 {report.paid} 笔，未成功 {report.failed} 笔，"
               f"以前已回盘 {report.unchanged} 笔。")
    programme = db.session.get(MedicalProgramme, programme_id)
    click.echo(f"项目已审批 {format_yuan(programme.committed_fen)} 元。")


def register(app: Flask) -> None:
    app.cli.add_command(medical_cli)
