"""Every action the code writes to the audit log has a Chinese name in the one table
(`benefits/audit/labels.py`), read from the source: a new `audit.record(actor, "x.y", …)` without
a line there fails here, and so does a line for an action nothing records any more."""
from __future__ import annotations

import ast
from pathlib import Path

from benefits.audit import labels

PACKAGE = Path(__file__).resolve().parents[2] / "benefits"


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _is_record_call(node) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "record"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "audit")


def _enclosing_functions(tree) -> dict:
    """node → the innermost function that holds it."""
    parents = {}

    def visit(node, func):
        for child in ast.iter_child_nodes(node):
            if func is not None:
                parents[child] = func
            visit(child, child if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else func)

    visit(tree, None)
    return parents


def _argument(call: ast.Call, position: int, name: str):
    if len(call.args) > position and not any(isinstance(a, ast.Starred) for a in call.args[:position + 1]):
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == name), None)


def _actions(node, tree, parents, where: str) -> list[str]:
    """The literal action names an argument can hold: a string, either branch of `a if c else b`, or
    a parameter of the enclosing function that every caller in the module fills with literals."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _actions(node.body, tree, parents, where) + _actions(node.orelse, tree, parents, where)
    if isinstance(node, ast.Name) and node in parents:
        func = parents[node]
        params = [a.arg for a in func.args.posonlyargs + func.args.args]
        if node.id in params + [a.arg for a in func.args.kwonlyargs]:
            position = params.index(node.id) if node.id in params else 10_000
            calls = [c for c in ast.walk(tree) if isinstance(c, ast.Call) and (
                (isinstance(c.func, ast.Name) and c.func.id == func.name)
                or (isinstance(c.func, ast.Attribute) and c.func.attr == func.name))]
            found = []
            for call in calls:
                value = _argument(call, position, node.id)
                assert value is not None, f"{where}: a call of {func.name}() without its action"
                found += _actions(value, tree, parents, f"{where} via line {call.lineno}")
            assert calls, f"{where}: nothing in the module calls {func.name}(), so its action cannot be read"
            return found
    raise AssertionError(f"{where}: the action of this audit.record call cannot be read from the source; "
                         f"pass a string literal (or a parameter that its callers fill with literals)")


def recorded_actions() -> dict[str, str]:
    """action → where it is recorded, for every audit.record call in the package."""
    found: dict[str, str] = {}
    for path, tree in _modules():
        parents = _enclosing_functions(tree)
        for node in ast.walk(tree):
            if _is_record_call(node):
                where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
                action = _argument(node, 1, "action")
                assert action is not None, f"{where}: audit.record without an action"
                for name in _actions(action, tree, parents, where):
                    found.setdefault(name, where)
    return found


def test_the_scan_finds_the_actions_we_know_of():
    found = recorded_actions()
    # literals, both branches of a conditional, and card.freeze passed through _change_status()
    for action in ("prize.create", "user.enable", "user.disable", "card.freeze", "card.lost", "card.cancel",
                   "quiz.question.disable", "user.password_reset"):
        assert action in found, action
    assert len(found) >= 50


def test_every_recorded_action_has_a_name_and_an_area():
    missing = {action: where for action, where in recorded_actions().items() if action not in labels.ACTIONS}
    assert not missing, "actions without a line in benefits/audit/labels.py ACTIONS:\n" + "\n".join(
        f"{action} (recorded at {where})" for action, where in sorted(missing.items()))
    for action, (area, name) in labels.ACTIONS.items():
        assert area in labels.AREAS, action
        assert str(name).strip() and not str(name).isascii(), action


def test_no_action_is_named_that_nothing_records():
    stale = set(labels.ACTIONS) - set(recorded_actions())
    assert not stale, f"lines in ACTIONS for actions nothing records: {sorted(stale)}"


def test_the_log_is_written_only_through_audit_record():
    """Another way in (building AuditEntry rows, or importing `record` under another name) would
    escape the scan above."""
    for path, tree in _modules():
        if path.parent.name == "audit":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("audit.service"):
                assert "record" not in [a.name for a in node.names], path
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("audit.models"):
                raise AssertionError(f"{path}: audit entries are written by audit.record only")
            if isinstance(node, ast.Name) and node.id == "AuditEntry":
                raise AssertionError(f"{path}:{node.lineno}: audit entries are written by audit.record only")
