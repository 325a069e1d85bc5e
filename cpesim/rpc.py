"""TR-069 parameter RPCs on a `DataModel` (Annex A.3.2): names, values, attributes, objects.

Each function takes the tree and the request and returns the response message, or raises
`CwmpFault` with the code TR-069 assigns:

* 9005 an unknown parameter or object name (also an object where a table is needed),
* 9003 invalid arguments (NextLevel true on a parameter, the same name twice, a notification
  value the box does not support), with per-parameter entries for SetParameterValues,
* 9006/9007/9008 per parameter in SetParameterValues (wrong type / invalid value / not writable),
* 9009 active notification requested on a parameter that denies it,
* 9004 a table that is full,
* 9001 something the box refuses (CDS pull content without the user's consent, a folder in use).

SetParameterValues is all or nothing: nothing changes unless every value is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

from acs.cwmp import messages as m
from acs.cwmp.faults import FaultCode

from .datamodel import CwmpFault, DataModel, pattern_of, sort_key
from .profiles import content_mirror

PARAMETER_KEY = "Device.ManagementServer.ParameterKey"
ACCESS_LIST_VALUES = ("Subscriber",)


@dataclass(frozen=True, slots=True)
class Applied:
    """A successful change: the response and the parameters whose value changed."""

    response: m.Message
    changed: tuple[str, ...] = ()


def get_parameter_names(model: DataModel, request: m.GetParameterNames) -> Applied:
    path, next_level = request.parameter_path, request.next_level
    root = model.schema.root
    if path == "":
        if next_level:
            return Applied(m.GetParameterNamesResponse((m.ParameterInfo(root, False),)))
        path = root
    if not path.endswith("."):
        if not model.has_param(path):
            raise CwmpFault(FaultCode.INVALID_PARAMETER_NAME, f"{path}: no such parameter")
        model.check_access(path)
        if next_level:
            raise CwmpFault(
                FaultCode.INVALID_ARGUMENTS,
                f"NextLevel is true but {path} is a parameter, not an object",
            )
        definition = model.schema.param_def(path)
        writable = bool(definition and definition.writable)
        return Applied(m.GetParameterNamesResponse((m.ParameterInfo(path, writable),)))
    if not model.has_object(path):
        raise CwmpFault(FaultCode.INVALID_PARAMETER_NAME, f"{path}: no such object")
    model.check_access(path)
    names: list[m.ParameterInfo] = []
    depth = path.count(".")
    for obj in model.objects_under(path):
        if not model.visible(obj):
            continue
        if next_level and (obj == path or obj.count(".") != depth + 1):
            continue
        names.append(m.ParameterInfo(obj, model.writable_object(obj)))
    for param in model.params_under(path):
        if not model.visible(param):
            continue
        if next_level and param.count(".") != depth:
            continue
        definition = model.schema.param_def(param)
        names.append(m.ParameterInfo(param, bool(definition and definition.writable)))
    names.sort(key=lambda info: sort_key(info.name))
    return Applied(m.GetParameterNamesResponse(tuple(names)))


def get_parameter_values(model: DataModel, request: m.GetParameterValues) -> Applied:
    values: list[m.ParameterValue] = []
    for name in request.names:
        for path in model.resolve(name):
            definition = model.schema.param_def(path)
            xsd_type = definition.type if definition else m.XsdType.STRING
            values.append(m.ParameterValue(path, m.TypedValue(model.read(path), xsd_type)))
    return Applied(m.GetParameterValuesResponse(tuple(values)))


def set_parameter_values(model: DataModel, request: m.SetParameterValues) -> Applied:
    seen: set[str] = set()
    faults: list[m.SetParameterValuesFault] = []
    accepted: list[tuple[str, str]] = []
    for item in request.parameters:
        name = item.name
        if name in seen:
            raise CwmpFault(FaultCode.INVALID_ARGUMENTS, f"{name} is set twice in one request")
        seen.add(name)
        try:
            accepted.append((name, _checked_value(model, name, item.value)))
        except CwmpFault as fault:
            faults.append(m.SetParameterValuesFault(name, fault.code, fault.message))
    if faults:
        top = (
            FaultCode.REQUEST_DENIED
            if all(f.fault_code == FaultCode.REQUEST_DENIED for f in faults)
            else FaultCode.INVALID_ARGUMENTS
        )
        detail = "; ".join(f"{f.parameter_name}: {f.fault_string}" for f in faults)
        raise CwmpFault(top, detail, tuple(faults))
    changed: list[str] = []
    for name, text in accepted:
        if name.endswith(".DeleteItem") and content_mirror(name) is not None:
            if text == "true":
                _delete_content(model, name[: -len("DeleteItem")])
                changed.append(name)
            continue
        if model.get(name) != text:
            changed.append(name)
        model.put(name, text)
    model.put(PARAMETER_KEY, request.parameter_key)
    return Applied(m.SetParameterValuesResponse(0), tuple(changed))


def _checked_value(model: DataModel, name: str, value: m.TypedValue) -> str:
    """The value to store (booleans as true/false), or CwmpFault with the per-parameter code."""
    if not model.has_param(name):
        what = "an object, not a parameter" if model.has_object(name) else "no such parameter"
        raise CwmpFault(FaultCode.INVALID_PARAMETER_NAME, f"{name}: {what}")
    reason = model.context.denied(name) if model.context is not None else None
    if reason is not None:
        raise CwmpFault(FaultCode.REQUEST_DENIED, reason)
    definition = model.schema.param_def(name)
    if definition is None or not definition.writable:
        raise CwmpFault(FaultCode.NON_WRITABLE_PARAMETER, f"{name} is read-only")
    if value.type is not m.XsdType.STRING and value.type is not definition.type:
        raise CwmpFault(
            FaultCode.INVALID_PARAMETER_TYPE,
            f"{name} is {definition.type.value}, not {value.type.value}",
        )
    text = value.text if definition.type is m.XsdType.STRING else value.text.strip()
    if definition.type is m.XsdType.BOOLEAN:
        text = {"1": "true", "0": "false"}.get(text.lower(), text.lower())
    problem = definition.check(text)
    if problem is None and definition.validator is not None:
        problem = definition.validator(model, name, text)
    if problem is not None:
        raise CwmpFault(FaultCode.INVALID_PARAMETER_VALUE, f"{name}: {problem}")
    return text


def get_parameter_attributes(model: DataModel, request: m.GetParameterAttributes) -> Applied:
    out = [
        m.ParameterAttribute(path, model.notification(path), model.access_list(path))
        for name in request.names
        for path in model.resolve(name)
    ]
    return Applied(m.GetParameterAttributesResponse(tuple(out)))


def set_parameter_attributes(model: DataModel, request: m.SetParameterAttributes) -> Applied:
    updates: dict[str, tuple[int, tuple[str, ...]]] = {}
    for change in request.parameters:
        paths = model.resolve(change.name)
        if change.notification_change and change.notification not in (0, 1, 2):
            raise CwmpFault(
                FaultCode.INVALID_ARGUMENTS,
                f"{change.name}: notification {change.notification} is not supported (0, 1, 2)",
            )
        if change.access_list_change:
            wrong = [e for e in change.access_list if e not in ACCESS_LIST_VALUES]
            if wrong:
                raise CwmpFault(
                    FaultCode.INVALID_ARGUMENTS,
                    f"{change.name}: access list entry {wrong[0]!r} is not Subscriber",
                )
        for path in paths:
            current = updates.get(path) or (model.notification(path), model.access_list(path))
            notification, access = current
            if change.notification_change:
                definition = model.schema.param_def(path)
                if change.notification == 2 and definition is not None and definition.deny_active:
                    raise CwmpFault(
                        FaultCode.NOTIFICATION_REQUEST_REJECTED,
                        f"{path}: active notification is denied for this parameter",
                    )
                notification = change.notification
            if change.access_list_change:
                access = tuple(change.access_list)
            updates[path] = (notification, access)
    for path, entry in updates.items():
        if entry == (0, ()):
            model.attributes.pop(path, None)
        else:
            model.attributes[path] = entry
    return Applied(m.SetParameterAttributesResponse())


def add_object(model: DataModel, request: m.AddObject) -> Applied:
    name = request.object_name
    if not name.endswith(".") or not model.is_table(name):
        what = "an existing object, not a table" if model.has_object(name) else "no such table"
        raise CwmpFault(FaultCode.INVALID_PARAMETER_NAME, f"{name}: {what}")
    model.check_access(name)
    definition = model.schema.objects[pattern_of(name) + "{i}."]
    if not definition.addable:
        raise CwmpFault(
            FaultCode.INVALID_PARAMETER_NAME, f"{name}: this table does not allow AddObject"
        )
    if definition.max_entries is not None and len(model.instances(name)) >= definition.max_entries:
        raise CwmpFault(
            FaultCode.RESOURCES_EXCEEDED, f"{name}: already {definition.max_entries} entries"
        )
    number = model.add_instance(name)
    model.put(PARAMETER_KEY, request.parameter_key)
    return Applied(m.AddObjectResponse(number, 0), (f"{name}{number}.",))


def delete_object(model: DataModel, request: m.DeleteObject) -> Applied:
    name = request.object_name
    definition = model.schema.object_def(name)
    if (
        not name.endswith(".")
        or not model.is_instance(name)
        or definition is None
        or not definition.multi
    ):
        raise CwmpFault(FaultCode.INVALID_PARAMETER_NAME, f"{name}: no such object instance")
    model.check_access(name)
    if not definition.deletable:
        raise CwmpFault(
            FaultCode.INVALID_PARAMETER_NAME, f"{name}: this object does not allow DeleteObject"
        )
    users = _referenced_by(model, name)
    if users:
        raise CwmpFault(
            FaultCode.REQUEST_DENIED, f"{name} is in use: referenced by {', '.join(users)}"
        )
    if content_mirror(name) is not None:
        _delete_content(model, name)
    else:
        model.delete_instance(name)
    model.put(PARAMETER_KEY, request.parameter_key)
    return Applied(m.DeleteObjectResponse(0), (name,))


def _delete_content(model: DataModel, path: str) -> None:
    """Delete a content item with all its files (both views of it)."""
    model.delete_instance(path)
    mirror = content_mirror(path)
    if mirror is not None and model.is_instance(mirror):
        model.delete_instance(mirror)


def _referenced_by(model: DataModel, path: str) -> list[str]:
    target = path.rstrip(".")
    return [
        p
        for p in model.params_under(model.schema.root)
        if p.endswith(".Reference") and model.get(p) in (target, path)
    ]
