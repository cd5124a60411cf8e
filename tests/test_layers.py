"""The layers, read from the code: every module's imports (AST), against the rules
of docs/DESIGN.md ("Layers"):

  app.core  pure: imports only app.core and the standard library's pure parts
            (no socket, clock, terminal, fork, signals or printing);
  app.net   the IO shells: never a front end (app.ui);
  app.ui    the front ends: may use app.net and app.core;
  app.cli   the composition root: nothing imports it (but `python -m app`).

Lazy imports inside functions count the same as those at the top.
"""
import ast
import pathlib
import sys
from typing import Iterator, List, Tuple

ROOT = pathlib.Path(__file__).resolve().parent.parent
APP = ROOT / "app"

# Standard-library modules that do IO, read the clock or the environment, or
# touch the process: none of them in the core.
IMPURE = {"socket", "select", "selectors", "curses", "time", "os", "sys", "signal",
          "subprocess", "threading", "multiprocessing", "fcntl", "termios", "tty", "pty",
          "mmap", "locale", "tempfile", "shutil", "io", "pathlib", "datetime", "asyncio",
          "logging", "atexit", "ctypes"}
# Who may import app.cli: the `python -m app` launcher alone.
CLI_IMPORTERS = {"app.__main__"}


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: pathlib.Path) -> Iterator[Tuple[int, str]]:
    """(line, imported module) for every import in the file; `from app.core
    import protocol` yields app.core.protocol (a module) as well as app.core."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, node.module + "." + alias.name


def layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "app":
        return "stdlib"
    if len(parts) == 1:
        return "root"
    return parts[1] if parts[1] in ("core", "net", "ui", "cli") else "root"


def violations() -> List[str]:
    found = []
    for path in sorted(APP.rglob("*.py")):
        me = module_name(path)
        mine = layer(me)
        for line, target in imports(path):
            theirs = layer(target)
            where = "%s:%d imports %s" % (path.relative_to(ROOT), line, target)
            if theirs == "cli" and me not in CLI_IMPORTERS:
                found.append(where + " (nothing imports the composition root)")
            elif mine == "core" and theirs in ("net", "ui", "root") and target != "app":
                found.append(where + " (the core imports only the core)")
            elif mine == "core" and theirs == "stdlib" and target.split(".")[0] in IMPURE:
                found.append(where + " (the core does no IO)")
            elif mine == "net" and theirs == "ui":
                found.append(where + " (a shell never imports a front end)")
    return found


def print_calls() -> List[str]:
    found = []
    for path in sorted((APP / "core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("print", "input", "open"):
                found.append("%s:%d calls %s" % (path.relative_to(ROOT), node.lineno, node.func.id))
    return found


def test_no_import_crosses_a_layer_the_wrong_way():
    assert violations() == []


def test_the_core_neither_prints_nor_opens_files():
    assert print_calls() == []


def test_every_module_is_in_a_layer():
    """Only the package's entry files sit beside the three layers."""
    top = sorted(p.name for p in APP.glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "_pyz_main.py", "cli.py"]
    for name in ("core", "net", "ui"):
        assert (APP / name / "__init__.py").is_file()


def test_the_rules_catch_a_wrong_arrow(tmp_path, monkeypatch):
    """The checker itself: a planted core module that imports a shell, a
    socket and the cli, a shell that imports a front end, are all reported."""
    fake = tmp_path / "app"
    for name in ("core", "net", "ui"):
        (fake / name).mkdir(parents=True)
        (fake / name / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "core" / "bad.py").write_text(
        "import socket\nfrom app.net import server\n\ndef f():\n    from app import cli\n")
    (fake / "net" / "bad.py").write_text("from app.ui import admin_tui\n")
    (fake / "ui" / "fine.py").write_text("from app.net import server\nfrom app.core import hub\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "APP", fake)
    found = violations()
    assert any("core/bad.py:1 imports socket" in f for f in found)
    assert any("core/bad.py:2 imports app.net" in f for f in found)
    assert any("core/bad.py:5 imports app.cli" in f for f in found)
    assert any("net/bad.py:1 imports app.ui" in f for f in found)
    assert not any("fine.py" in f for f in found)
