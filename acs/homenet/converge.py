"""The configurator's engine: desired state x a device's stored tree -> the fewest RPCs. Pure.

IEC 62608-1's configurator "obtains information from devices and sends configuration requests to
the configuration agent on each". Here the information is the ACS's stored parameter tree of a
device (``{path: [value, type, writable]}``, `acs.models.DeviceParameters`), the configuration
requests are CWMP RPCs (`acs.cwmp.messages`), and what the device should look like is declared by
profiles (`ProfileSpec`), not scripted.

Three steps, each a function of immutable data:

1. `merge(profiles, variables, tree)`: per-device variables (``{serial}``, ``{mac}``, custom ones)
   are substituted, wildcards (``Device.WiFi.SSID.*.Enable``) expanded over the instances the tree
   knows, object rules matched against existing instances. Claims on one path are settled by
   priority (the highest wins); two claims of the **same** priority with different values are a
   `Conflict`: the path is left out of the desired state and reported, never settled silently.
   Values that break the data model (`acs.homenet.datamodel`) or name an unknown variable are
   `Problem`s, dropped before anything is sent.
2. `plan(merged, tree)`: the diff. Values already right cost nothing; values the tree does not know
   are read first (one GetParameterValues for all of them; a GetParameterNames per table whose
   instances are unknown), and set in a later round; instances to remove are one DeleteObject
   each, missing ones one AddObject each; every value to write goes into **one**
   SetParameterValues — sent at once when nothing is added, otherwise after the AddObject answers
   (`final_set`), so the new instances' values ride in the same batch.
3. The ACS sends the RPCs, merges the answers into the tree, and plans again: a converged device
   plans nothing (`Plan.converged`).

Comparison is by value, not by text: ``1``/``true`` are the same boolean and ``007``/``7`` the same
integer. Where the device reports a type for a path, the value is checked against it and written
with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from acs.cwmp import messages as m
from acs.cwmp.messages import XsdType, lexical_error

from .datamodel import value_error

Tree = Mapping[str, Sequence]  # path -> [value, type, writable]

_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(\.([A-Za-z_][A-Za-z0-9_-]*|[0-9]+|\*))*\.?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*")
_INTEGERS = {XsdType.INT, XsdType.UNSIGNED_INT, XsdType.LONG, XsdType.UNSIGNED_LONG}


class SpecError(ValueError):
    """A profile that cannot mean anything (bad path, bad type, bad value); the text says where."""


# --- what profiles declare ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ValueRule:
    """``path`` should hold ``value`` (a template with ``{variables}``) of ``type``. ``*`` in place
    of an instance number stands for every instance."""

    path: str
    value: str
    type: XsdType = XsdType.STRING

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", XsdType(self.type))
        check_path(self.path, leaf=True)
        check_template(self.path, self.value, self.type)


@dataclass(frozen=True, slots=True)
class Setting:
    """A parameter of an object instance, by its name relative to the instance (``SSID``)."""

    name: str
    value: str
    type: XsdType = XsdType.STRING

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", XsdType(self.type))
        if not _NAME.fullmatch(self.name):
            raise SpecError(f"{self.name!r} is not a relative parameter name (e.g. SSID)")
        check_template(self.name, self.value, self.type)


@dataclass(frozen=True, slots=True)
class ObjectRule:
    """Instances of ``table`` whose parameters equal ``match``: with ``present``, at least one must
    exist (AddObject + the match and ``settings`` values when none does) and every match keeps
    ``settings``; without, every match is deleted."""

    table: str
    match: tuple[Setting, ...] = ()
    present: bool = True
    settings: tuple[Setting, ...] = ()

    def __post_init__(self) -> None:
        check_path(self.table, leaf=False)
        if "*" in self.table:
            raise SpecError(f"{self.table}: an object table takes no wildcard")
        if not self.present and self.settings:
            raise SpecError(f"{self.table}: an absent instance has no settings")
        for s in (*self.match, *self.settings):
            if "{" not in s.value:
                problem = value_error(f"{self.table}{{i}}.{s.name}", s.value, s.type)
                if problem is not None:
                    raise SpecError(problem)
        names = [s.name for s in (*self.match, *self.settings)]
        for name in names:
            if names.count(name) > 1:
                raise SpecError(f"{self.table}: {name} is given twice")

    @property
    def key(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return self.table, tuple(sorted((s.name, s.value) for s in self.match))


@dataclass(frozen=True, slots=True)
class ProfileSpec:
    name: str
    priority: int = 0
    values: tuple[ValueRule, ...] = ()
    objects: tuple[ObjectRule, ...] = ()


def check_path(path: str, *, leaf: bool) -> None:
    if not _PATH.fullmatch(path) or ".." in path:
        raise SpecError(f"{path!r} is not a parameter path")
    if leaf and path.endswith("."):
        raise SpecError(f"{path}: a parameter path does not end with '.'")
    if not leaf and not path.endswith("."):
        raise SpecError(f"{path}: an object table path ends with '.'")


def check_template(where: str, value: str, xsd_type: XsdType) -> None:
    """The value's form, as far as it is known before the variables are: fully when it has none."""
    if "{" in value:
        for name in re.findall(r"\{([^}]*)\}", value):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise SpecError(f"{where}: {{{name}}} is not a variable name")
        return
    problem = value_error(where, value, xsd_type)
    if problem is not None:
        raise SpecError(problem)


def variables_in(text: str) -> set[str]:
    return set(_VARIABLE.findall(text))


def substitute(text: str, variables: Mapping[str, str]) -> str:
    """``{name}`` replaced by the device's variable; a missing one raises KeyError(name)."""

    def one(found: re.Match[str]) -> str:
        return variables[found.group(1)]

    return _VARIABLE.sub(one, text)


# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claim:
    profile: str
    priority: int
    value: str
    type: XsdType


@dataclass(frozen=True, slots=True)
class Conflict:
    """Profiles of the same priority that want different things of one path (or instance)."""

    path: str
    priority: int
    claims: tuple[tuple[str, str], ...]  # (profile, value) - value "present"/"absent" for objects

    def describe(self) -> str:
        wants = "; ".join(f"{profile} wants {value!r}" for profile, value in self.claims)
        return f"{self.path}: profiles of priority {self.priority} disagree ({wants})"


@dataclass(frozen=True, slots=True)
class Problem:
    profile: str
    path: str
    message: str


@dataclass(frozen=True, slots=True)
class Desired:
    path: str
    value: str
    type: XsdType
    profile: str


@dataclass(frozen=True, slots=True)
class AddStep:
    """AddObject of ``table``, then these values on the new instance (by relative name)."""

    table: str
    values: tuple[tuple[str, m.TypedValue], ...]
    profile: str


@dataclass(frozen=True, slots=True)
class Merged:
    values: Mapping[str, Desired]
    deletes: Mapping[str, str]  # instance path -> profile
    adds: tuple[AddStep, ...]
    unknown_tables: frozenset[str]
    unknown_paths: frozenset[str]
    conflicts: tuple[Conflict, ...]
    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class Change:
    path: str
    current: str | None
    value: m.TypedValue
    profile: str


@dataclass(frozen=True, slots=True)
class Plan:
    """What converges the device, in the order it is sent."""

    read_names: tuple[str, ...] = ()  # tables: GetParameterNames(table, NextLevel false) each
    read_values: tuple[str, ...] = ()  # one GetParameterValues
    deletes: tuple[tuple[str, str], ...] = ()  # (instance path, profile): DeleteObject each
    adds: tuple[AddStep, ...] = ()  # AddObject each
    changes: tuple[Change, ...] = ()  # one SetParameterValues (after the adds)
    conflicts: tuple[Conflict, ...] = ()
    problems: tuple[Problem, ...] = ()
    parameter_key: str = ""

    @property
    def converged(self) -> bool:
        """Nothing to send (conflicts and problems may remain: they are not the device's fault)."""
        return not (
            self.read_names or self.read_values or self.deletes or self.adds or self.changes
        )

    def first_round(self) -> list[m.AcsRequest]:
        """The RPCs to queue now. With AddObjects, the SetParameterValues waits for their answers
        (`final_set`) so that all values go in one batch."""
        rpcs: list[m.AcsRequest] = [m.GetParameterNames(table, False) for table in self.read_names]
        if self.read_values:
            rpcs.append(m.GetParameterValues(self.read_values))
        rpcs += [m.DeleteObject(path, self.parameter_key) for path, _ in self.deletes]
        rpcs += [m.AddObject(step.table, self.parameter_key) for step in self.adds]
        if not self.adds and self.changes:
            rpcs.append(self.final_set({}))
        return rpcs

    def final_set(self, instances: Mapping[int, int]) -> m.SetParameterValues:
        """The one SetParameterValues: the changes plus the values of each added instance
        (``instances``: index in `adds` -> the instance number AddObject answered)."""
        params = [m.ParameterValue(c.path, c.value) for c in self.changes]
        for index, step in enumerate(self.adds):
            number = instances.get(index)
            if number is None:
                continue
            params += [
                m.ParameterValue(f"{step.table}{number}.{name}", value)
                for name, value in step.values
            ]
        return m.SetParameterValues(tuple(params), self.parameter_key)

    def after_adds(self, instances: Mapping[int, int]) -> list[m.AcsRequest]:
        """What follows the AddObject answers: the one SetParameterValues, and a read of each new
        instance that has no value to set (else the tree would never learn of it)."""
        rpcs: list[m.AcsRequest] = []
        if not self.adds:
            return rpcs  # the SetParameterValues went with the first round
        final = self.final_set(instances)
        if final.parameters:
            rpcs.append(final)
        bare = [
            f"{step.table}{instances[index]}."
            for index, step in enumerate(self.adds)
            if not step.values and index in instances
        ]
        if bare:
            rpcs.append(m.GetParameterValues(tuple(bare)))
        return rpcs

    def rpc_count(self) -> int:
        sets = 1 if (self.changes or any(step.values for step in self.adds)) else 0
        reads = len(self.read_names) + (1 if self.read_values else 0)
        reads += 1 if any(not step.values for step in self.adds) else 0
        return reads + len(self.deletes) + len(self.adds) + sets

    def describe(self) -> list[str]:
        """One line per thing that would happen, for people (dry run)."""
        lines = [f"read the objects below {table} (GetParameterNames)" for table in self.read_names]
        lines += [f"read {path} (GetParameterValues)" for path in self.read_values]
        lines += [f"delete {path} ({profile})" for path, profile in self.deletes]
        for step in self.adds:
            values = ", ".join(f"{name}={value.text!r}" for name, value in step.values)
            lines.append(
                f"add an instance of {step.table} ({step.profile})"
                + (f": {values}" if values else "")
            )
        for change in self.changes:
            before = "unknown" if change.current is None else repr(change.current)
            lines.append(f"set {change.path}: {before} -> {change.value.text!r} ({change.profile})")
        return lines


# --- the tree --------------------------------------------------------------------------------------


def _value(tree: Tree, path: str) -> str | None:
    entry = tree.get(path)
    return None if entry is None else entry[0]


def _type(tree: Tree, path: str) -> XsdType | None:
    entry = tree.get(path)
    if entry is None or len(entry) < 2 or not entry[1]:
        return None
    try:
        return XsdType(entry[1])
    except ValueError:
        return None


def _writable(tree: Tree, path: str) -> bool | None:
    entry = tree.get(path)
    return None if entry is None or len(entry) < 3 else entry[2]


def table_known(tree: Tree, table: str) -> bool:
    """A table's instances are known when the tree lists the table itself: only a
    GetParameterNames answer does, and it lists every instance with it (values read one by one,
    from Informs or GetParameterValues, say nothing of the instances not read)."""
    return table in tree


def instances(tree: Tree, table: str) -> list[int]:
    """The instance numbers of ``table`` the tree knows."""
    numbers: set[int] = set()
    cut = len(table)
    for path in tree:
        if path.startswith(table):
            head = path[cut:].split(".", 1)[0]
            if head.isdigit():
                numbers.add(int(head))
    return sorted(numbers)


def normal(text: str, xsd_type: XsdType) -> object:
    """The value behind a lexical form, for comparing (``1`` == ``true``, ``07`` == ``7``)."""
    if xsd_type is XsdType.BOOLEAN:
        return {"1": True, "true": True, "0": False, "false": False}.get(text.strip(), text)
    if xsd_type in _INTEGERS:
        try:
            return int(text.strip())
        except ValueError:
            return text
    return text


def same(current: str | None, desired: str, xsd_type: XsdType) -> bool:
    return current is not None and normal(current, xsd_type) == normal(desired, xsd_type)


def expand(path: str, tree: Tree) -> tuple[list[str], set[str]]:
    """Concrete paths for a path with ``*`` instance wildcards, over the instances the tree knows;
    plus the tables that must be read first (their instances are unknown)."""
    if "*" not in path.split("."):
        return [path], set()
    head, _, rest = path.partition(".*.")
    table = head + "."
    if not table_known(tree, table):
        return [], {table}
    paths: list[str] = []
    unknown: set[str] = set()
    for number in instances(tree, table):
        found, missing = expand(f"{table}{number}.{rest}", tree)
        paths += found
        unknown |= missing
    return paths, unknown


def _settle(path: str, claims: Sequence[Claim], conflicts: list[Conflict]) -> Claim | None:
    """The claim of the highest priority; None (and a conflict) when that priority disagrees."""
    top = max(c.priority for c in claims)
    best = [c for c in claims if c.priority == top]
    if len({normal(c.value, c.type) for c in best}) > 1:
        conflicts.append(Conflict(path, top, tuple(sorted({(c.profile, c.value) for c in best}))))
        return None
    return min(best, key=lambda c: c.profile)


# --- 1. merge -----------------------------------------------------------------------------------------


def merge(profiles: Iterable[ProfileSpec], variables: Mapping[str, str], tree: Tree) -> Merged:
    """The one desired state of a device from all profiles that apply to it."""
    value_claims: dict[str, list[Claim]] = {}
    instance_claims: dict[str, list[Claim]] = {}  # instance path -> "present"/"absent"
    add_claims: dict[tuple, list[tuple[Claim, dict[str, list[Claim]]]]] = {}
    absent_rules: list[tuple[ProfileSpec, ObjectRule, tuple[tuple[str, str, XsdType], ...]]] = []
    # ``table.*.name`` rules also speak for instances about to be added: (table, name) -> claims
    wildcard_claims: dict[tuple[str, str], list[Claim]] = {}
    unknown_tables: set[str] = set()
    unknown_paths: set[str] = set()
    problems: list[Problem] = []

    def text_of(profile: ProfileSpec, where: str, template: str) -> str | None:
        try:
            return substitute(template, variables)
        except KeyError as missing:
            problems.append(
                Problem(profile.name, where, f"the device has no variable {{{missing.args[0]}}}")
            )
            return None

    def claim_value(profile: ProfileSpec, path: str, text: str, xsd_type: XsdType) -> None:
        problem = value_error(path, text, xsd_type)
        if problem is not None:
            problems.append(Problem(profile.name, path, problem))
            return
        value_claims.setdefault(path, []).append(
            Claim(profile.name, profile.priority, text, xsd_type)
        )

    conflicts_new: list[Conflict] = []
    ordered = sorted(profiles, key=lambda p: (-p.priority, p.name))
    # Value rules first, so that object rules see every wildcard claim.
    for profile in ordered:
        for rule in profile.values:
            text = text_of(profile, rule.path, rule.value)
            if text is None:
                continue
            paths, missing = expand(rule.path, tree)
            unknown_tables |= missing
            head, star, name = rule.path.partition(".*.")
            if star and "*" not in name.split("."):
                wildcard_claims.setdefault((head + ".", name), []).append(
                    Claim(profile.name, profile.priority, text, rule.type)
                )
            for path in paths:
                claim_value(profile, path, text, rule.type)
    for profile in ordered:
        for obj in profile.objects:
            match: list[tuple[str, str, XsdType]] = []
            settings: list[tuple[str, str, XsdType]] = []
            ok = True
            for target, items in ((match, obj.match), (settings, obj.settings)):
                for s in items:
                    text = text_of(profile, obj.table + s.name, s.value)
                    if text is None:
                        ok = False
                        continue
                    target.append((s.name, text, s.type))
            if not ok:
                continue
            if not table_known(tree, obj.table):
                unknown_tables.add(obj.table)
                continue
            matching: list[int] = []
            undecided = False
            for number in instances(tree, obj.table):
                base = f"{obj.table}{number}."
                verdict = True
                for name, text, xsd_type in match:
                    current = _value(tree, base + name)
                    if current is None:  # read the whole instance: the name may not exist
                        unknown_paths.add(base)
                        undecided = True
                        verdict = False
                        break
                    if not same(current, text, xsd_type):
                        verdict = False
                        break
                if verdict:
                    matching.append(number)
            if undecided:
                continue  # read the instances first: adding now could duplicate one
            claim = Claim(
                profile.name,
                profile.priority,
                "present" if obj.present else "absent",
                XsdType.STRING,
            )
            for number in matching:
                instance_claims.setdefault(f"{obj.table}{number}.", []).append(claim)
                for name, text, xsd_type in settings:
                    claim_value(profile, f"{obj.table}{number}.{name}", text, xsd_type)
            if not obj.present:
                absent_rules.append((profile, obj, tuple(match)))
            elif not matching:
                bad = False
                named: dict[str, list[Claim]] = {}
                for name, text, xsd_type in match:
                    named[name] = [Claim(profile.name, profile.priority, text, xsd_type)]
                    # A wildcard that rewrites a matched name would make the rule add again.
                    for other in wildcard_claims.get((obj.table, name), []):
                        if other.priority >= profile.priority and not same(
                            other.value, text, xsd_type
                        ):
                            conflicts_new.append(
                                Conflict(
                                    f"{obj.table}{{new}}.{name}",
                                    profile.priority,
                                    ((profile.name, text), (other.profile, other.value)),
                                )
                            )
                            bad = True
                for name, text, xsd_type in settings:
                    named[name] = [Claim(profile.name, profile.priority, text, xsd_type)]
                for (table, name), claims in wildcard_claims.items():
                    if table == obj.table and name not in {n for n, _, _ in match}:
                        named.setdefault(name, []).extend(claims)
                if not bad:
                    key = (obj.table, tuple(sorted((n, str(normal(t, x))) for n, t, x in match)))
                    add_claims.setdefault(key, []).append((claim, named))

    conflicts: list[Conflict] = []
    values: dict[str, Desired] = {}
    for path, claims in sorted(value_claims.items()):
        winner = _settle(path, claims, conflicts)
        if winner is not None:
            values[path] = Desired(path, winner.value, winner.type, winner.profile)

    deletes: dict[str, str] = {}
    for path, claims in sorted(instance_claims.items()):
        top = max(c.priority for c in claims)
        best = [c for c in claims if c.priority == top]
        kinds = {c.value for c in best}
        if len(kinds) > 1:
            conflicts.append(
                Conflict(path, top, tuple(sorted({(c.profile, c.value) for c in best})))
            )
            for value_path in [p for p in values if p.startswith(path)]:
                del values[value_path]
            continue
        if kinds == {"absent"}:
            deletes[path] = best[0].profile
            for value_path in [p for p in values if p.startswith(path)]:
                del values[value_path]

    adds: list[AddStep] = []
    for (table, _), entries in sorted(add_claims.items()):
        claim = min(entries, key=lambda e: (-e[0].priority, e[0].profile))[0]
        # Every rule asking for this instance contributes its settings; priority settles names.
        by_name: dict[str, list[Claim]] = {}
        for _, named in entries:
            for name, claims in named.items():
                for one in claims:
                    if one not in by_name.setdefault(name, []):
                        by_name[name].append(one)
        step_values: list[tuple[str, m.TypedValue]] = []
        for name, claims in by_name.items():
            winner = _settle(f"{table}{{new}}.{name}", claims, conflicts_new)
            if winner is None:
                continue
            problem = value_error(f"{table}{{i}}.{name}", winner.value, winner.type)
            if problem is not None:
                problems.append(Problem(winner.profile, table + name, problem))
                continue
            step_values.append((name, m.TypedValue(winner.value, winner.type)))
        # Would the new instance be deleted by an absent rule? Priority decides; a tie conflicts.
        blocked = False
        for profile, obj, match in absent_rules:
            if obj.table != table:
                continue
            given = dict(step_values)
            if all(
                name in given and same(given[name].text, text, xsd_type)
                for name, text, xsd_type in match
            ):
                if profile.priority > claim.priority:
                    blocked = True
                elif profile.priority == claim.priority:
                    conflicts.append(
                        Conflict(
                            f"{table}{{new}}.",
                            claim.priority,
                            tuple(sorted({(claim.profile, "present"), (profile.name, "absent")})),
                        )
                    )
                    blocked = True
        if not blocked:
            adds.append(AddStep(table, tuple(step_values), claim.profile))

    for conflict in conflicts_new:  # the same new-instance name may be met once per rule
        if conflict not in conflicts:
            conflicts.append(conflict)
    return Merged(
        values=values,
        deletes=deletes,
        adds=tuple(adds),
        unknown_tables=frozenset(unknown_tables),
        unknown_paths=frozenset(unknown_paths),
        conflicts=tuple(conflicts),
        problems=tuple(problems),
    )


# --- 2. plan ------------------------------------------------------------------------------------------


def _covered(path: str, prefixes: Iterable[str]) -> bool:
    return any(path.startswith(prefix) for prefix in prefixes)


def plan(merged: Merged, tree: Tree, *, parameter_key: str = "") -> Plan:
    """The diff between the desired state and the tree, as the fewest RPCs."""
    problems = list(merged.problems)
    read_names = sorted(
        t for t in merged.unknown_tables if not _covered(t, merged.unknown_tables - {t})
    )
    reads: set[str] = set(merged.unknown_paths)
    changes: list[Change] = []
    deleted = tuple(merged.deletes)
    for path, desired in sorted(merged.values.items()):
        if _covered(path, deleted):
            continue
        current = _value(tree, path)
        if current is None:
            reads.add(path)
            continue
        device_type = _type(tree, path)
        xsd_type = desired.type
        if device_type is not None and device_type != desired.type:
            problem = lexical_error(desired.value, device_type)
            if problem is not None:
                problems.append(
                    Problem(
                        desired.profile,
                        path,
                        f"the device types {path} as {device_type}: {problem}",
                    )
                )
                continue
            xsd_type = device_type
        if same(current, desired.value, xsd_type):
            continue
        if _writable(tree, path) is False:
            problems.append(
                Problem(
                    desired.profile,
                    path,
                    f"{path} is read-only on this device (it holds {current!r})",
                )
            )
            continue
        changes.append(
            Change(path, current, m.TypedValue(desired.value, xsd_type), desired.profile)
        )
    read_values = sorted(
        p
        for p in reads
        if not _covered(p, read_names)
        and not _covered(p, {r for r in reads if r.endswith(".") and r != p})
    )
    return Plan(
        read_names=tuple(read_names),
        read_values=tuple(read_values),
        deletes=tuple(sorted(merged.deletes.items())),
        adds=merged.adds,
        changes=tuple(changes),
        conflicts=merged.conflicts,
        problems=tuple(problems),
        parameter_key=parameter_key,
    )


def converge(
    profiles: Iterable[ProfileSpec],
    variables: Mapping[str, str],
    tree: Tree,
    *,
    parameter_key: str = "",
) -> Plan:
    """`merge` then `plan`: what would change on this device."""
    return plan(merge(profiles, variables, tree), tree, parameter_key=parameter_key)


@dataclass(slots=True)
class Outcome:
    """What a simulated or real round did, for `apply_answers`."""

    values: dict[str, tuple[str, str, bool | None]] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)


def apply_answers(tree: Tree, outcome: Outcome) -> dict[str, list]:
    """The tree after the ACS merged a round's answers (as `acs.services` does): pruned tables
    replaced by what was read, deleted instances gone, read and written values stored."""
    new = {path: list(entry) for path, entry in tree.items()}
    for prefix in (*outcome.pruned, *outcome.deleted):
        for path in [p for p in new if p.startswith(prefix)]:
            del new[path]
    for path, (value, xsd_type, writable) in outcome.values.items():
        old = new.get(path, [None, None, None])
        new[path] = [value, xsd_type, writable if writable is not None else old[2]]
    return new
