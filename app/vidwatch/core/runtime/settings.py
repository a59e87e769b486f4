"""How a setting is declared, read, checked and documented: each one declared once.

A settings dataclass declares every field that the config file sets with
:func:`setting` — its default, its :class:`Kind` (the type and range), one line of help
and, for a few, the environment variable that overrides it — and every ``[table]`` with
:func:`section`. Everything else is derived from those declarations:

* :func:`read` builds the values from a parsed TOML table: unknown keys are warned
  about, each value is checked by its kind, and a refusal is one sentence naming the
  setting, the value and what is allowed;
* :func:`markdown_table` and :func:`example_toml` write the README's table and example.

Adding a setting is one declaration on its dataclass, plus the code that uses it::

    max_spend: float | None = setting(None, Number(0.0, 10000.0, "USD"), "stop past this")

A new ``[table]`` is a settings dataclass and one :func:`section` field; a setting whose
value is a table of its own (``[prices]``: model → number) is one declaration of kind
:class:`Entries`::

    prices: Mapping[str, float] = setting_factory(
        dict, Entries(Name("a model name"), Number(0.0, 100.0, "USD")), "price per second"
    )

An environment variable that overrides a setting gives text, so only settings whose
kind takes a string have one (``env=``).
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import field, fields
from pathlib import Path
from typing import Any, Final, NamedTuple, Protocol, TypeVar

__all__ = [
    "Choice",
    "ConfigError",
    "Entries",
    "Flag",
    "Folder",
    "Kind",
    "Name",
    "Number",
    "Reading",
    "Refused",
    "Row",
    "Secret",
    "Section",
    "Setting",
    "Text",
    "declared",
    "every_setting",
    "example_toml",
    "markdown_table",
    "read",
    "section",
    "setting",
    "setting_factory",
]

T = TypeVar("T")
_META: Final = "vidwatch.setting"


class ConfigError(Exception):
    """The configuration cannot be used; ``str()`` is one clear sentence."""


class Refused(ValueError):
    """A value its kind does not take. ``str()`` ends a sentence that begins with the
    setting's name: ``must be true or false, not 'yes'``."""


# -- kinds: the type and range of a value ------------------------------------------------


class Kind(Protocol):
    """What a setting takes: ``allowed`` says it, in the errors and in the README."""

    @property
    def allowed(self) -> str: ...

    def check(self, value: object) -> object:
        """The value to use, or :class:`Refused`."""
        ...


def _refuse(kind: Kind, value: object) -> Refused:
    return Refused(f"must be {kind.allowed}, not {value!r}")


class Flag(NamedTuple):
    allowed: str = "true or false"

    def check(self, value: object) -> bool:
        if not isinstance(value, bool):
            raise _refuse(self, value)
        return value


class Number(NamedTuple):
    """A number from ``low`` to ``high``: a whole number when both bounds are ints.

    Every number the file sets is bounded: outside its range vidwatch misbehaves
    (100,000 connections at once run out of file descriptors) or stops being useful (a
    timeout of a microsecond)."""

    low: float
    high: float
    unit: str = ""

    @property
    def whole(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int)

    @property
    def span(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"from {_show(self.low)} to {_show(self.high)}{unit}"

    @property
    def allowed(self) -> str:
        return f"{'a whole number' if self.whole else 'a number'} {self.span}"

    def check(self, value: object) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (self.whole and not isinstance(value, int))
            or not math.isfinite(value)
        ):
            raise _refuse(self, value)
        if not self.low <= value <= self.high:
            raise Refused(f"= {_show(value)} is out of range: use {self.span}")
        return int(value) if self.whole else float(value)


class Choice(NamedTuple):
    options: tuple[str, ...]

    @property
    def allowed(self) -> str:
        return f"one of {', '.join(self.options)}"

    def check(self, value: object) -> str:
        if not isinstance(value, str) or value not in self.options:
            raise _refuse(self, value)
        return value


class Text(NamedTuple):
    """Any string (a rule that joins it with other settings checks it further)."""

    allowed: str = "a string"

    def check(self, value: object) -> str:
        if not isinstance(value, str):
            raise _refuse(self, value)
        return value


class Name(NamedTuple):
    """A name such as a model's: printable, no spaces inside, at most ``longest``."""

    allowed: str = "a name"
    longest: int = 128

    def check(self, value: object) -> str:
        if (
            not isinstance(value, str)
            or not value.strip()
            or len(value) > self.longest
            or not all(ch.isprintable() and not ch.isspace() for ch in value.strip())
        ):
            raise _refuse(self, value)
        return value.strip()


class Folder(NamedTuple):
    """A folder; ``~`` is the home folder."""

    allowed: str = "a folder path"

    def check(self, value: object) -> Path:
        if not (isinstance(value, str) and value.strip()):
            raise _refuse(self, value)
        return Path(value).expanduser()


class Secret(NamedTuple):
    """A credential sent in an HTTP header: printable ASCII without spaces. A refusal
    never repeats the value; blank is no value (``None``)."""

    allowed: str = "a string"

    def check(self, value: object) -> str | None:
        if not isinstance(value, str):
            raise Refused(f"must be {self.allowed}")
        value = value.strip()
        if not all(0x21 <= ord(ch) <= 0x7E for ch in value):
            raise Refused(
                "contains spaces, invisible or non-ASCII characters that cannot be sent "
                "in an HTTP header; paste it again"
            )
        return value or None


class Entries(NamedTuple):
    """A table of its own whose keys are names, not settings (``[prices]``: model →
    number); the value is a read-only mapping."""

    key: Kind
    value: Kind

    @property
    def allowed(self) -> str:
        return f"a table of {self.key.allowed} = {self.value.allowed}"

    def check(self, value: object) -> Mapping[object, object]:
        if not isinstance(value, dict):
            raise _refuse(self, value)
        checked: dict[object, object] = {}
        for key, item in value.items():
            try:
                checked[self.key.check(key)] = self.value.check(item)
            except Refused as exc:
                raise Refused(f"entry {key!r} {exc}") from None
        return types.MappingProxyType(checked)


def _show(number: float) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)


# -- declarations -------------------------------------------------------------------------


class Setting(NamedTuple):
    """One key of the config file: how it is checked, what it is for, and the
    environment variable that wins over it (its value is text, so only for kinds that
    take a string)."""

    kind: Kind
    help: str
    env: str | None = None
    shown: str | None = None  # the default as the README shows it, when it is the machine's


class Section(NamedTuple):
    """A ``[table]`` of the config file, read into its own settings dataclass."""

    name: str
    cls: type[Any]
    help: str


def setting(default: T, kind: Kind, help: str, *, env: str | None = None, repr: bool = True) -> T:
    """A field that the config file sets: its default, kind and one line of help."""
    return field(default=default, repr=repr, metadata={_META: Setting(kind, help, env)})


def setting_factory(
    factory: Callable[[], T], kind: Kind, help: str, *, shown: str | None = None
) -> T:
    """A setting whose default depends on the machine (``shown`` is what the README says)."""
    return field(default_factory=factory, metadata={_META: Setting(kind, help, shown=shown)})


def section(name: str, cls: type[T], help: str) -> T:
    """A field holding the ``[name]`` table, read into ``cls`` (a settings dataclass)."""
    return field(default_factory=cls, metadata={_META: Section(name, cls, help)})


def declared(cls: type[Any]) -> Iterator[tuple[str, Setting | Section]]:
    """The fields of ``cls`` the config file sets, in order, with their declarations."""
    for item in fields(cls):
        declaration = item.metadata.get(_META)
        if declaration is not None:
            yield item.name, declaration


def _key(attr: str, declaration: Setting | Section) -> str:
    """The key in the file: the field's name, or the table's (``policy`` is ``[polling]``)."""
    return declaration.name if isinstance(declaration, Section) else attr


def _default(cls: type[Any], name: str) -> Any:
    for item in fields(cls):
        if item.name == name:
            return item.default_factory() if callable(item.default_factory) else item.default
    raise KeyError(name)


# -- reading ------------------------------------------------------------------------------


class Reading(NamedTuple):
    """Every setting's value (the default when neither the file nor the environment sets
    it), and where each value that was set came from: the environment variable's name
    or ``path: 'key'`` — how messages about it begin."""

    values: dict[str, Any]
    places: dict[str, str]

    def place(self, name: str) -> str:
        """Where the value of ``name`` (``polling.concurrency``) came from."""
        return self.places.get(name, f"'{name}'")


def read(
    cls: type[Any],
    table: Mapping[str, object],
    *,
    where: str,
    environ: Mapping[str, str],
    warnings: list[str],
    prefix: str = "",
    top: frozenset[str] = frozenset(),
) -> Reading:
    """The settings of ``cls`` from ``table`` (the parsed file, or one of its tables) and
    the environment, checked; a refusal raises :class:`ConfigError`. ``top``: the
    settings of the file's top level (for a table's: one put in a table by mistake)."""
    reading = Reading({}, {})
    keys = {_key(attr, d): (attr, d) for attr, d in declared(cls)}
    if not prefix:
        top = frozenset(k for k, (_, d) in keys.items() if not isinstance(d, Section))
    for key in sorted(set(table) - set(keys)):
        hint = f" ('{key}' is set at the top, before the first [table])" if key in top else ""
        warnings.append(f"{where}: unknown setting '{prefix}{key}' ignored{hint}")
    for key, (attr, declaration) in keys.items():
        name = f"{prefix}{key}"
        if isinstance(declaration, Section):
            inner = table.get(key, {})
            if not isinstance(inner, dict):
                raise ConfigError(f"{where}: [{name}] must be a table, not {inner!r}")
            part = read(
                declaration.cls,
                inner,
                where=where,
                environ=environ,
                warnings=warnings,
                prefix=f"{name}.",
                top=top,
            )
            try:
                reading.values[attr] = declaration.cls(**part.values)
            except ValueError as exc:  # a rule that joins two settings (max ≥ min)
                raise ConfigError(f"{where}: {exc}") from None
            reading.places.update(part.places)
            continue
        from_env = environ.get(declaration.env, "").strip() if declaration.env else ""
        if from_env:
            value: object = from_env
            place = str(declaration.env)
        elif key in table:
            value, place = table[key], f"{where}: '{name}'"
        else:
            reading.values[attr] = _default(cls, attr)
            continue
        try:
            reading.values[attr] = declaration.kind.check(value)
        except Refused as exc:
            raise ConfigError(f"{place} {exc}") from None
        reading.places[name] = place
    return reading


# -- documenting ---------------------------------------------------------------------------


class Row(NamedTuple):
    """One setting as the README lists it."""

    name: str  # dotted: ``polling.concurrency``
    setting: Setting
    default: object  # ``setting.shown`` when the machine decides it; None: no default


def every_setting(cls: type[Any], prefix: str = "") -> Iterator[Row]:
    """Every setting of ``cls`` and of its tables, each table after the plain keys (the
    order of a TOML file)."""
    for key, declaration in declared(cls):
        if isinstance(declaration, Setting):
            default = declaration.shown or _default(cls, key)
            yield Row(f"{prefix}{key}", declaration, default)
    for _, declaration in declared(cls):
        if isinstance(declaration, Section):
            yield from every_setting(declaration.cls, f"{prefix}{declaration.name}.")


def _literal(value: object) -> str:
    """``value`` as TOML writes it (the defaults are plain values)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _cell(default: object) -> str:
    if isinstance(default, Mapping):
        return ", ".join(f"`{_literal(k)} = {_literal(v)}`" for k, v in default.items()) or "none"
    return "none" if default is None else f"`{_literal(default)}`"


def markdown_table(cls: type[Any]) -> str:
    """The README's table of settings: name, default, what is allowed, what it does."""
    lines = ["| setting | default | allowed | what it does |", "|---|---|---|---|"]
    for row in every_setting(cls):
        help = row.setting.help
        if row.setting.env:
            help += f"; `{row.setting.env}` wins over it"
        cells = [f"`{row.name}`", _cell(row.default), row.setting.kind.allowed]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in [*cells, help]) + " |")
    return "\n".join(lines) + "\n"


def example_toml(cls: type[Any], prefix: str = "") -> str:
    """A config file that sets every setting to its default: one to copy from."""
    top: list[str] = []
    tables: list[str] = []
    for key, declaration in declared(cls):
        if isinstance(declaration, Section):
            name = f"{prefix}{declaration.name}"
            tables += ["", f"[{name}]  # {declaration.help}"]
            tables.append(example_toml(declaration.cls, f"{name}.").rstrip("\n"))
            continue
        default = declaration.shown or _default(cls, key)
        if isinstance(default, Mapping):  # a table of its own (kind Entries)
            tables += ["", f"[{prefix}{key}]  # {declaration.help}"]
            tables += [f"{_literal(k)} = {_literal(v)}" for k, v in default.items()]
        elif default is None:
            top.append(f"# {key} = …" if isinstance(declaration.kind, Number) else f'# {key} = "…"')
        else:
            top.append(f"{key} = {_literal(default)}")
    return "\n".join(top + tables).strip("\n") + "\n"
