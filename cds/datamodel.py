"""The CDS parameters of TS 102 542-4 clause 13 and TR-140, read from a box's parameter tree.

Framework-free: names of what to ask the box, and the interpretation of what it answered (values
from `acs.models.DeviceParameters.tree`, ``{path: [value, type, writable]}``). Whatever a box says is
outside input: every value is checked (booleans, unsigned integers, lengths) and a value that does
not parse is reported as unknown (None) rather than guessed.

The names (TS 102 542-4 clause 13, figure 33):

* ``STBService.{i}.Capabilities.X_DVB_CDSPush.CDSPushCapable``; the pull flag is
  ``Capabilities.X_DVB_CDSPull.CDSPullCapable`` — the seed's text puts it under ``X_DVB_CDSPush``
  (twice, very likely a slip), so both places are read, and TR-135 1.1's
  ``Capabilities.CDS.PushCapable/PullCapable`` as a last resort;
* ``STBService.{i}.Components.X_DVB_CDSPush|X_DVB_CDSPull.Reference``: a TR-140 object, i.e. a
  StorageService instance, PhysicalMedium, LogicalVolume or Folder (capacity and used space are
  read there: ``Quota.Capacity``/``Quota.UsedSpace`` of a Folder, ``Capacity``/``UsedSpace`` of a
  LogicalVolume, ``Capacity`` of a PhysicalMedium — TR-140 gives a medium no used space);
* ``...Content.Item.{i}.ContentReferenceId`` / ``VersionNumber`` (and the vendor's ``Title`` and
  ``Size``, bytes of all the item's files, where the box has them), ``Content.ItemNumberOfEntries``;
* ``STBService.{i}.Components.X_DVB_CDSPull.RMSManagementEnabled``: the user's consent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PUSH, PULL = "push", "pull"
SERVICES = (PUSH, PULL)
COMPONENT = {PUSH: "X_DVB_CDSPush", PULL: "X_DVB_CDSPull"}

FOLDER = "folder"
LOGICAL_VOLUME = "logical_volume"
PHYSICAL_MEDIUM = "physical_medium"
STORAGE_SERVICE = "storage_service"
UNKNOWN = "unknown"
NONE = "none"

MAX_TEXT = 256
MAX_UNSIGNED_INT = 2**32 - 1
MAX_UNSIGNED_LONG = 2**64 - 1

_ROOTS = ("Device", "InternetGatewayDevice")
_STORAGE = (
    r"(?P<root>Device|InternetGatewayDevice)\.Services\.StorageService\.(?P<ss>[1-9][0-9]{0,8})\."
)
_REFERENCE = re.compile(
    _STORAGE
    + r"(?:(?P<pm>PhysicalMedium\.[1-9][0-9]{0,8}\.)"
    + r"|(?P<lv>LogicalVolume\.[1-9][0-9]{0,8}\.)(?P<folder>Folder\.[1-9][0-9]{0,8}\.)?)?"
)
_BOOLEAN = {"true": True, "1": True, "false": False, "0": False}


@dataclass(frozen=True, slots=True)
class Reference:
    """A storage reference: what kind of TR-140 object, and its path with a trailing dot."""

    kind: str
    path: str  # "" when kind is none/unknown

    @property
    def resizable(self) -> bool:
        return self.kind == FOLDER


def classify_reference(value: str | None) -> Reference:
    """The TR-140 object a `Reference` value names (with or without its trailing dot)."""
    text = (value or "").strip()
    if not text:
        return Reference(NONE, "")
    if len(text) > MAX_TEXT:
        return Reference(UNKNOWN, "")
    path = text if text.endswith(".") else text + "."
    match = _REFERENCE.fullmatch(path)
    if match is None:
        return Reference(UNKNOWN, "")
    if match.group("folder"):
        return Reference(FOLDER, path)
    if match.group("lv"):
        return Reference(LOGICAL_VOLUME, path)
    if match.group("pm"):
        return Reference(PHYSICAL_MEDIUM, path)
    return Reference(STORAGE_SERVICE, path)


def refusal_to_resize(service: str, reference: Reference) -> str | None:
    """Why a storage cannot be resized remotely (None: it can)."""
    name = "push" if service == PUSH else "pull"
    if reference.kind == FOLDER:
        return None
    if reference.kind in (LOGICAL_VOLUME, PHYSICAL_MEDIUM):
        what = "LogicalVolume" if reference.kind == LOGICAL_VOLUME else "PhysicalMedium"
        return (
            f"the CDS {name} storage is the {what} {reference.path.rstrip('.')}: a partition or "
            "medium is not resizable via remote operations (TS 102 542-4 clause 13, "
            "TS 102 824 F.1); only a storage implemented as a Folder can be resized"
        )
    if reference.kind == STORAGE_SERVICE:
        return (
            f"the CDS {name} storage is the whole StorageService {reference.path.rstrip('.')}: "
            "it is not resizable via remote operations; only a Folder can be resized"
        )
    return f"the box reports no usable TR-140 reference for the CDS {name} storage"


@dataclass(frozen=True, slots=True)
class Paths:
    """The CDS parameter names of one box (data model root, STBService instance)."""

    root: str = "Device"
    stb_instance: int = 1

    def __post_init__(self) -> None:
        if self.root not in _ROOTS:
            raise ValueError(f"data model root {self.root!r} is not one of {', '.join(_ROOTS)}")
        if not 1 <= self.stb_instance <= MAX_UNSIGNED_INT:
            raise ValueError(f"STBService instance {self.stb_instance} is out of range")

    @property
    def stb(self) -> str:
        return f"{self.root}.Services.STBService.{self.stb_instance}."

    @property
    def capabilities(self) -> str:
        return self.stb + "Capabilities."

    def component(self, service: str) -> str:
        return f"{self.stb}Components.{COMPONENT[service]}."

    def reference(self, service: str) -> str:
        return self.component(service) + "Reference"

    @property
    def consent(self) -> str:
        return self.component(PULL) + "RMSManagementEnabled"

    def content(self, service: str) -> str:
        return self.component(service) + "Content."

    def item(self, service: str, instance: int) -> str:
        if not 1 <= instance <= MAX_UNSIGNED_INT:
            raise ValueError(f"content item instance {instance} is out of range")
        return f"{self.content(service)}Item.{instance}."

    def reference_names(self, services: tuple[str, ...]) -> tuple[str, ...]:
        names: list[str] = []
        for service in services:
            names.append(self.reference(service))
            if service == PULL:
                names.append(self.consent)
        return tuple(names)


def usage_names(reference: Reference) -> tuple[str, ...]:
    """What to read for a storage's name, capacity and used space (MB, TR-140)."""
    obj = reference.path
    if reference.kind == FOLDER:
        return (obj + "Name", obj + "Quota.Capacity", obj + "Quota.UsedSpace")
    if reference.kind == LOGICAL_VOLUME:
        return (obj + "Name", obj + "Capacity", obj + "UsedSpace")
    if reference.kind == PHYSICAL_MEDIUM:
        return (obj + "Name", obj + "Capacity")
    return ()


def quota_name(reference: Reference) -> str:
    if reference.kind != FOLDER:
        raise ValueError(f"{reference.path or 'the reference'} is not a Folder")
    return reference.path + "Quota.Capacity"


# --- reading values -------------------------------------------------------------------------------

Tree = dict[str, list]


def _value(tree: Tree, path: str) -> str | None:
    entry = tree.get(path)
    if not isinstance(entry, list | tuple) or not entry:
        return None
    value = entry[0]
    return value if isinstance(value, str) else None


def parse_boolean(text: str | None) -> bool | None:
    if text is None:
        return None
    return _BOOLEAN.get(text.strip().lower())


def parse_unsigned(text: str | None, maximum: int = MAX_UNSIGNED_INT) -> int | None:
    if text is None:
        return None
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 20:
        return None
    number = int(text)
    return number if number <= maximum else None


def text_value(tree: Tree, path: str) -> str:
    value = _value(tree, path) or ""
    return "".join(c for c in value if c.isprintable())[:MAX_TEXT]


def capabilities(tree: Tree, paths: Paths) -> tuple[bool | None, bool | None]:
    """(push capable, pull capable), None where the box reported no flag."""
    caps = paths.capabilities
    push = parse_boolean(_value(tree, caps + "X_DVB_CDSPush.CDSPushCapable"))
    pull = parse_boolean(_value(tree, caps + "X_DVB_CDSPull.CDSPullCapable"))
    if pull is None:  # where the seed's text puts it
        pull = parse_boolean(_value(tree, caps + "X_DVB_CDSPush.CDSPullCapable"))
    if push is None:
        push = parse_boolean(_value(tree, caps + "CDS.PushCapable"))
    if pull is None:
        pull = parse_boolean(_value(tree, caps + "CDS.PullCapable"))
    return push, pull


@dataclass(frozen=True, slots=True)
class Usage:
    name: str
    capacity_mb: int | None
    used_mb: int | None


def usage(tree: Tree, reference: Reference) -> Usage:
    obj = reference.path
    if reference.kind == FOLDER:
        return Usage(
            text_value(tree, obj + "Name"),
            parse_unsigned(_value(tree, obj + "Quota.Capacity")),
            parse_unsigned(_value(tree, obj + "Quota.UsedSpace")),
        )
    if reference.kind == LOGICAL_VOLUME:
        return Usage(
            text_value(tree, obj + "Name"),
            parse_unsigned(_value(tree, obj + "Capacity")),
            parse_unsigned(_value(tree, obj + "UsedSpace")),
        )
    if reference.kind == PHYSICAL_MEDIUM:
        return Usage(
            text_value(tree, obj + "Name"), parse_unsigned(_value(tree, obj + "Capacity")), None
        )
    return Usage("", None, None)


@dataclass(frozen=True, slots=True)
class Item:
    """One content item as the box lists it."""

    instance: int
    crid: str
    version: int | None
    title: str
    size: int | None  # bytes of all its files, where the box reports it


_ITEM = re.compile(r"Item\.([1-9][0-9]{0,9})\.(ContentReferenceId|VersionNumber|Title|Size)")


def items(tree: Tree, paths: Paths, service: str) -> tuple[list[Item], int | None]:
    """The content items below ``Content.`` in the tree, by instance, and the count the box
    reported (`ItemNumberOfEntries`, None if absent)."""
    prefix = paths.content(service)
    found: dict[int, dict[str, str]] = {}
    for path in tree:
        if not path.startswith(prefix):
            continue
        match = _ITEM.fullmatch(path, len(prefix))
        if match is None:
            continue
        instance = int(match.group(1))
        if instance > MAX_UNSIGNED_INT:
            continue
        found.setdefault(instance, {})[match.group(2)] = _value(tree, path) or ""
    out = []
    for instance in sorted(found):
        fields = found[instance]
        version = parse_unsigned(fields.get("VersionNumber"))
        out.append(
            Item(
                instance=instance,
                crid="".join(c for c in fields.get("ContentReferenceId", "") if c.isprintable())[
                    :MAX_TEXT
                ],
                version=version if version is not None and version <= 255 else None,
                title="".join(c for c in fields.get("Title", "") if c.isprintable())[:MAX_TEXT],
                size=parse_unsigned(fields.get("Size"), MAX_UNSIGNED_LONG),
            )
        )
    count = parse_unsigned(_value(tree, prefix + "ItemNumberOfEntries"))
    return out, count


def instance_paths(tree: Tree, paths: Paths, service: str) -> set[int]:
    """Instance numbers of content items present in the tree (any parameter of theirs)."""
    prefix = paths.content(service) + "Item."
    numbers = set()
    for path in tree:
        if path.startswith(prefix):
            head = path[len(prefix) :].split(".", 1)[0]
            if head.isdigit():
                numbers.add(int(head))
    return numbers
