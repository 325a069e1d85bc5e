"""The converge engine (acs.homenet.converge): pure, no database. Properties over random devices
and profiles, checked against a model CPE with TR-069 semantics (tests/homenet/cpe_model.py)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from acs.cwmp import messages as m
from acs.cwmp.messages import XsdType as X
from acs.homenet.converge import (
    ObjectRule,
    ProfileSpec,
    Setting,
    SpecError,
    ValueRule,
    converge,
    merge,
)
from tests.homenet.cpe_model import SSID, ModelCpe, run_round

NAMES = ("alpha", "beta", "gamma", "delta")
VARIABLES = {"serial": "SN0001", "mac": "00:D0:9E:00:00:01"}


scalar_rules = st.one_of(
    st.integers(0, 1000).map(lambda n: ValueRule("Device.A.Level", str(n), X.UNSIGNED_INT)),
    st.sampled_from(("x", "y", "{serial}", "n-{mac}")).map(lambda v: ValueRule("Device.A.Name", v)),
    st.sampled_from(("true", "false", "1", "0")).map(
        lambda v: ValueRule("Device.A.On", v, X.BOOLEAN)
    ),
    st.booleans().map(lambda b: ValueRule(SSID + "*.Enable", str(b).lower(), X.BOOLEAN)),
)
object_rules = st.builds(
    lambda name, present, enable: ObjectRule(
        SSID,
        (Setting("SSID", name),),
        present=present,
        settings=(Setting("Enable", enable, X.BOOLEAN),) if present and enable else (),
    ),
    st.sampled_from(NAMES),
    st.booleans(),
    st.sampled_from((None, "true", "false")),
)


@st.composite
def profile_sets(draw, *, distinct_priorities: bool = True):
    count = draw(st.integers(1, 4))
    priorities = draw(
        st.lists(st.integers(0, 50), min_size=count, max_size=count, unique=distinct_priorities)
    )
    profiles = []
    for index, priority in enumerate(priorities):
        values = draw(st.lists(scalar_rules, max_size=4, unique_by=lambda r: r.path))
        objects = draw(st.lists(object_rules, max_size=3, unique_by=lambda r: r.match))
        if any(r.path.startswith(SSID) for r in values):
            # One profile contradicting itself (SSID.*.Enable false, this SSID's Enable true)
            # is a conflict by design (tested below); these profiles speak once per path.
            objects = [ObjectRule(o.table, o.match, o.present) for o in objects]
        profiles.append(ProfileSpec(f"p{index}", priority, tuple(values), tuple(objects)))
    return profiles


@st.composite
def devices(draw):
    scalars = {
        "Device.A.Level": str(draw(st.integers(0, 1000))),
        "Device.A.Name": draw(st.sampled_from(("x", "y", "SN0001"))),
        "Device.A.On": draw(st.sampled_from(("true", "false", "1", "0"))),
    }
    ssids = draw(st.lists(st.tuples(st.sampled_from(NAMES), st.booleans()), max_size=4))
    cpe = ModelCpe(scalars, ssids)
    knowledge = draw(st.sampled_from(("full", "partial", "names", "leaves", "inform")))
    full = cpe.full_tree()
    leaves = sorted(path for path in full if not path.endswith("."))
    if knowledge == "full":
        tree = full
    elif knowledge == "partial":  # every name listed (GetParameterNames), some values read
        keep = set(draw(st.lists(st.sampled_from(leaves), unique=True))) if leaves else set()
        tree = {p: (e if p in keep else [None, None, e[2]]) for p, e in full.items()}
    elif knowledge == "names":  # names known, values not (GetParameterNames without values)
        tree = {path: [None, None, entry[2]] for path, entry in full.items()}
    elif knowledge == "leaves":  # some values from Informs or GetParameterValues, no names
        keep = draw(st.lists(st.sampled_from(leaves), unique=True)) if leaves else []
        tree = {path: full[path] for path in keep}
    else:
        tree = {}
    return cpe, tree


def expected(profiles: list[ProfileSpec], cpe: ModelCpe):
    """An independent oracle: what each scalar and each SSID instance must end up as."""
    scalars: dict[str, tuple[int, str, X]] = {}
    wildcard: tuple[int, str] | None = None
    for p in profiles:
        for rule in p.values:
            text = rule.value.replace("{serial}", VARIABLES["serial"]).replace(
                "{mac}", VARIABLES["mac"]
            )
            if rule.path.startswith(SSID):
                if wildcard is None or p.priority > wildcard[0]:
                    wildcard = (p.priority, text)
            elif rule.path not in scalars or p.priority > scalars[rule.path][0]:
                scalars[rule.path] = (p.priority, text, rule.type)
    names: dict[str, tuple[int, bool, str | None]] = {}  # name -> (priority, present, Enable)
    enables: dict[str, tuple[int, str]] = {}
    for p in profiles:
        for obj in p.objects:
            name = obj.match[0].value
            if name not in names or p.priority > names[name][0]:
                names[name] = (p.priority, obj.present, None)
            if obj.settings and (name not in enables or p.priority > enables[name][0]):
                enables[name] = (p.priority, obj.settings[0].value)
    for name, (priority, present, _) in names.items():
        claims = [c for c in (enables.get(name), wildcard) if c is not None]
        if present and claims:
            names[name] = (priority, present, max(claims)[1])
    return scalars, wildcard, names


def canonical(text: str, xsd_type: X):
    if xsd_type is X.BOOLEAN:
        return text in ("1", "true")
    if xsd_type is X.UNSIGNED_INT:
        return int(text)
    return text


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    report_multiple_bugs=False,
)
@given(devices(), profile_sets())
def test_rounds_converge_the_device_to_the_desired_state(device, profiles):
    cpe, tree = device
    rounds = 0
    plan = converge(profiles, VARIABLES, tree)
    while not plan.converged:
        rounds += 1
        assert rounds <= 4, plan.describe()
        tree = run_round(plan, cpe, tree)
        plan = converge(profiles, VARIABLES, tree)
    assert plan.conflicts == ()
    assert plan.problems == ()
    # The ACS's view is the device's truth wherever it has a value.
    for path, entry in tree.items():
        if entry[0] is not None:
            assert cpe.truth[path][0] == entry[0], path
    # And the truth is what the profiles say (checked by an independent oracle).
    scalars, wildcard, names = expected(profiles, cpe)
    for path, (_, text, xsd_type) in scalars.items():
        assert canonical(cpe.truth[path][0], xsd_type) == canonical(text, xsd_type), path
    instances = cpe.ssids()
    for name, (_, present, enable) in names.items():
        mine = [e for s, e in instances if s == name]
        assert bool(mine) == present, (name, instances)
        for value in mine:
            if enable is not None:
                assert canonical(value, X.BOOLEAN) == canonical(enable, X.BOOLEAN), name
    if wildcard is not None:
        for name, value in instances:
            if name not in names or names[name][2] is None:
                assert canonical(value, X.BOOLEAN) == canonical(wildcard[1], X.BOOLEAN)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    report_multiple_bugs=False,
)
@given(devices(), profile_sets())
def test_with_a_known_tree_one_round_applies_the_plan(device, profiles):
    cpe, _ = device
    tree = cpe.full_tree()
    plan = converge(profiles, VARIABLES, tree)
    assert plan.read_names == () and plan.read_values == ()
    cpe.rpcs.clear()
    tree = run_round(plan, cpe, tree)
    after = converge(profiles, VARIABLES, tree)
    assert after.converged, after.describe()
    assert after.first_round() == []
    # The fewest RPCs: one per instance added or removed, one SetParameterValues for all values.
    sets = [r for r in cpe.rpcs if isinstance(r, m.SetParameterValues)]
    assert len(sets) <= 1
    assert len(cpe.rpcs) == plan.rpc_count() == len(plan.deletes) + len(plan.adds) + len(sets)
    if plan.changes:
        assert {p.name for p in sets[0].parameters} >= {c.path for c in plan.changes}


@settings(max_examples=200, deadline=None)
@given(devices(), profile_sets())
def test_a_converged_device_plans_nothing_again(device, profiles):
    cpe, tree = device
    for _ in range(5):
        plan = converge(profiles, VARIABLES, tree)
        if plan.converged:
            break
        tree = run_round(plan, cpe, tree)
    cpe.rpcs.clear()
    again = converge(profiles, VARIABLES, tree)
    assert again.converged and again.first_round() == []
    assert run_round(again, cpe, tree) == tree and cpe.rpcs == []


@settings(max_examples=200, deadline=None)
@given(
    devices(),
    st.integers(0, 20),
    st.integers(0, 1000),
    st.integers(0, 1000),
)
def test_same_priority_disagreement_is_a_conflict_never_settled(device, priority, a, b):
    assume(a != b)
    cpe, _ = device
    tree = cpe.full_tree()
    one = ProfileSpec("one", priority, (ValueRule("Device.A.Level", str(a), X.UNSIGNED_INT),))
    two = ProfileSpec("two", priority, (ValueRule("Device.A.Level", str(b), X.UNSIGNED_INT),))
    plan = converge([one, two], VARIABLES, tree)
    assert [c.path for c in plan.conflicts] == ["Device.A.Level"]
    assert dict(plan.conflicts[0].claims) == {"one": str(a), "two": str(b)}
    assert all(c.path != "Device.A.Level" for c in plan.changes)
    # A higher priority settles it.
    plan = converge([one, ProfileSpec("two", priority + 1, two.values)], VARIABLES, tree)
    assert plan.conflicts == ()
    level = [c for c in plan.changes if c.path == "Device.A.Level"]
    assert (
        level == [] if cpe.truth["Device.A.Level"][0] == str(b) else level[0].value.text == str(b)
    )


def _tree(**values):
    return {path.replace("__", "."): list(entry) for path, entry in values.items()}


def test_equal_values_in_another_lexical_form_cost_nothing():
    tree = {"Device.A.On": ["1", "boolean", True], "Device.A.Level": ["007", "unsignedInt", True]}
    profile = ProfileSpec(
        "p",
        values=(
            ValueRule("Device.A.On", "true", X.BOOLEAN),
            ValueRule("Device.A.Level", "7", X.UNSIGNED_INT),
        ),
    )
    assert converge([profile], {}, tree).first_round() == []


def test_unknown_tree_is_read_first_with_one_get_parameter_values():
    profile = ProfileSpec(
        "p",
        values=(
            ValueRule("Device.A.On", "true", X.BOOLEAN),
            ValueRule("Device.A.Level", "7", X.UNSIGNED_INT),
            ValueRule("Device.WiFi.SSID.*.Enable", "true", X.BOOLEAN),
        ),
    )
    plan = converge([profile], {}, {})
    assert plan.first_round() == [
        m.GetParameterNames("Device.WiFi.SSID.", False),
        m.GetParameterValues(("Device.A.Level", "Device.A.On")),
    ]
    assert plan.changes == ()


def test_missing_variable_and_bad_values_are_problems_not_rpcs():
    tree = {
        "Device.A.Name": ["x", "string", True],
        "Device.WiFi.Radio.1.Channel": ["6", "unsignedInt", True],
    }
    profile = ProfileSpec(
        "p",
        values=(
            ValueRule("Device.A.Name", "{customer_id}"),
            ValueRule("Device.WiFi.Radio.1.Channel", "{channel}", X.UNSIGNED_INT),
        ),
    )
    plan = converge([profile], {"channel": "999"}, tree)
    assert plan.first_round() == []
    messages = {p.path: p.message for p in plan.problems}
    assert messages["Device.A.Name"] == "the device has no variable {customer_id}"
    assert "999 is above the maximum 233" in messages["Device.WiFi.Radio.1.Channel"]


def test_device_type_and_read_only_are_checked_before_sending():
    tree = {
        "Device.A.Level": ["5", "unsignedInt", True],
        "Device.A.Serial": ["SN", "string", False],
        "Device.A.Count": ["5", "int", True],
    }
    profile = ProfileSpec(
        "p",
        values=(
            ValueRule("Device.A.Level", "loud"),
            ValueRule("Device.A.Serial", "other"),
            ValueRule("Device.A.Count", "6"),
        ),
    )
    plan = converge([profile], {}, tree)
    # Written with the type the device reports (int), not the profile's (string).
    assert plan.first_round() == [
        m.SetParameterValues((m.ParameterValue("Device.A.Count", m.TypedValue("6", X.INT)),))
    ]
    problems = {p.path: p.message for p in plan.problems}
    assert "the device types Device.A.Level as unsignedInt" in problems["Device.A.Level"]
    assert "read-only" in problems["Device.A.Serial"]


def test_present_and_absent_instance_at_the_same_priority_conflict():
    tree = {
        "Device.WiFi.SSID.": [None, None, True],
        "Device.WiFi.SSID.1.SSID": ["guest", "string", True],
        "Device.WiFi.SSID.1.Enable": ["true", "boolean", True],
    }
    keep = ProfileSpec("keep", 5, objects=(ObjectRule(SSID, (Setting("SSID", "guest"),)),))
    drop = ProfileSpec(
        "drop", 5, objects=(ObjectRule(SSID, (Setting("SSID", "guest"),), present=False),)
    )
    plan = converge([keep, drop], {}, tree)
    assert plan.first_round() == []
    assert plan.conflicts[0].path == "Device.WiFi.SSID.1."
    assert dict(plan.conflicts[0].claims) == {"keep": "present", "drop": "absent"}
    plan = converge([keep, ProfileSpec("drop", 6, objects=drop.objects)], {}, tree)
    assert plan.first_round() == [m.DeleteObject("Device.WiFi.SSID.1.")]


def test_added_instances_take_wildcard_values_in_the_same_batch():
    tree = {"Device.WiFi.SSID.": [None, None, True]}
    profile = ProfileSpec(
        "p",
        values=(ValueRule("Device.WiFi.SSID.*.Enable", "true", X.BOOLEAN),),
        objects=(ObjectRule(SSID, (Setting("SSID", "IPTV-{serial}"),)),),
    )
    plan = converge([profile], {"serial": "S1"}, tree)
    assert plan.first_round() == [m.AddObject(SSID)]
    assert plan.after_adds({0: 4}) == [
        m.SetParameterValues(
            (
                m.ParameterValue(SSID + "4.SSID", m.TypedValue("IPTV-S1")),
                m.ParameterValue(SSID + "4.Enable", m.TypedValue("true", X.BOOLEAN)),
            )
        )
    ]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ValueRule("Device.A.", "x"), "does not end with '.'"),
        (lambda: ValueRule("Device..A", "x"), "is not a parameter path"),
        (lambda: ValueRule("Device.A.B", "ten", X.UNSIGNED_INT), "'ten' is not an integer"),
        (
            lambda: ValueRule("Device.WiFi.Radio.*.Channel", "0", X.UNSIGNED_INT),
            "below the minimum 1",
        ),
        (
            lambda: ValueRule("Device.WiFi.AccessPoint.1.Security.KeyPassphrase", "short"),
            "shorter than 8",
        ),
        (lambda: ValueRule("Device.A.B", "{not a var}"), "is not a variable name"),
        (lambda: ObjectRule("Device.WiFi.SSID"), "ends with '.'"),
        (lambda: ObjectRule("Device.WiFi.*.SSID."), "takes no wildcard"),
        (
            lambda: ObjectRule(
                SSID,
                (Setting("SSID", "a"),),
                present=False,
                settings=(Setting("Enable", "1", X.BOOLEAN),),
            ),
            "an absent instance has no settings",
        ),
        (lambda: ObjectRule(SSID, (Setting("SSID", "x" * 40),)), "longer than 32"),
    ],
)
def test_profiles_that_cannot_mean_anything_are_refused(build, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace("*", r"\*")):
        build()


def test_merge_reports_which_profile_each_value_comes_from():
    tree = {"Device.A.Name": ["old", "string", True]}
    low = ProfileSpec("defaults", 0, (ValueRule("Device.A.Name", "default"),))
    high = ProfileSpec("customer", 10, (ValueRule("Device.A.Name", "mine-{serial}"),))
    merged = merge([low, high], {"serial": "S9"}, tree)
    assert merged.values["Device.A.Name"].profile == "customer"
    assert merged.values["Device.A.Name"].value == "mine-S9"
