"""`flask vouchers issue` (a batch issue from the command line: categories and/or an organisation,
or a CSV/XLSX list of any size) and `flask vouchers expire` (safe to run at any time)."""
from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from ..database import unit_of_work
from ..errors import DomainError
from ..extensions import db
from ..members.models import Member
from ..money import format_yuan
from ..orgs import service as orgs
from . import service, targets
from .models import VoucherProgramme

vouchers_cli = AppGroup("vouchers", help="Vouchers (券活动): batch issue and expiry.")
SHOWN_ERRORS = 200


def _fail(message: str) -> click.ClickException:
    return click.ClickException(message)


OPTIONS = {"member_categories": "--categories", "org_id": "--org", "file": "--file", "round": "--round"}


def _explain(exc: DomainError) -> str:
    fields = exc.details.get("fields") if isinstance(exc.details, dict) else None
    if fields:
        return exc.message + " " + "；".join(f"{OPTIONS.get(name, name)}：{'，'.join(map(str, msgs))}"
                                             for name, msgs in fields.items())
    return exc.message


def _target(programme, categories: str | None, org_code: str | None, file: Path | None, round_: int,
            skip_errors: bool) -> tuple[service.Target, int]:
    """The target and the number of bad file rows (printed here)."""
    wanted = tuple(c.strip() for c in (categories or "").split(",") if c.strip())
    org = None
    if org_code:
        org = orgs.get_by_code(org_code.strip())
        if org is None:
            raise _fail(f"没有这个组织代码：{org_code}")
    if file is None:
        return service.Target(member_categories=wanted, org=org, round=round_), 0
    if wanted or org is not None:
        raise _fail("按名单发放时不能再指定 --categories 或 --org。")
    entries = targets.read_file(file.name, file.read_bytes())
    ids, errors = targets.resolve(programme, entries)
    for e in errors[:SHOWN_ERRORS]:
        click.echo(f"第 {e.row} 行：{e.message}" + (f" [{e.value}]" if e.value else ""), err=True)
    if len(errors) > SHOWN_ERRORS:
        click.echo(f"……另有 {len(errors) - SHOWN_ERRORS} 行有问题", err=True)
    click.echo(f"{file.name}：{len(entries)} 行，可发券会员 {len(ids)} 人，有问题的行 {len(errors)} 行"
               + ("（将跳过）" if errors and skip_errors else "") + "。")
    return service.Target(member_ids=tuple(ids), source_name=file.name, round=round_), len(errors)


@vouchers_cli.command("issue")
@click.option("--programme", "programme_id", type=int, required=True, help="Programme id.")
@click.option("--categories", help="Member categories, comma separated: ordinary,hardship,retiree,model_worker.")
@click.option("--org", "org_code", help="Organisation code: its members and those below it.")
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV/XLSX whose header names a 身份证号 or 卡号 column.")
@click.option("--skip-errors", is_flag=True, help="Issue to the good rows of a file that has bad rows.")
@click.option("--round", "round_", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Same target and round = same batch: re-running issues nobody twice.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def issue_command(programme_id: int, categories: str | None, org_code: str | None, file: Path | None,
                  skip_errors: bool, round_: int, yes: bool):
    """Issue a programme's vouchers to members by category and/or organisation, or to a list
    in a file. Shows the preview first; commits chunk by chunk, so an interrupted run can be
    run again and continues where it stopped."""
    programme = db.session.get(VoucherProgramme, programme_id)
    if programme is None:
        raise _fail(f"没有这个券活动：{programme_id}")
    if programme.status != "active":
        raise _fail("此券活动已结束发放，不能再发券。")
    click.echo(f"券活动 {programme.id}「{programme.name}」（{programme.org.name}）：面值 {format_yuan(programme.face_fen)} 元，"
               f"可用 {format_yuan(programme.value_fen)} 元")
    try:
        target, bad_rows = _target(programme, categories, org_code, file, round_, skip_errors)
        preview = service.preview(programme, target)
    except DomainError as exc:
        db.session.rollback()
        raise _fail(_explain(exc)) from None
    click.echo(f"预览：可发券会员 {preview.members} 人，需要面值 {format_yuan(preview.face_fen)} 元，"
               f"剩余预算 {format_yuan(preview.budget_left_fen)} 元。")
    if not preview.fits:
        click.echo(f"预算不够：只能再发 {preview.can_issue} 张，其余 {preview.members - preview.can_issue} 人本次发不到。")
    if preview.batch_id:
        click.echo(f"同一发放对象、同一轮次已发过（批次 {preview.batch_id}），本次只发给还没领到的会员。")
    if bad_rows and not skip_errors:
        db.session.rollback()
        click.echo("文件中有问题的行，未发放任何券。请修改文件，或加 --skip-errors 只发给没有问题的行。", err=True)
        raise SystemExit(1)
    if preview.members == 0:
        db.session.rollback()
        click.echo("没有需要发券的会员。")
        return
    if not yes:
        click.confirm("确认发放？", abort=True)
    lo, hi = db.session.execute(select(func.min(Member.id), func.max(Member.id))).one()
    length = (hi - lo + 1) if lo is not None else 0
    try:
        with click.progressbar(length=length, label="发券", show_eta=True, show_pos=True) as bar:
            result = service.issue(None, programme, target, commit_each=db.session.commit, progress=bar.update)
    except DomainError as exc:
        db.session.rollback()
        raise _fail(_explain(exc)) from None
    click.echo(f"已发放 {result.issued} 张，面值合计 {format_yuan(result.face_fen)} 元（批次 {result.batch.id}，"
               f"累计 {result.batch.issued_count} 张）。")
    if result.not_issued_for_budget:
        click.echo(f"预算已用完，还有 {result.not_issued_for_budget} 人没有发到。", err=True)


@vouchers_cli.command("expire")
def expire_command():
    """Expire vouchers past their last day and write the notices of those ending within a week
    (`flask notices remind` writes them too). Conditional updates: safe to run at any time,
    also twice at once."""
    with unit_of_work():
        counts = service.expire()
    click.echo(f"已过期 {counts['expired']} 张；到期提醒 {counts['noticed']} 张。")


def register(app: Flask) -> None:
    app.cli.add_command(vouchers_cli)

