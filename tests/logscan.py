"""After the whole suite: no log the tests produced may hold a whole national ID number, nor a
mobile phone number (notices are sent to phones: the log channel masks them).

The tests write ID numbers everywhere (sign-ins, searches, imports), so their logs show whether
any path lets one through: the gunicorn servers' output and access logs (test-artifacts/), the
embedded PostgreSQL and Redis logs (copied out of the session's folder before it is removed),
the part of the machine's own server logs written during the run (CI's path), and every log
record, stdout and stderr pytest captured. A finding fails the run, naming file and line.

An ID number here is 18 characters (17 digits and a digit or X) standing alone, whose birth date
is a real date: the check digit is not asked for, since a mistyped number is personal data too.
"""
from __future__ import annotations

import glob
import os
import re
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])[0-9]{6}((?:19|20)[0-9]{2})([0-9]{2})([0-9]{2})[0-9]{3}[0-9Xx](?![0-9A-Za-z])")
# The machine's own servers (CI): only what they write while the suite runs is read.
MOBILE = re.compile(r"(?<![0-9A-Za-z.])1[3-9][0-9]{9}(?![0-9A-Za-z.])")
SERVER_LOGS = os.environ.get("TEST_SERVER_LOGS", "/var/log/postgresql/*.log:/var/log/redis/*.log").split(":")
SHOWN = 20


@dataclass(frozen=True)
class Finding:
    where: str
    line: int
    text: str


_logs: list[Path] = []
_server_offsets: dict[Path, int] = {}
_findings: list[Finding] = []


def produced(path: Path) -> None:
    """A log file written by this session (a gunicorn server's), scanned at the end."""
    _logs.append(Path(path))


def keep(folder: Path) -> None:
    """Copy the logs of the embedded servers kept in `folder` (about to be removed) into
    test-artifacts/<folder name>/ and scan them at the end."""
    found = [path for path in (folder / "postgres" / "log", folder / "redis" / "redis.log") if path.is_file()]
    if not found:
        return
    target = ARTIFACTS / folder.name
    target.mkdir(parents=True, exist_ok=True)
    for path in found:
        copy = target / f"{path.parent.name}.log"
        shutil.copyfile(path, copy)
        produced(copy)


def find_id_numbers(text: str) -> list[str]:
    found = []
    for match in ID_NUMBER.finditer(text):
        try:
            born = date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            continue
        if born <= date.today():
            found.append(match[0])
    return found


def find_mobile_numbers(text: str) -> list[str]:
    """Mainland mobile numbers (11 digits, 13x–19x) standing alone: not inside a longer number
    (card, ID, timestamp) or a decimal."""
    return MOBILE.findall(text)


def _scan_text(where: str, text: str, first_line: int = 1) -> None:
    for number, line in enumerate(text.splitlines(), first_line):
        if find_id_numbers(line) or find_mobile_numbers(line):
            _findings.append(Finding(where, number, line.strip()[:200]))


def _scan_file(path: Path, offset: int = 0) -> None:
    try:
        with open(path, "rb") as handle:
            first_line = 1 + handle.read(offset).count(b"\n") if offset else 1
            _scan_text(str(path), handle.read().decode("utf-8", "replace"), first_line)
    except OSError:
        return


def pytest_sessionstart(session) -> None:
    for pattern in SERVER_LOGS:
        for name in glob.glob(pattern):
            path = Path(name)
            try:
                _server_offsets[path] = path.stat().st_size
            except OSError:
                pass


def pytest_runtest_logreport(report) -> None:
    if report.when != "teardown":
        return  # the teardown report carries what every phase of the test captured
    for title, content in report.sections:
        _scan_text(f"{report.nodeid} ({title})", content)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session) -> None:
    # trylast: after the session's fixtures are gone, so the servers have written everything.
    for path in dict.fromkeys(_logs):
        _scan_file(path)
    for path, offset in _server_offsets.items():
        size = path.stat().st_size if path.exists() else 0
        _scan_file(path, offset if size >= offset else 0)  # a rotated log starts again
    if _findings and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:
    if not _findings:
        return
    terminalreporter.section("ID numbers or phone numbers in logs", sep="=", red=True, bold=True)
    terminalreporter.write_line(f"{len(_findings)} log line(s) hold a whole ID number or phone number; no log may:")
    for finding in _findings[:SHOWN]:
        terminalreporter.write_line(f"{finding.where}:{finding.line}: {finding.text}")
    if len(_findings) > SHOWN:
        terminalreporter.write_line(f"… and {len(_findings) - SHOWN} more")
