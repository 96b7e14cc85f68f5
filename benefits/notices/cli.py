"""`flask notices send` (deliver due notices; safe as several processes at once, e.g. every
minute from cron on each of two hosts) and `flask notices remind` (write the "about to expire"
notices; running it twice adds nothing)."""
from __future__ import annotations

from datetime import date

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from .. import clock
from ..database import unit_of_work
from ..points import service as points
from ..prizes import service as prizes
from ..vouchers import service as vouchers
from . import channels
from .sender import Policy, send_due

notices_cli = AppGroup("notices", help="Notices to members (消息, SMS): send and remind.")


@notices_cli.command("send")
@click.option("--limit", type=click.IntRange(1), default=None, help="Take at most this many notices (default: all due).")
def send_command(limit: int | None):
    """Deliver the due notices through the configured channel (NOTICE_CHANNEL), in batches of
    NOTICE_SEND_BATCH. Exits when none is due; failed ones wait for their retry time."""
    config = current_app.config
    if config.get("NOTICE_CHANNEL") == "log" and not config.get("NOTICE_LOG_CHANNEL_ALLOWED"):
        raise click.ClickException("生产环境不能用 log 通道发送通知（会把未送达的通知记为已发送）：请设置 NOTICE_CHANNEL=http、"
                                   "NOTICE_GATEWAY_URL 和 NOTICE_GATEWAY_SECRET。")
    try:
        channel = channels.from_config(config)
    except channels.ChannelNotConfigured as exc:
        raise click.ClickException(f"通知通道未配置：{exc}") from None
    report = send_due(channel, Policy.from_config(config), limit=limit)
    click.echo(f"已发送 {report.sent} 条；待重试 {report.retrying} 条；失败 {report.failed} 条；"
               f"未发送（无手机号或会员已关闭） {report.skipped} 条。")


@notices_cli.command("remind")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="China business day to remind as of (default: today).")
def remind_command(today):
    """Write the reminders of what is about to expire: vouchers, prize pickups, points. Each
    reminder has a dedupe key, so running this again (or twice at once) adds nothing."""
    day: date = today.date() if today else clock.business_day()
    with unit_of_work():
        voucher_count = vouchers.notice_expiring(day)
    with unit_of_work():
        pickup_count = prizes.remind_expiring_pickups()
    with unit_of_work():
        points_count = points.remind_expiring(day)
    click.echo(f"到期提醒：券 {voucher_count} 条，奖品领取 {pickup_count} 条，积分 {points_count} 条。")


def register(app: Flask) -> None:
    app.cli.add_command(notices_cli)
