"""The engine's in-process figure (no HTTP): printed during prepare, no wrk scenarios."""
from bench.engine import report

ORDER = 5


def prepare(app) -> dict:
    line = report()
    print(line)
    return {"engine": line}


def scenarios(state: dict, server) -> list:
    return []
