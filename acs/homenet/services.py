"""The configurator's services: profiles, per-device evaluation (dry run), convergence through the
ACS task queue, and compliance from task outcomes. The pure engine is `acs.homenet.converge`.

Hooks into the ACS (which offers no extension point of its own): `acs.homenet.signals` calls
`inform_received` after the transaction of an Inform commits (Device post_save + on_commit: the
parameter tree is merged by then, and tasks queued here go out in the same session), and
`task_finished` when a task this module queued ends (Task post_save, inside the session's
transaction: a follow-up queued there is sent in the same session too).
"""

from __future__ import annotations

import logging
import re
import time
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from acs.choices import TaskState
from acs.cwmp import messages as m
from acs.homenet import converge as c
from acs.homenet.choices import EVENT_TRIGGERS, ComplianceState, Trigger
from acs.homenet.datamodel import value_error
from acs.homenet.models import Compliance, DeviceVariable, Profile
from acs.models import Device, DeviceParameters, Task
from acs.services import tasks as task_services
from portal.audit import record_event
from portal.choices import AuditKind

log = logging.getLogger("acs.homenet")

PARAMETER_KEY = "homenet"
MAX_ROUNDS = 4


# --- profiles ------------------------------------------------------------------------------------


def _settings(items: Any, where: str) -> tuple[c.Setting, ...]:
    if not isinstance(items, list):
        raise c.SpecError(f"{where}: a list of {{name, value, type}} is expected")
    out = []
    for n, item in enumerate(items):
        if not isinstance(item, dict) or "name" not in item or "value" not in item:
            raise c.SpecError(f"{where}[{n}]: {{name, value, type}} is expected, got {item!r}")
        out.append(c.Setting(str(item["name"]), _text(item["value"]), _type(item, f"{where}[{n}]")))
    return tuple(out)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _type(item: dict, where: str) -> m.XsdType:
    try:
        return m.XsdType(item.get("type") or "string")
    except ValueError:
        kinds = ", ".join(t.value for t in m.XsdType)
        raise c.SpecError(f"{where}: type {item.get('type')!r} is not one of {kinds}") from None


def spec_from(name: str, priority: int, values: Any, objects: Any) -> c.ProfileSpec:
    """The engine's view of a profile's rules; `SpecError` names the rule and the value."""
    if not isinstance(values, list):
        raise c.SpecError("values: a list of {path, value, type} is expected")
    if not isinstance(objects, list):
        raise c.SpecError("objects: a list of {table, match, present, settings} is expected")
    rules = []
    for n, item in enumerate(values):
        if not isinstance(item, dict) or "path" not in item or "value" not in item:
            raise c.SpecError(f"values[{n}]: {{path, value, type}} is expected, got {item!r}")
        try:
            rules.append(
                c.ValueRule(str(item["path"]), _text(item["value"]), _type(item, f"values[{n}]"))
            )
        except c.SpecError as exc:
            raise c.SpecError(
                exc.args[0] if str(exc).startswith("values[") else f"values[{n}]: {exc}"
            ) from None
    paths = [r.path for r in rules]
    for path in paths:
        if paths.count(path) > 1:
            raise c.SpecError(f"values: {path} is given twice")
    object_rules = []
    for n, item in enumerate(objects):
        if not isinstance(item, dict) or "table" not in item:
            raise c.SpecError(f"objects[{n}]: {{table, match, present, settings}} is expected")
        try:
            object_rules.append(
                c.ObjectRule(
                    str(item["table"]),
                    _settings(item.get("match", []), f"objects[{n}].match"),
                    bool(item.get("present", True)),
                    _settings(item.get("settings", []), f"objects[{n}].settings"),
                )
            )
        except c.SpecError as exc:
            raise c.SpecError(
                exc.args[0] if str(exc).startswith("objects[") else f"objects[{n}]: {exc}"
            ) from None
    return c.ProfileSpec(name, priority, tuple(rules), tuple(object_rules))


def spec_of(profile: Profile) -> c.ProfileSpec:
    return spec_from(profile.name, profile.priority, profile.values, profile.objects_rules)


def check_profile(profile: Profile) -> None:
    """Raise ValidationError naming the field, rule and value when the profile cannot apply."""
    errors: dict[str, list[str]] = {}
    try:
        spec_of(profile)
    except c.SpecError as exc:
        field = (
            "objects_rules"
            if str(exc).startswith("objects") or "objects[" in str(exc)
            else "values"
        )
        errors.setdefault(field, []).append(str(exc))
    unknown = [t for t in profile.triggers if t not in Trigger.values]
    if not isinstance(profile.triggers, list) or unknown:
        errors["triggers"] = [f"unknown trigger(s) {unknown}; use {', '.join(Trigger.values)}"]
    if Trigger.SCHEDULE in profile.triggers and not profile.schedule_minutes:
        errors["schedule_minutes"] = ["the schedule trigger needs schedule_minutes"]
    for field in ("software_versions", "tags"):
        value = getattr(profile, field)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            errors[field] = [f"{field} must be a list of strings"]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def save_profile(profile: Profile, *, actor, device_classes=None) -> Profile:
    """Create or update a profile (change-logged); refuses rules that cannot mean anything."""
    check_profile(profile)
    created = profile.pk is None
    profile.save()
    transaction.on_commit(forget_triggers)
    if device_classes is not None:
        profile.device_classes.set(device_classes)
    record_event(
        AuditKind.HOMENET_PROFILE_SAVED,
        obj=profile,
        actor=actor,
        message=f"Profile {profile.name} {'created' if created else 'saved'}",
    )
    return profile


@transaction.atomic
def delete_profile(profile: Profile, *, actor) -> None:
    record_event(
        AuditKind.HOMENET_PROFILE_SAVED,
        obj=profile,
        actor=actor,
        message=f"Profile {profile} deleted",
    )
    profile.delete()
    transaction.on_commit(forget_triggers)


# --- one device ------------------------------------------------------------------------------------


def applicable_profiles(device: Device, *, trigger: str | None = None) -> list[Profile]:
    """Enabled profiles whose preconditions hold for the device (and that listen to `trigger`)."""
    out = []
    tags = set(device.tags or [])
    for profile in Profile.objects.filter(enabled=True).prefetch_related("device_classes"):
        classes = {dc.pk for dc in profile.device_classes.all()}
        if classes and device.device_class_id not in classes:
            continue
        if profile.software_versions and device.software_version not in profile.software_versions:
            continue
        if not set(profile.tags) <= tags:
            continue
        if trigger is not None and trigger not in profile.triggers:
            continue
        out.append(profile)
    return out


def variables_of(device: Device) -> dict[str, str]:
    """``{serial}``, ``{mac}``, ``{oui}``, ``{product_class}``, ``{ip}`` and the custom variables."""
    out = {
        "serial": device.serial_number,
        "mac": device.mac_address,
        "oui": device.oui,
        "product_class": device.product_class,
        "ip": device.ip_address or "",
        "software_version": device.software_version,
    }
    for name, value in DeviceVariable.objects.filter(device=device).values_list("name", "value"):
        out[name] = value
    return out


# --- per-device variables ----------------------------------------------------------------------------

#: Variables every device has, from the registry; they cannot be set.
BUILTIN_VARIABLES = ("serial", "mac", "oui", "product_class", "ip", "software_version")
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
VARIABLE_MAX_LENGTH = DeviceVariable._meta.get_field("value").max_length
_SECRET_WORDS = ("pass", "secret", "key", "psk", "token")


def is_secret(name: str) -> bool:
    """Variables whose values the audit log does not repeat (``wifi_passphrase``, ``api_key``)."""
    return any(word in name.lower() for word in _SECRET_WORDS)


def custom_variables(device: Device) -> dict[str, str]:
    return dict(
        DeviceVariable.objects.filter(device=device).order_by("name").values_list("name", "value")
    )


def variable_uses(device: Device) -> dict[str, list[tuple[str, str]]]:
    """Variable name -> [(profile, path)] of the profiles that apply to the device and use it."""
    uses: dict[str, list[tuple[str, str]]] = {}
    for profile in applicable_profiles(device):
        try:
            spec = spec_of(profile)
        except c.SpecError:
            continue
        for where, template, _type in _templates(spec):
            for name in sorted(c.variables_in(template)):
                uses.setdefault(name, []).append((profile.name, where))
    return uses


def _templates(spec: c.ProfileSpec):
    """(path, value template, type) of every value a profile writes (``*`` for any instance)."""
    for rule in spec.values:
        yield rule.path, rule.value, rule.type
    for obj in spec.objects:
        for setting in (*obj.match, *obj.settings):
            yield f"{obj.table}*.{setting.name}", setting.value, setting.type


def variable_errors(device: Device, changes: dict[str, str | None]) -> dict[str, list[str]]:
    """Why the proposed variables (name -> value; None deletes) cannot be stored, by variable:
    the name's form, the value's length, and every value of an applicable profile that the new
    value would make invalid for the data model (the path and the profile named)."""
    errors: dict[str, list[str]] = {}
    for name, value in changes.items():
        if not isinstance(name, str) or not VARIABLE_NAME.fullmatch(name):
            errors.setdefault(str(name), []).append(
                f"{name!r} is not a variable name (a letter or _, then letters, digits or _; "
                "at most 64)"
            )
        elif name in BUILTIN_VARIABLES:
            errors.setdefault(name, []).append(
                f"{{{name}}} is the device's own (from the registry) and cannot be set"
            )
        if value is None:
            continue
        if not isinstance(value, str):
            errors.setdefault(str(name), []).append(f"the value must be text, not {value!r}")
        elif len(value) > VARIABLE_MAX_LENGTH:
            errors.setdefault(name, []).append(
                f"the value has {len(value)} characters, more than {VARIABLE_MAX_LENGTH}"
            )
        elif any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            errors.setdefault(name, []).append("the value contains a control character")
    if errors:
        return errors
    variables = variables_of(device)
    for name, value in changes.items():
        if value is None:
            variables.pop(name, None)
        else:
            variables[name] = value
    for profile in applicable_profiles(device):
        try:
            spec = spec_of(profile)
        except c.SpecError:
            continue
        for where, template, xsd_type in _templates(spec):
            used = c.variables_in(template) & {n for n, v in changes.items() if v is not None}
            if not used:
                continue
            try:
                text = c.substitute(template, variables)
            except KeyError:
                continue  # another variable is missing: the dry run says so
            problem = value_error(where, text, xsd_type)
            if problem is not None:
                for name in sorted(used):
                    errors.setdefault(name, []).append(f"{problem} (profile {profile.name})")
    return errors


@transaction.atomic
def set_variables(device: Device, changes: dict[str, str | None], *, actor) -> dict[str, str]:
    """Set (or, with None, delete) a device's variables after `variable_errors` found nothing;
    audited (secret-looking values are not repeated); the device's compliance is re-evaluated
    (nothing is sent). Returns the device's custom variables."""
    errors = variable_errors(device, changes)
    if errors:
        raise ValidationError(errors)
    before = custom_variables(device)
    diff: dict[str, list] = {}
    for name, value in sorted(changes.items()):
        old = before.get(name)
        if value is None:
            if old is None:
                continue
            DeviceVariable.objects.filter(device=device, name=name).delete()
        elif old == value:
            continue
        else:
            DeviceVariable.objects.update_or_create(
                device=device, name=name, defaults={"value": value}
            )
        hidden = "(hidden)" if is_secret(name) else None
        diff[name] = [
            None if old is None else hidden or old,
            None if value is None else hidden or value,
        ]
    if diff:
        record_event(
            AuditKind.HOMENET_VARIABLES_SET,
            obj=device,
            actor=actor,
            message=f"Variables of {device} changed: {', '.join(diff)}",
            changes=diff,
        )
        if Compliance.objects.filter(device=device).exists():
            evaluate(device)
    return custom_variables(device)


def tree_of(device: Device) -> dict[str, list]:
    params = DeviceParameters.objects.filter(device=device).first()
    return dict(params.tree) if params is not None else {}


def dry_run(device: Device, *, profiles: list[Profile] | None = None) -> tuple[c.Plan, list[str]]:
    """What would change on this device now (nothing is written). Returns the plan and the names
    of the profiles that apply."""
    chosen = applicable_profiles(device) if profiles is None else profiles
    specs = []
    problems = []
    for profile in chosen:
        try:
            specs.append(spec_of(profile))
        except c.SpecError as exc:  # stored before a rule changed meaning: report, skip
            problems.append(c.Problem(profile.name, "", str(exc)))
    plan = c.converge(specs, variables_of(device), tree_of(device), parameter_key=PARAMETER_KEY)
    if problems:
        plan = c.Plan(**{**_fields(plan), "problems": (*plan.problems, *problems)})
    return plan, [p.name for p in chosen]


def _fields(plan: c.Plan) -> dict:
    return {name: getattr(plan, name) for name in c.Plan.__dataclass_fields__}


def plan_to_json(plan: c.Plan) -> dict:
    return {
        "rpcs": [m.to_dict(r) for r in plan.first_round()],
        "changes": [
            {
                "path": ch.path,
                "current": ch.current,
                "value": ch.value.text,
                "type": str(ch.value.type),
                "profile": ch.profile,
            }
            for ch in plan.changes
        ],
        "adds": [
            {
                "table": a.table,
                "values": [[n, v.text, str(v.type)] for n, v in a.values],
                "profile": a.profile,
            }
            for a in plan.adds
        ],
        "deletes": [{"path": p, "profile": prof} for p, prof in plan.deletes],
        "reads": [*plan.read_names, *plan.read_values],
        "conflicts": [
            {
                "path": x.path,
                "priority": x.priority,
                "claims": [list(cl) for cl in x.claims],
                "text": x.describe(),
            }
            for x in plan.conflicts
        ],
        "problems": [
            {"profile": p.profile, "path": p.path, "message": p.message} for p in plan.problems
        ],
        "describe": plan.describe(),
        "converged": plan.converged,
        "rpc_count": plan.rpc_count(),
    }


def _plan_from_json(data: dict) -> c.Plan:
    return c.Plan(
        adds=tuple(
            c.AddStep(
                a["table"],
                tuple((n, m.TypedValue(t, m.XsdType(x))) for n, t, x in a["values"]),
                a["profile"],
            )
            for a in data["adds"]
        ),
        changes=tuple(
            c.Change(
                ch["path"],
                ch["current"],
                m.TypedValue(ch["value"], m.XsdType(ch["type"])),
                ch["profile"],
            )
            for ch in data["changes"]
        ),
        parameter_key=PARAMETER_KEY,
    )


def _compliance(device: Device, *, lock: bool = True) -> Compliance:
    Compliance.objects.get_or_create(device=device)
    queryset = Compliance.objects.select_for_update() if lock else Compliance.objects
    return queryset.get(device=device)


def _record(compliance: Compliance, plan: c.Plan, names: list[str], *, now) -> None:
    data = plan_to_json(plan)
    compliance.profiles = names
    compliance.changes = data["describe"]
    compliance.conflicts = data["conflicts"]
    compliance.problems = data["problems"]
    compliance.evaluated = now


def _state_for(plan: c.Plan, *, sending: bool) -> str:
    if not plan.converged:
        return ComplianceState.CONVERGING if sending else ComplianceState.DRIFTED
    if plan.conflicts:
        return ComplianceState.CONFLICT
    if plan.problems:
        return ComplianceState.FAILED
    return ComplianceState.IN_SYNC


def _queue(device: Device, rpc: m.AcsRequest, *, actor, kick: bool) -> Task:
    if actor is None:
        task = task_services.queue_follow_up(device, rpc)
        if kick:
            task_services._kick(device)
        return task
    return task_services.queue_task(device, rpc, actor=actor, connection_request=kick)


@transaction.atomic
def evaluate(device: Device, *, now=None) -> Compliance:
    """Recompute a device's compliance without sending anything (drifted, in sync, ...)."""
    now = now or timezone.now()
    compliance = _compliance(device)
    plan, names = dry_run(device)
    _record(compliance, plan, names, now=now)
    if not compliance.pending.get("tasks"):
        compliance.state = _state_for(plan, sending=False)
    compliance.save()
    return compliance


@transaction.atomic
def apply_profiles(
    device: Device,
    *,
    actor,
    trigger: str | None = None,
    kick: bool = True,
    now=None,
    new_run: bool = True,
) -> Compliance:
    """Converge a device: queue the plan's first round (audited when an operator asks). Nothing
    is queued while an earlier round is in flight."""
    now = now or timezone.now()
    compliance = _compliance(device)
    if compliance.pending.get("tasks"):
        return compliance
    profiles = applicable_profiles(device, trigger=trigger)
    if trigger is not None and not profiles:
        return compliance
    plan, names = dry_run(device, profiles=applicable_profiles(device))
    _record(compliance, plan, names, now=now)
    if new_run:
        compliance.rounds = 0
    if plan.converged or compliance.rounds >= MAX_ROUNDS:
        compliance.state = (
            _state_for(plan, sending=False) if plan.converged else ComplianceState.DRIFTED
        )
        if not plan.converged:
            compliance.fault_string = f"not converged after {compliance.rounds} rounds"
        compliance.save()
        return compliance
    tasks = [
        _queue(device, rpc, actor=actor, kick=kick and n == 0)
        for n, rpc in enumerate(plan.first_round())
    ]
    adds = [t.pk for t in tasks if t.rpc == "AddObject"]
    compliance.pending = {
        "tasks": [t.pk for t in tasks],
        "adds": {str(pk): index for index, pk in enumerate(adds)},
        "numbers": {},
        "plan": plan_to_json(plan),
    }
    compliance.rounds += 1
    compliance.state = ComplianceState.CONVERGING
    compliance.fault_code = None
    compliance.fault_string = ""
    compliance.fault_details = []
    compliance.save()
    if actor is not None:
        record_event(
            AuditKind.HOMENET_APPLIED,
            obj=device,
            actor=actor,
            message=f"Profiles applied to {device}: {len(tasks)} RPC(s)",
            details={"tasks": [t.pk for t in tasks], "changes": compliance.changes},
        )
    return compliance


_TRIGGER_TTL = 10.0
_trigger_cache: dict[str, Any] = {"until": 0.0, "triggers": frozenset()}


def active_triggers() -> frozenset[str]:
    """The triggers of the enabled profiles, cached in the process for 10 s (a fleet's periodic
    Informs cost no query when no profile listens to them); a profile saved in this process
    clears it."""
    now = time.monotonic()
    if now >= _trigger_cache["until"]:
        found: set[str] = set()
        for triggers in Profile.objects.filter(enabled=True).values_list("triggers", flat=True):
            found.update(triggers or [])
        _trigger_cache.update(until=now + _TRIGGER_TTL, triggers=frozenset(found))
    return _trigger_cache["triggers"]


def forget_triggers() -> None:
    _trigger_cache["until"] = 0.0


def inform_received(device_id: int, events: tuple[str, ...] | None = None) -> None:
    """After an Inform's transaction committed: apply the profiles whose triggers its events
    name (once per Inform)."""
    if events is not None:
        wanted = {EVENT_TRIGGERS[e] for e in events if e in EVENT_TRIGGERS}
        if not wanted & active_triggers():
            return
    device = Device.objects.filter(pk=device_id).first()
    if device is None or device.last_inform is None:
        return
    triggers = {EVENT_TRIGGERS[e] for e in device.last_events if e in EVENT_TRIGGERS}
    if not triggers:
        return
    with transaction.atomic():
        compliance = _compliance(device)
        if compliance.last_inform == device.last_inform:
            return
        compliance.last_inform = device.last_inform
        compliance.save(update_fields=["last_inform"])
        profiles = [p for p in applicable_profiles(device) if triggers & set(p.triggers)]
        if not profiles:
            return
        apply_profiles(device, actor=None, kick=False)


def task_finished(task: Task) -> None:
    """A task ended: if it belongs to a convergence, record its outcome in the compliance."""
    if task.state not in (TaskState.DONE, TaskState.FAULT, TaskState.EXPIRED):
        return
    # The task may be saved outside any transaction (autocommit): the lock needs one of its own.
    with transaction.atomic():
        _record_task_outcome(task)


def _record_task_outcome(task: Task) -> None:
    compliance = Compliance.objects.select_for_update().filter(device_id=task.device_id).first()
    if compliance is None or not compliance.pending:
        return
    pending = compliance.pending
    if task.pk not in pending.get("tasks", []):
        # The GetParameterValues the ACS queues itself after our GetParameterNames.
        if task.rpc != "GetParameterValues" or not pending.get("await"):
            return
        pending["await"] -= 1
        pending["tasks"].append(task.pk)
    if task.state != TaskState.DONE:
        compliance.state = ComplianceState.FAILED
        compliance.fault_code = task.fault_code
        compliance.fault_string = task.fault_string or task.reason
        compliance.fault_details = (
            task.result.get("set_parameter_values_faults", []) if task.result else []
        )
        compliance.pending = {}
        compliance.save()
        return
    pending["tasks"] = [pk for pk in pending["tasks"] if pk != task.pk]
    if task.rpc == "GetParameterNames":
        leaves = int((task.result or {}).get("leaves", 0))
        pending["await"] = pending.get("await", 0) + -(-leaves // task_services.GPV_CHUNK)
    if str(task.pk) in pending.get("adds", {}):
        pending["numbers"][str(pending["adds"][str(task.pk)])] = task.result.get("instance_number")
        if len(pending["numbers"]) == len(pending["adds"]):
            plan = _plan_from_json(pending["plan"])
            numbers = {int(k): int(v) for k, v in pending["numbers"].items()}
            for rpc in plan.after_adds(numbers):
                pending["tasks"].append(task_services.queue_follow_up(task.device, rpc).pk)
    compliance.pending = pending
    if pending["tasks"] or pending.get("await"):
        compliance.save()
        return
    compliance.pending = {}
    compliance.save()
    # The round is over: plan again on the tree the answers updated (the next round, if any,
    # goes out in this same session).
    apply_profiles(task.device, actor=None, kick=False, new_run=False)


def due_for_schedule(*, now=None) -> int:
    """Beat: devices with a scheduled profile not evaluated for its interval are converged (with
    a connection request)."""
    now = now or timezone.now()
    count = 0
    for profile in Profile.objects.filter(enabled=True).exclude(schedule_minutes=None):
        if Trigger.SCHEDULE not in profile.triggers:
            continue
        cutoff = now - timedelta(minutes=profile.schedule_minutes or 0)
        devices = Device.objects.all()
        classes = list(profile.device_classes.values_list("pk", flat=True))
        if classes:
            devices = devices.filter(device_class_id__in=classes)
        if profile.software_versions:
            devices = devices.filter(software_version__in=profile.software_versions)
        devices = devices.exclude(homenet_compliance__evaluated__gte=cutoff)
        for device in devices[:500]:
            if profile in applicable_profiles(device):
                apply_profiles(device, actor=None, kick=True, now=now)
                count += 1
    return count
