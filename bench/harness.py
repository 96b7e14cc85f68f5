"""What scenario modules and the runner share: `Scenario`, the running `Server`, and wrk."""
from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import requests

WRK = "/usr/bin/wrk"
# Flask-Login's strong session protection ties a session to address + User-Agent, so the
# sign-in and every wrk request present the same one.
USER_AGENT = "benefits-bench"


@dataclass
class Scenario:
    """One endpoint under load. `lua` (a whole wrk script) replaces method/path/body; the
    runner still adds the headers from `headers` (e.g. Cookie) to every request it makes."""
    name: str
    method: str = "GET"
    path: str = "/"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    lua: str | None = None
    ceiling: str | None = "bare"   # "bare", "write", the name of a scenario measured before it, or None
    target: float | None = None    # wanted ratio to the ceiling, shown beside the measured one
    # Optional hooks around the wrk run: `before()` returns a value that is handed to
    # `after(value, result)`, which may return a note printed under the table (e.g. how many
    # database transactions the run caused, with server.pg_statement_count()).
    before: Callable[[], Any] | None = None
    after: Callable[[Any, "Result"], str | None] | None = None


@dataclass
class Result:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    ceiling: str | None = None
    ratio: float | None = None
    target: float | None = None
    cpu_us: dict | None = None      # CPU per request (µs of one core): "app", "db", "all"


def _header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


class Server:
    """The gunicorn under test, as scenario modules see it."""

    def __init__(self, url: str, database_url: str):
        self.url = url
        self.database_url = database_url
        self._own_count_queries = 0

    def login(self, username: str, password: str, *, page: str | None = None) -> str:
        """Sign in through the JSON API; returns the value for a `Cookie` header. With `page`,
        that page is opened once after signing in, as a phone's browser does, and the cookie is
        the one the browser then holds: a page that offers a form puts its CSRF token in the
        session once, and the browser sends it back from then on (without this, every request of
        the bench would be the first after sign-in and write a new session cookie)."""
        response = requests.post(f"{self.url}/api/v1/auth/login", json={"username": username, "password": password},
                                 headers={"User-Agent": USER_AGENT}, timeout=30)
        if response.status_code != 200:
            raise RuntimeError(f"login as {username!r} failed: {response.status_code} {response.text[:200]}")
        cookies = {c.name: c.value for c in response.cookies}  # Secure cookies: sent by hand over http
        if page is not None:
            opened = requests.get(f"{self.url}{page}", headers={"User-Agent": USER_AGENT, "Cookie": _header(cookies)},
                                  allow_redirects=False, timeout=30)
            if opened.status_code != 200:
                raise RuntimeError(f"{page} as {username!r}: {opened.status_code}")
            cookies.update({c.name: c.value for c in opened.cookies})
        return _header(cookies)

    def pg_statement_count(self, settle_seconds: float = 11.0) -> int:
        """Statements (pg_stat_statements, when loaded) or else transactions (pg_stat_database
        xact_commit + xact_rollback) run so far on the bench database; compare two readings.

        PostgreSQL publishes a busy backend's counts at most once a second and an idle one's
        within 10 s, so the reading waits `settle_seconds` after the last load first. This
        method's own queries are subtracted, so back-to-back readings with no load are equal.
        """
        import psycopg
        time.sleep(settle_seconds)
        queries = 2  # backend start-up runs a transaction of its own, then the extension check
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            has_pss = conn.execute(
                "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'").fetchone()[0]
            value = None
            if has_pss:
                queries += 1
                try:
                    value = conn.execute(
                        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                        "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())").fetchone()[0]
                except psycopg.Error:
                    value = None  # extension created but the library is not preloaded
            if value is None:
                queries += 1
                value = conn.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                                     "WHERE datname = current_database()").fetchone()[0]
        own = self._own_count_queries
        self._own_count_queries += queries
        return int(value) - own


# ---------------------------------------------------------------- wrk

def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal for our inputs


def _script(scenario: Scenario) -> str:
    """The scenario as a wrk script, with a hook that counts responses outside 2xx."""
    lines = []
    if scenario.lua is None:
        lines.append(f"wrk.method = {_lua_string(scenario.method)}")
        lines.append(f"wrk.path = {_lua_string(scenario.path)}")
        if scenario.body is not None:
            lines.append(f"wrk.body = {_lua_string(scenario.body)}")
            if not any(k.lower() == "content-type" for k in scenario.headers):
                lines.append('wrk.headers["Content-Type"] = "application/json"')
    headers = {"User-Agent": USER_AGENT, **scenario.headers}
    for name, value in headers.items():
        lines.append(f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}")
    # scripts that build their own header tables still get the scenario's headers
    extra = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items())
    lines.append(f"""
local __bench_extra = {{{extra}}}
local __bench_format = wrk.format
wrk.format = function(method, path, headers, body)
  headers = headers or wrk.headers
  for k, v in pairs(__bench_extra) do if headers[k] == nil then headers[k] = v end end
  return __bench_format(method, path, headers, body)
end""")
    prelude = "\n".join(lines)
    epilogue = """
local __bench_threads = {}
local __user_setup, __user_response, __user_done = setup, response, done
function setup(thread)
  table.insert(__bench_threads, thread)
  if __user_setup then __user_setup(thread) end
end
function response(status, headers, body)
  if status < 200 or status > 299 then __bench_non2xx = (__bench_non2xx or 0) + 1 end
  if __user_response then __user_response(status, headers, body) end
end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(__bench_threads) do n = n + (t:get("__bench_non2xx") or 0) end
  io.write(string.format("BENCH_NON2XX %d\\n", n))
  if __user_done then __user_done(summary, latency, requests) end
end
"""
    return prelude + "\n" + (scenario.lua or "") + "\n" + epilogue


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> dict:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    non2xx = re.search(r"BENCH_NON2XX (\d+)", output)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if not (rps and total and p50 and p99):
        raise RuntimeError("could not read wrk output:\n" + output)
    return {"requests_per_second": float(rps.group(1)), "requests": int(total.group(1)),
            "p50_ms": _ms(p50.group(1)), "p99_ms": _ms(p99.group(1)),
            "non_2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": sum(int(g) for g in socket.groups()) if socket else 0}


def settle(base_url: str, workers: int = 2) -> None:
    """Wait until requests queued by the last run are served (sync workers take one at a time)."""
    for _ in range(workers * 2):
        requests.get(base_url + "/bench/bare", headers={"User-Agent": USER_AGENT}, timeout=120)


def run_wrk(base_url: str, scenario: Scenario, seconds: int, connections: int, threads: int) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_script(scenario))
        script = Path(f.name)
    try:
        path = scenario.path if scenario.lua is None else "/"
        completed = subprocess.run(
            [WRK, "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s", "--latency",
             "-s", str(script), base_url + path],
            capture_output=True, text=True, timeout=seconds + 60)
    finally:
        script.unlink()
    settle(base_url)
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed for {scenario.name}: {completed.stderr or completed.stdout}")
    return Result(name=scenario.name, ceiling=scenario.ceiling, target=scenario.target, **parse_wrk(completed.stdout))


# ---------------------------------------------------------------- where the CPU goes
#
# On 2 cores every process competes for the same CPU, so throughput is CPU per request. Linux's
# /proc tells how much each part used during a run: the gunicorn processes (the app), the
# PostgreSQL server processes, and the whole machine (which also holds wrk, Redis and the
# kernel's network work). Anything else running on the machine shows in "all".

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _process_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        return int(fields[11]) + int(fields[12])          # utime + stime
    except (OSError, ValueError, IndexError):
        return 0


def _processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, command name) of every process."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    text = f.read()
                name = text[text.index("(") + 1:text.rindex(")")]
                found.append((int(entry), int(text.rpartition(")")[2].split()[1]), name))
            except (OSError, ValueError):
                continue
    return found


def cpu_snapshot(app_pid: int) -> dict | None:
    """CPU ticks used so far by the app (gunicorn and its workers), PostgreSQL, and the machine."""
    if not os.path.exists("/proc/stat"):
        return None
    procs = _processes()
    app = {app_pid} | {pid for pid, parent, _n in procs if parent == app_pid}
    db = {pid for pid, _p, name in procs if name.startswith("postgres")}
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    busy = sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)   # all but idle and iowait
    return {"app": {pid: _process_ticks(pid) for pid in app}, "db": {pid: _process_ticks(pid) for pid in db},
            "all": busy}


def cpu_per_request(before: dict | None, after: dict | None, requests: int) -> dict | None:
    if not before or not after or not requests:
        return None

    def used(part):   # processes that ended during the run count what they had at the start
        return sum(ticks - before[part].get(pid, 0) for pid, ticks in after[part].items())

    scale = 1e6 / _TICK / requests
    return {"app": used("app") * scale, "db": used("db") * scale, "all": (after["all"] - before["all"]) * scale}


# ---------------------------------------------------------------- the table

def table(results: list[Result]) -> str:
    rows = ["| scenario | req/s | p50 ms | p99 ms | non-2xx | ceiling | ratio | target | CPU µs/req app · db · all |",
            "|---|---:|---:|---:|---:|---|---:|---|---:|"]
    for r in results:
        ratio = "" if r.ratio is None else f"{r.ratio:.3f}" if r.ratio < 0.1 else f"{r.ratio:.2f}"
        target = ""
        if r.target is not None:
            met = r.ratio is not None and r.ratio >= r.target
            target = f"≥ {r.target:.2f} {'met' if met else 'MISSED'}"
        cpu = f"{r.cpu_us['app']:,.0f} · {r.cpu_us['db']:,.0f} · {r.cpu_us['all']:,.0f}" if r.cpu_us else ""
        rows.append(f"| {r.name} | {r.requests_per_second:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | "
                    f"{r.non_2xx + r.socket_errors} | {r.ceiling or ''} | {ratio} | {target} | {cpu} |")
    return "\n".join(rows)
