"""A CWMP data model instance: the parameter tree of one simulated box, with TR-069 RPC semantics.

The tree is described by a `Schema` (object and parameter definitions, path patterns with ``{i}``
for instance numbers, types and writability from the Broadband Forum data models) and held by a
`DataModel`: concrete parameter names mapped to their lexical values, the set of existing objects
and the next instance number of every table.

Memory matters (one process holds 10,000 boxes), so a `DataModel` starts by *sharing* the dicts of
a `Template` built once per device profile, and copies them on its first structural change or
write (copy on write). Values that differ per box (serial number, MAC address, connection request
URL, credentials) live in a small per-box overlay, so most boxes never copy the template at all.

Every operation raises `CwmpFault` with the TR-069 fault code and a message naming the path; the
RPC layer (`cpesim.rpc`) turns it into a CWMP Fault.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from acs.cwmp.faults import FaultCode
from acs.cwmp.messages import SetParameterValuesFault, XsdType, lexical_error


class CwmpFault(Exception):
    """A TR-069 fault raised by a data-model operation (code, text, per-parameter SPV faults)."""

    def __init__(
        self,
        code: int,
        message: str,
        parameter_faults: tuple[SetParameterValuesFault, ...] = (),
    ) -> None:
        super().__init__(message)
        self.code = int(code)
        self.message = message
        self.parameter_faults = parameter_faults


class Context(Protocol):
    """What dynamic parameters and access checks may ask of the box that owns the tree."""

    def uptime(self) -> int: ...

    def denied(self, path: str) -> str | None: ...


Dynamic = Callable[["DataModel", str], str]
Validator = Callable[["DataModel", str, str], str | None]


@dataclass(frozen=True, slots=True)
class ParamDef:
    """One parameter of the schema (its name pattern uses ``{i}`` for instance numbers)."""

    pattern: str
    type: XsdType
    writable: bool = False
    default: str = ""
    enum: tuple[str, ...] | None = None
    min: int | None = None
    max: int | None = None
    max_length: int | None = None
    #: A comma-separated list whose items must each be one of `enum` (TR-106 ``list`` syntax).
    is_list: bool = False
    #: Computed on every read (uptime, NumberOfEntries, used space); never stored.
    dynamic: Dynamic | None = None
    #: Extra check run on SetParameterValues; returns why the value is refused, or None.
    validator: Validator | None = None
    #: Passwords: readable only as the empty string (TR-069: "When read, returns an empty string").
    secret: bool = False
    #: TR-069 "active notification may be denied": fault 9009 on a request for it.
    deny_active: bool = False
    #: The parameter is in every Inform (TR-181 "forced inform").
    forced_inform: bool = False

    def check(self, text: str) -> str | None:
        """Why `text` is not an acceptable value of this parameter, or None."""
        problem = lexical_error(text, self.type)
        if problem is not None:
            return problem
        if self.type is XsdType.BOOLEAN:
            return None
        if self.min is not None or self.max is not None:
            number = int(text)
            if self.min is not None and number < self.min:
                return f"{text} is below the minimum {self.min}"
            if self.max is not None and number > self.max:
                return f"{text} is above the maximum {self.max}"
        if self.max_length is not None and len(text) > self.max_length:
            return f"{len(text)} characters exceed the maximum length {self.max_length}"
        if self.enum is not None:
            items = [item.strip() for item in text.split(",")] if self.is_list else [text]
            for item in items:
                if self.is_list and item == "" and len(items) == 1:
                    continue
                if item not in self.enum:
                    return f"{item!r} is not one of {', '.join(self.enum)}"
        return None


@dataclass(frozen=True, slots=True)
class ObjectDef:
    """One object of the schema: a singleton (``A.B.``) or a table instance (``A.B.{i}.``)."""

    pattern: str
    addable: bool = False
    deletable: bool = False
    max_entries: int | None = None

    @property
    def multi(self) -> bool:
        return self.pattern.endswith(".{i}.")

    @property
    def table(self) -> str:
        """``A.B.{i}.`` -> ``A.B.``."""
        return self.pattern[: -len("{i}.")]


_INSTANCE = re.compile(r"\.[0-9]+(?=\.|$)")


@lru_cache(maxsize=4096)
def pattern_of(path: str) -> str:
    """``Device.X.1.Y.22.Z`` -> ``Device.X.{i}.Y.{i}.Z``."""
    return _INSTANCE.sub(".{i}", path)


def parent_of(path: str) -> str:
    """The object containing `path` (``A.B.C`` -> ``A.B.``; ``A.B.`` -> ``A.``)."""
    trimmed = path[:-1] if path.endswith(".") else path
    return trimmed[: trimmed.rfind(".") + 1]


def sort_key(path: str) -> tuple[tuple[int, int | str], ...]:
    """Tree order: segments compared one by one, instance numbers numerically."""
    return tuple(
        (0, int(segment)) if segment.isdigit() else (1, segment)
        for segment in path.rstrip(".").split(".")
    )


class Schema:
    """Object and parameter definitions, indexed by pattern."""

    def __init__(self, root: str = "Device.") -> None:
        self.root = root
        self.objects: dict[str, ObjectDef] = {root: ObjectDef(root)}
        self.params: dict[str, ParamDef] = {}
        self._children: dict[str, list[str]] = {root: []}

    def obj(
        self,
        pattern: str,
        *,
        addable: bool = False,
        deletable: bool | None = None,
        max_entries: int | None = None,
    ) -> ObjectDef:
        if not pattern.endswith(".") or not pattern.startswith(self.root):
            raise ValueError(
                f"object pattern {pattern!r} must start with {self.root} and end with ."
            )
        parent = parent_of(pattern[: -len("{i}.")] if pattern.endswith(".{i}.") else pattern)
        if parent not in self.objects:
            raise ValueError(f"object {pattern!r}: parent {parent!r} is not defined")
        definition = ObjectDef(
            pattern,
            addable=addable,
            deletable=addable if deletable is None else deletable,
            max_entries=max_entries,
        )
        self.objects[pattern] = definition
        self._children[pattern] = []
        self._children[parent].append(pattern)
        return definition

    def param(
        self, pattern: str, xsd_type: str | XsdType = XsdType.STRING, **kwargs: Any
    ) -> ParamDef:
        parent = parent_of(pattern)
        if parent not in self.objects:
            raise ValueError(f"parameter {pattern!r}: object {parent!r} is not defined")
        definition = ParamDef(pattern, XsdType(xsd_type), **kwargs)
        if definition.default and not definition.dynamic and "{" not in definition.default:
            problem = definition.check(definition.default)
            if problem is not None:
                raise ValueError(f"default of {pattern}: {problem}")
        self.params[pattern] = definition
        self._children[parent].append(pattern)
        return definition

    def child_patterns(self, object_pattern: str) -> list[str]:
        """Parameters and objects defined directly inside an object pattern."""
        return self._children[object_pattern]

    def param_def(self, path: str) -> ParamDef | None:
        return self.params.get(pattern_of(path))

    def object_def(self, path: str) -> ObjectDef | None:
        return self.objects.get(pattern_of(path))

    def tables(self, object_pattern: str) -> Iterator[str]:
        """Table patterns (``A.B.{i}.``) directly inside an object pattern."""
        for child in self._children[object_pattern]:
            if child.endswith(".{i}."):
                yield child


@dataclass
class Template:
    """The frozen tree of a device profile, shared by every box built from it."""

    schema: Schema
    values: dict[str, str]
    objects: dict[str, None]
    next_instance: dict[str, int]
    #: Parameters whose default depends on the box (``{serial}``...): formatted into each overlay.
    personal: tuple[tuple[str, str], ...] = ()
    forced_inform: tuple[str, ...] = field(default_factory=tuple)


class DataModel:
    """The parameter tree of one box (see the module docstring for the copy-on-write layout)."""

    __slots__ = (
        "_next",
        "_objects",
        "_own",
        "_values",
        "attributes",
        "context",
        "overlay",
        "schema",
        "template",
    )

    def __init__(
        self, template: Template, overlay: dict[str, str], context: Context | None
    ) -> None:
        self.schema = template.schema
        self.template = template
        self._values = template.values
        self._objects = template.objects
        self._next = template.next_instance
        self._own = False
        self.overlay = overlay
        #: Non-default attributes: path -> (notification, access list).
        self.attributes: dict[str, tuple[int, tuple[str, ...]]] = {}
        self.context = context

    # --- building -------------------------------------------------------------------------------

    @classmethod
    def empty(cls, schema: Schema) -> DataModel:
        """A tree with only the root's singleton objects (all non-table descendants) created."""
        template = Template(schema, {}, {}, {})
        model = cls(template, {}, None)
        model._materialize()
        model._create_object(schema.root)
        return model

    def freeze(self, personal: Iterable[tuple[str, str]] = ()) -> Template:
        """This tree as a template for boxes (``personal``: per-box defaults, path -> format)."""
        forced = tuple(
            sorted(
                (p for p in self._values if (d := self.schema.param_def(p)) and d.forced_inform),
                key=sort_key,
            )
        )
        return Template(
            self.schema,
            dict(self._values),
            dict(self._objects),
            dict(self._next),
            tuple(personal),
            forced,
        )

    def _materialize(self) -> None:
        if not self._own:
            self._values = dict(self._values)
            self._objects = dict(self._objects)
            self._next = dict(self._next)
            self._own = True

    @property
    def shares_template(self) -> bool:
        return not self._own

    def _create_object(self, path: str) -> None:
        """Create `path` with default values, and every singleton object below it."""
        self._objects[path] = None
        pattern = pattern_of(path)
        for child in self.schema.child_patterns(pattern):
            name = child[len(pattern) :]
            if child.endswith(".{i}."):
                self._next.setdefault(path + name[: -len("{i}.")], 1)
            elif child.endswith("."):
                self._create_object(path + name)
            else:
                definition = self.schema.params[child]
                self._values[path + name] = definition.default

    # --- plain access (no access checks: for the box itself and the RPC layer) --------------------

    def has_param(self, path: str) -> bool:
        return path in self._values

    def has_object(self, path: str) -> bool:
        return path in self._objects or self.is_table(path)

    def is_instance(self, path: str) -> bool:
        """An existing object that is an instance of a table (``A.B.3.``)."""
        return (
            path in self._objects and path.endswith(".") and path[:-1].rsplit(".", 1)[-1].isdigit()
        )

    def is_table(self, path: str) -> bool:
        if not path.endswith(".") or path in self._objects:
            return False
        definition = self.schema.objects.get(pattern_of(path) + "{i}.")
        return definition is not None and parent_of(path) in self._objects

    def get(self, path: str) -> str:
        """The stored or computed value (secrets included); KeyError for an unknown parameter."""
        definition = self.schema.param_def(path)
        if definition is not None and definition.dynamic is not None:
            if path not in self._values:
                raise KeyError(path)
            return definition.dynamic(self, path)
        text = self.overlay.get(path)
        if text is not None:
            return text
        return self._values[path]

    def read(self, path: str) -> str:
        """The value as the ACS reads it (secrets as the empty string)."""
        definition = self.schema.param_def(path)
        if definition is not None and definition.secret:
            if path not in self._values:
                raise KeyError(path)
            return ""
        return self.get(path)

    def put(self, path: str, text: str) -> None:
        """Store a value (no checks). Per-box values stay in the overlay."""
        if path not in self._values:
            raise KeyError(path)
        if path in self.overlay:
            self.overlay[path] = text
            return
        if self._values[path] == text:
            return
        self._materialize()
        self._values[path] = text

    def instances(self, table: str) -> list[int]:
        """Instance numbers of a table path (``A.B.``), in order."""
        prefix_len = len(table)
        numbers = []
        for path in self._objects:
            if path.startswith(table):
                rest = path[prefix_len:]
                if rest.count(".") == 1 and rest[:-1].isdigit():
                    numbers.append(int(rest[:-1]))
        return sorted(numbers)

    def add_instance(self, table: str, values: dict[str, str] | None = None) -> int:
        """Create a new instance of a table (numbers are never reused) with optional values."""
        if not self.is_table(table):
            raise KeyError(table)
        self._materialize()
        number = self._next.get(table, 1)
        self._next[table] = number + 1
        path = f"{table}{number}."
        self._create_object(path)
        for name, text in (values or {}).items():
            self.put(path + name, text)
        return number

    def delete_instance(self, path: str) -> None:
        """Delete an instance object and everything below it."""
        if path not in self._objects:
            raise KeyError(path)
        self._materialize()
        for name in [p for p in self._values if p.startswith(path)]:
            del self._values[name]
            self.overlay.pop(name, None)
            self.attributes.pop(name, None)
        for name in [p for p in self._objects if p.startswith(path)]:
            del self._objects[name]
        for name in [t for t in self._next if t.startswith(path)]:
            del self._next[name]

    def params_under(self, prefix: str) -> list[str]:
        """Parameter names below an object path, in tree order."""
        return sorted((p for p in self._values if p.startswith(prefix)), key=sort_key)

    def objects_under(self, prefix: str) -> list[str]:
        """Object paths (instances, singletons and tables) at or below `prefix`, in tree order."""
        found = {p for p in self._objects if p.startswith(prefix)}
        for path in list(found):
            for table_pattern in self.schema.tables(pattern_of(path)):
                found.add(path + table_pattern[len(pattern_of(path)) : -len("{i}.")])
        if self.is_table(prefix):
            found.add(prefix)
        return sorted(found, key=sort_key)

    def writable_object(self, path: str) -> bool:
        """GetParameterNames' Writable for an object: AddObject (tables) or DeleteObject (instances)."""
        if self.is_table(path):
            definition = self.schema.objects.get(pattern_of(path) + "{i}.")
            return definition is not None and definition.addable
        definition = self.schema.object_def(path)
        return definition is not None and definition.multi and definition.deletable

    def notification(self, path: str) -> int:
        entry = self.attributes.get(path)
        return entry[0] if entry else 0

    def access_list(self, path: str) -> tuple[str, ...]:
        entry = self.attributes.get(path)
        return entry[1] if entry else ()

    # --- views through the box's access rules ----------------------------------------------------

    def _denied(self, path: str) -> str | None:
        return self.context.denied(path) if self.context is not None else None

    def visible(self, path: str) -> bool:
        return self._denied(path) is None

    def check_access(self, path: str) -> None:
        reason = self._denied(path)
        if reason is not None:
            raise CwmpFault(FaultCode.REQUEST_DENIED, f"{path}: {reason}")

    def resolve(self, name: str) -> list[str]:
        """Parameter names a GetParameterValues/Attributes name stands for (partial paths expand).

        The empty name is the whole tree. Raises 9005 for an unknown name, 9001 for one the box
        refuses to show (e.g. CDS pull content without the user's consent).
        """
        if name == "":
            name = self.schema.root
        if name.endswith("."):
            if not self.has_object(name):
                raise CwmpFault(FaultCode.INVALID_PARAMETER_NAME, f"{name}: no such object")
            self.check_access(name)
            return [p for p in self.params_under(name) if self.visible(p)]
        if not self.has_param(name):
            raise CwmpFault(FaultCode.INVALID_PARAMETER_NAME, f"{name}: no such parameter")
        self.check_access(name)
        return [name]
