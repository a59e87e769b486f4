"""What vidwatch relies on in its dependencies beyond their public API, checked against
the installed versions: when an upgrade moves one, this says which and where it is used.

The Textual ones live in vidwatch/ui/textual_private.py, textual-serve's one in
vidwatch/web.py, aiohttp's words in vidwatch/core/gateway/http.py; each is explained
there, and pyproject.toml pins those dependencies to the versions checked here. A second
test keeps any other module from touching a dependency's private names.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import sys
from collections.abc import Callable
from importlib.metadata import version
from types import SimpleNamespace
from typing import Any

import pytest

from tests.support.paths import APP

# The distributions whose private names are looked for, by import name.
DEPENDENCIES = {
    "textual": "textual",
    "textual_serve": "textual-serve",
    "rich": "rich",
    "httpx": "httpx",
    "httpx_aiohttp": "httpx-aiohttp",
    "aiohttp": "aiohttp",
    "platformdirs": "platformdirs",
}
# Where each dependency's private names may be used (and are explained).
HOMES = {
    "textual": "ui/textual_private.py",
    "textual_serve": "web.py",
}
# Names with a leading underscore that belong to the standard library, not a dependency.
STANDARD = {
    "_exit": "os._exit: documented (the watchdog ends a stuck process)",
    "_open": "logging.FileHandler._open: the log file made private (0600) when opened",
    "_actions": "argparse.ArgumentParser._actions: the options, for 'did you mean'",
}


# --------------------------------------------------------------------------- the checks


def _textual_app() -> Any:
    from textual.app import App

    return App()


def _toasts() -> bool:
    from textual.screen import Screen
    from textual.widget import Widget
    from textual.widgets._toast import Toast, ToastRack

    return (
        issubclass(Toast, Widget)
        and issubclass(ToastRack, Widget)
        and "ToastRack(" in inspect.getsource(Screen)  # every screen has one
    )


def _notifications() -> bool:
    from textual.notifications import Notifications

    return isinstance(_textual_app()._notifications, Notifications)


def _unnotify() -> bool:
    parameters = inspect.signature(_textual_app()._unnotify).parameters
    return list(parameters) == ["notification", "refresh"]


def _refresh_notifications() -> bool:
    return not inspect.signature(_textual_app()._refresh_notifications).parameters


def _driver() -> bool:
    from textual.driver import Driver

    app = _textual_app()
    return (
        "_driver" in vars(app)
        and app._driver is None  # set while the app runs
        and all(callable(getattr(Driver, name, None)) for name in ("write", "flush"))
    )


def _terminal_modes() -> bool:
    if sys.platform == "win32":
        return True  # Windows' driver keeps no termios settings: nothing to give back
    from textual.drivers.linux_driver import LinuxDriver

    source = inspect.getsource(LinuxDriver)
    return "self.fileno = " in source and "self.attrs_before = termios.tcgetattr" in source


def _fatal_error() -> bool:
    from textual.app import App

    return "self._fatal_error()" in inspect.getsource(App._handle_exception)


def _make_app() -> bool:
    from aiohttp import web
    from textual_serve.server import Server

    app = asyncio.run(Server("true")._make_app())
    routes = {r.resource.canonical for r in app.router.routes() if r.resource is not None}
    return isinstance(app, web.Application) and "/ws" in routes and not app.frozen


def _closing_words() -> bool:
    import aiohttp
    from aiohttp.http_writer import StreamWriter
    from vidwatch.core.gateway.http import _CLOSING

    async def write() -> BaseException | None:
        protocol: Any = SimpleNamespace(transport=None)
        writer = StreamWriter(protocol, asyncio.get_running_loop())
        try:
            await writer.write(b"x")
        except Exception as exc:
            return exc
        return None

    error = asyncio.run(write())
    return (
        isinstance(error, aiohttp.ClientConnectionResetError)
        and isinstance(error, ConnectionResetError)
        and str(error) == _CLOSING
    )


def _client_cookies() -> bool:
    import httpx

    return isinstance(inspect.getattr_static(httpx.AsyncClient, "cookies"), property)


RELIED_ON: list[tuple[str, str, str, Callable[[], bool]]] = [
    # (import name, what, where it is used, check)
    ("textual", "textual.widgets._toast.Toast and ToastRack", "ui/widgets/toasts.py", _toasts),
    ("textual", "App._notifications (Notifications)", "ui/widgets/toasts.py", _notifications),
    ("textual", "App._unnotify(notification, refresh)", "ui/widgets/toasts.py", _unnotify),
    ("textual", "App._refresh_notifications()", "ui/widgets/toasts.py", _refresh_notifications),
    ("textual", "App._driver (a Driver: write, flush)", "ui/controllers/announcer.py", _driver),
    (
        "textual",
        "LinuxDriver.fileno and .attrs_before",
        "ui/app.py (_save_for_exit)",
        _terminal_modes,
    ),
    (
        "textual",
        "App._fatal_error(), called on an unhandled error",
        "ui/app.py (crashed)",
        _fatal_error,
    ),
    ("textual_serve", "Server._make_app() -> web.Application", "web.py", _make_app),
    (
        "aiohttp",
        "ClientConnectionResetError('Cannot write to closing transport') from StreamWriter",
        "core/gateway/http.py (_unwritten: a create that never went out)",
        _closing_words,
    ),
    (
        "httpx",
        "AsyncClient.cookies, a property read for every answer",
        "core/gateway/http.py",
        _client_cookies,
    ),
]


@pytest.mark.parametrize(
    ("module", "what", "where", "check"), RELIED_ON, ids=[r[1].split("(")[0] for r in RELIED_ON]
)
def test_what_vidwatch_relies_on_is_still_there(
    module: str, what: str, where: str, check: Callable[[], bool]
) -> None:
    dist = DEPENDENCIES[module]
    try:
        ok = check()
    except Exception as exc:
        ok = False
        reason = f" ({type(exc).__name__}: {exc})"
    else:
        reason = ""
    home = HOMES.get(module, where)
    assert ok, (
        f"{dist} {version(dist)} no longer has {what}{reason}. vidwatch relies on it in "
        f"app/vidwatch/{home} (for {where}), whose docstring says why: adapt it there, or "
        f"pin {dist} below {version(dist)} in pyproject.toml."
    )


# --------------------------------------------------------------------------- one home


def _modules() -> dict[str, ast.Module]:
    return {
        path.relative_to(APP).as_posix(): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(APP.rglob("*.py"))
    }


def _defined_by_vidwatch(trees: dict[str, ast.Module]) -> set[str]:
    """Names vidwatch gives itself: functions, classes, module and class variables, and
    ``self.x = …`` (a private of a dependency set from outside, ``client._x = …``, is not)."""
    names: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AnnAssign):
                targets = [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    names.add(target.id)
                elif (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id in ("self", "cls")
                ):
                    names.add(target.attr)
    return names


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_only_their_homes_touch_the_private_names_of_dependencies() -> None:
    """``from textual.widgets._toast import …``, ``app._driver``, ``super()._make_app()``
    and overriding a dependency's ``_method`` happen in HOMES only."""
    trees = _modules()
    ours = _defined_by_vidwatch(trees)
    homes = set(HOMES.values())
    offenders: list[str] = []
    for name, tree in trees.items():
        if name in homes:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                modules = [alias.name for alias in node.names]
                if isinstance(node, ast.ImportFrom):
                    modules = [f"{node.module}.{m}" for m in modules] if node.level == 0 else []
                for module in modules:
                    parts = module.split(".")
                    if parts[0] in DEPENDENCIES and any(_private(p) for p in parts[1:]):
                        offenders.append(f"{name}:{node.lineno} imports {module}")
            elif isinstance(node, ast.Attribute) and _private(node.attr):
                called_on_super = (
                    isinstance(node.value, ast.Call)
                    and isinstance(node.value.func, ast.Name)
                    and node.value.func.id == "super"
                )
                if (node.attr not in ours or called_on_super) and node.attr not in STANDARD:
                    offenders.append(f"{name}:{node.lineno} uses .{node.attr}")
    for name in trees:
        if name in homes or name.endswith("__main__.py"):
            continue
        loaded = importlib.import_module("vidwatch." + name.removesuffix(".py").replace("/", "."))
        for cls in vars(loaded).values():
            if not inspect.isclass(cls) or cls.__module__ != loaded.__name__:
                continue
            foreign = [b for b in cls.__mro__[1:] if b.__module__.split(".")[0] in DEPENDENCIES]
            for attr, value in vars(cls).items():
                if not (inspect.isfunction(value) or isinstance(value, property)):
                    continue  # set by a metaclass or __init_subclass__, not by us
                if (
                    _private(attr)
                    and attr not in STANDARD
                    and any(hasattr(b, attr) for b in foreign)
                ):
                    offenders.append(f"{name}: {cls.__name__} overrides {attr}")
    assert not offenders, (
        f"private names of dependencies outside {', '.join(sorted(homes))} (move them there, "
        "say why, and check them in RELIED_ON):\n" + "\n".join(offenders)
    )
