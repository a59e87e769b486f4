"""Architecture rules that keep the core headless."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import APP

CORE = APP / "core"


def test_core_never_imports_textual_statically() -> None:
    offenders = []
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {n}"
                for n in names
                if n.split(".")[0] in ("textual", "vidwatch")
                and (n.startswith("textual") or n.startswith("vidwatch.ui"))
            ]
    assert offenders == []


@pytest.mark.e2e
def test_importing_the_core_loads_no_textual() -> None:
    code = (
        "import sys, pkgutil, importlib, vidwatch.core\n"
        "for m in pkgutil.walk_packages(vidwatch.core.__path__, 'vidwatch.core.'):\n"
        "    importlib.import_module(m.name)\n"
        "import vidwatch.cli\n"
        "bad = [m for m in sys.modules if m == 'textual' or m.startswith('textual.')]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.e2e
def test_the_pure_core_loads_no_http_stack() -> None:
    """Scheduling, polling and parsing work on outcomes: only the client (and the
    downloader, and the simulator, a server) load httpx or aiohttp."""
    code = (
        "import sys\n"
        "import vidwatch.core.polling.scheduler, vidwatch.core.polling.poller\n"
        "import vidwatch.core.gateway.parsing\n"
        "import vidwatch.core.text.urls, vidwatch.core.config, vidwatch.core.store.task_file\n"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & {'httpx', 'aiohttp', 'httpcore'})\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_only_the_http_module_uses_aiohttp_as_a_client() -> None:
    """One HTTP stack: aiohttp is imported by vidwatch/core/gateway/http.py (the transport)
    and by the two servers (the simulator and ``vidwatch web``), nowhere else."""
    users = set()
    for path in CORE.parent.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            else:
                continue
            if any(n.split(".")[0] in ("aiohttp", "httpx_aiohttp") for n in names):
                users.add(path.relative_to(CORE.parent).as_posix())
    assert users == {
        "core/gateway/http.py",
        "simulator/server.py",
        "simulator/creates.py",
        "simulator/billing.py",
        "web.py",
    }


HOOKS = {
    "ALLOW_SELECT",  # KeyFooter: a footer's keys are not text to select, as in Textual's
    "BINDINGS",
    "COMPONENT_CLASSES",
    "CSS_PATH",
    "DEFAULT_CLASSES",
    "TITLE",
    "compose",
    "get_default_screen",
    "get_selection",  # DetailPane: text selection for a line-API widget, as Log does
    "get_system_commands",
    "check_action",  # MainScreen: p is Pause or Resume, whichever applies
    "selection_updated",
    "notify",  # VidwatchApp.notify: deliberately plain text for every toast
    "_fatal_error",  # CrashHook (ui/textual_private.py): a crash report without locals (the key)
    "render",
    "render_line",
    "BUTTON_INNER",  # PlainRadioButton: Textual's documented glyph, set to show on and off
    "virtual_size",  # a ScrollView sets it by design
}
HOOK_PREFIXES = ("on_", "action_", "watch_", "validate_", "compute_", "__")


def _names_defined_by(cls: type) -> set[str]:
    """Methods and class attributes in the class body, and every ``self.x = …`` in it
    (setting a property of the base, like ``display`` or ``border_title``, is its API)."""
    import inspect
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0]
    assert isinstance(body, ast.ClassDef)
    names: set[str] = set()
    for statement in body.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(statement.name)
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            names.add(statement.target.id)
        elif isinstance(statement, ast.Assign):
            names.update(t.id for t in statement.targets if isinstance(t, ast.Name))
    for node in ast.walk(body):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
                and not hasattr(inspect.getattr_static(cls, target.attr, None), "__set__")
            ):
                names.add(target.attr)
    return names


def test_ui_classes_never_shadow_textual_internals() -> None:
    """Overriding App._shutdown or Widget.remove by accident broke quitting once; never again."""
    import contextlib
    import importlib
    import inspect
    import pkgutil

    import vidwatch.ui
    from textual.dom import DOMNode

    offenders: list[str] = []
    checked = 0
    for info in pkgutil.walk_packages(vidwatch.ui.__path__, "vidwatch.ui."):
        module = importlib.import_module(info.name)
        for cls in vars(module).values():
            if not (inspect.isclass(cls) and issubclass(cls, DOMNode)):
                continue
            if cls.__module__ != module.__name__:
                continue
            checked += 1
            base = next(b for b in cls.__mro__[1:] if b.__module__.startswith("textual"))
            instance: set[str] = set()
            with contextlib.suppress(Exception):
                instance = set(vars(base()))
            for name in sorted(_names_defined_by(cls)):
                if name in HOOKS or name.startswith(HOOK_PREFIXES):
                    continue
                if hasattr(base, name) or name in instance:
                    offenders.append(f"{cls.__name__}.{name} shadows {base.__name__}.{name}")
    assert checked >= 8
    assert offenders == []


# The rooms of core/, lowest first. A module may import from its own room and from rooms
# on a lower floor, never from its floor or above: text is the ground; session, changes
# and config (the top of core, not in a room) may import anything in core.
FLOORS: dict[str, int] = {
    "text": 0,
    "model": 1,
    "runtime": 1,
    "gateway": 2,
    "store": 2,
    "money": 3,
    "polling": 3,
    "create": 3,
    "downloads": 3,
    "media": 4,
}
TOP = 5


def _room(module: str) -> str | None:
    """``gateway`` for ``vidwatch.core.gateway.client``; ``""`` for the top of core."""
    parts = module.split(".")
    if parts[:2] != ["vidwatch", "core"]:
        return None
    return parts[2] if len(parts) > 2 and parts[2] in FLOORS else ""


def _imports(path: Path) -> list[str]:
    """Every vidwatch module ``path`` imports, at the top or inside a function (a lazy
    import is still a dependency); ``TYPE_CHECKING`` imports too."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return [name for name in found if name.startswith("vidwatch.")]


def test_the_rooms_of_core_import_one_way() -> None:
    """text → model / runtime → gateway / store → money / polling / create / downloads →
    media → the top (session, changes, config): no room imports one on its own floor or
    above, and the core never imports the interfaces (cli, ui, web) or the simulator."""
    offenders: list[str] = []
    rooms_seen: set[str] = set()
    for path in sorted(CORE.rglob("*.py")):
        name = ".".join(path.relative_to(APP.parent).with_suffix("").parts)
        here = _room(name.removesuffix(".__init__"))
        assert here is not None
        rooms_seen.add(here)
        floor = FLOORS.get(here, TOP)
        for target in _imports(path):
            if target in ("vidwatch", "vidwatch.__version__"):
                continue  # the package's version: no module behind it
            if not target.startswith("vidwatch.core"):
                offenders.append(f"{name} imports {target} (outside the core)")
                continue
            there = _room(target)
            if there is None or there == here or target == "vidwatch.core":
                continue
            if FLOORS.get(there, TOP) >= floor:
                offenders.append(f"{name} imports {target} ({there or 'top'} is not below {here})")
    assert rooms_seen >= set(FLOORS), "a room of the order has no module"
    assert sorted(set(offenders)) == []


def test_no_module_of_vidwatch_imports_itself_back() -> None:
    """No circle of imports anywhere in vidwatch (lazy and TYPE_CHECKING imports count):
    each module can be read knowing only what it imports. The simulator's query and
    create sides meet through a protocol (``simulator.creates.Host``), not each other."""
    modules = {
        ".".join(path.relative_to(APP.parent).with_suffix("").parts).removesuffix(".__init__"): path
        for path in APP.rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {
            target
            for target in _imports(path)
            if target in modules and target != name and not name.startswith(f"{target}.")
        }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert cycles == []
