"""Planning: the population (package targeting narrowed by the rollout's target), stage sizes, and
deterministic, stable, disjoint wave assignment; bad plans refused with the field and value."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from acs.models import Device
from fus.metadata import model as m
from fus.models import RolloutDevice
from fus.rollouts import plan, services
from fus.rollouts.choices import Assignment, Channel
from tests.fus.rollouts.conftest import make_fleet

pytestmark = pytest.mark.django_db

MANAGED = [Channel.MANAGED.value]


def create(package, actor, **spec):
    spec.setdefault("name", "r1")
    spec.setdefault("channels", MANAGED)
    return services.create_rollout(package, spec, actor=actor)


def planned(rollout) -> list[dict]:
    """The plan, device by device, as the preview and the CSV show it (no member rows yet)."""
    return [
        {**row, "wave": wave.number}
        for wave in rollout.waves.all()
        for row in plan.wave_devices(rollout, wave)
    ]


def members_by_wave(rollout) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for row in planned(rollout):
        out.setdefault(row["wave"], []).append(row["device_id"])
    return out


def released_members(rollout, number: int) -> list[tuple[int, int]]:
    return list(
        RolloutDevice.objects.filter(rollout=rollout, wave=number)
        .order_by("rank")
        .values_list("device_id", "rank")
    )


def test_waves_partition_the_population_with_the_planned_sizes(package, fleet, tenants):
    rollout = create(
        package,
        tenants["noc"],
        stages=[{"name": "canary", "count": 5}, {"percent": 20}, {"percent": 50}],
    )
    waves = list(rollout.waves.values_list("name", "size"))
    assert waves == [("canary", 5), ("wave 1", 20), ("wave 2", 50), ("rest", 25)]
    by_wave = members_by_wave(rollout)
    assert {w: len(d) for w, d in by_wave.items()} == {0: 5, 1: 20, 2: 50, 3: 25}
    every = [d for ds in by_wave.values() for d in ds]
    assert sorted(every) == sorted(d.pk for d in fleet)  # disjoint and complete
    ranks = sorted(row["rank"] for row in planned(rollout))
    assert ranks == list(range(1, 101))
    assert not RolloutDevice.objects.filter(rollout=rollout).exists()  # written at release


@pytest.mark.parametrize("assignment", [Assignment.SPREAD, Assignment.SERIAL])
def test_releasing_a_wave_writes_exactly_the_previewed_devices_once(
    package, fleet, tenants, assignment
):
    rollout = create(
        package,
        tenants["noc"],
        assignment=assignment,
        stages=[{"name": "canary", "count": 5}, {"percent": 20}, {"percent": 50}],
    )
    preview = {w: [] for w in range(4)}
    for row in planned(rollout):
        preview[row["wave"]].append((row["device_id"], row["rank"]))
    for wave in rollout.waves.all():
        assert plan.materialize(rollout, wave) == wave.size
        assert plan.materialize(rollout, wave) == 0  # again: nothing doubled
        assert released_members(rollout, wave.number) == preview[wave.number]
    assert RolloutDevice.objects.filter(rollout=rollout).count() == 100


def test_devices_that_changed_after_planning(package, fleet, tenants):
    """A device added after planning whose key fell in a released wave joins the next wave
    released; one upgraded meanwhile is not written."""
    rollout = create(
        package, tenants["noc"], assignment=Assignment.SERIAL, stages=[{"count": 10}, {"count": 10}]
    )
    canary, second, rest = rollout.waves.all()
    assert plan.materialize(rollout, canary) == 10
    (late,) = make_fleet(tenants["dc_a"], 1, start=5, prefix="0")  # serial 0000005: in the canary
    Device.objects.filter(serial_number="000015").update(software_version="2.0.0")
    assert plan.materialize(rollout, second) == 10  # 11..20 without 15, and the late one
    written = set(
        RolloutDevice.objects.filter(rollout=rollout, wave=1).values_list("device_id", flat=True)
    )
    assert late.pk in written
    assert not Device.objects.filter(pk__in=written, serial_number="000015").exists()
    assert plan.materialize(rollout, rest) == 80


def test_assignment_is_stable_and_differs_between_rollouts(package, fleet, tenants):
    stages = [{"name": "canary", "count": 10}, {"percent": 100}]
    a = create(package, tenants["noc"], stages=stages)
    first = members_by_wave(a)[0]
    services.replan_rollout(a, actor=tenants["noc"])
    assert members_by_wave(a)[0] == first  # same rollout, same canary
    b = create(package, tenants["noc"], name="r2", stages=stages)
    assert set(members_by_wave(b)[0]) != set(first)  # another rollout, another sample
    # spread: the canary is not the first ten serials
    serials = sorted(Device.objects.filter(pk__in=first).values_list("serial_number", flat=True))
    assert serials != [f"{i:06d}" for i in range(1, 11)]


def test_serial_assignment_takes_contiguous_blocks(package, fleet, tenants):
    rollout = create(
        package,
        tenants["noc"],
        assignment=Assignment.SERIAL,
        stages=[{"count": 10}, {"percent": 100}],
    )
    canary = Device.objects.filter(pk__in=members_by_wave(rollout)[0])
    assert sorted(canary.values_list("serial_number", flat=True)) == [
        f"{i:06d}" for i in range(1, 11)
    ]


def test_target_narrowing(package, tenants):
    make_fleet(tenants["dc_a"], 10, hardware_version="1.0")
    make_fleet(tenants["dc_a"], 10, start=11, hardware_version="2.0")
    make_fleet(tenants["dc_a"], 5, start=21, software_version="0.9.0", tags=["lab"])
    make_fleet(tenants["dc_a"], 5, start=26, software_version="2.0.0")  # already there
    make_fleet(tenants["dc_b"], 5, start=31)  # another class: not targeted by the package
    assert len(planned(create(package, tenants["noc"]))) == 25
    assert len(planned(create(package, tenants["noc"], hardware_versions=["2.0"]))) == 10
    assert len(planned(create(package, tenants["noc"], from_versions="0.9.0"))) == 5
    assert len(planned(create(package, tenants["noc"], tags=["lab", "other"]))) == 5
    ranged = create(
        package,
        tenants["noc"],
        range_list="include serial 1..15\nexclude serial 3..4  # broken boxes\n",
    )
    serials = sorted(row["serial_number"] for row in planned(ranged))
    assert serials == [f"{i:06d}" for i in range(1, 16) if i not in (3, 4)]
    by_mac = create(
        package, tenants["noc"], range_list="include mac 00:d0:9e:00:00:01,00d09e000002"
    )
    assert len(planned(by_mac)) == 2


def test_saved_search_narrows_the_population(package, tenants):
    from portal.models import SavedFilter

    make_fleet(tenants["dc_a"], 10)
    make_fleet(tenants["dc_a"], 10, start=11, hardware_version="HW9")
    saved = SavedFilter.objects.create(
        user=tenants["noc"], path="/devices/", name="hw9", query="hardware_version=HW9"
    )
    rollout = create(package, tenants["noc"], saved_filter=saved)
    assert rollout.device_query == "hardware_version=HW9"
    assert len(planned(rollout)) == 10


@pytest.mark.parametrize(
    ("spec", "field", "text"),
    [
        ({"stages": []}, "stages", "at least one stage"),
        ({"stages": [{"count": 0}]}, "stages", "stages[0].count: 0"),
        ({"stages": [{"percent": 150}]}, "stages", "stages[0].percent: 150"),
        ({"stages": [{"count": 1, "percent": 5}]}, "stages", "exactly one of"),
        ({"channels": ["carrier-pigeon"]}, "channels", "carrier-pigeon"),
        ({"range_list": "include serial 9..1"}, "range_list", "line 1"),
        ({"range_list": "ok\ninclude mac zz"}, "range_list", "line 1"),
        ({"range_list": "include mac 00:11"}, "range_list", "'00:11' is not a MAC"),
        ({"windows": [{"start": "25:00", "end": "03:00"}]}, "windows", "windows[0].start"),
        ({"windows": [{"days": [7], "start": "01:00", "end": "03:00"}]}, "windows", "days"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "Mars/Olympus"),
        ({"failure_threshold": 0}, "failure_threshold", "0"),
        ({"max_concurrent": -1}, "max_concurrent", "-1"),
    ],
)
def test_bad_plans_are_refused_naming_the_field_and_value(package, tenants, spec, field, text):
    with pytest.raises(ValidationError) as caught:
        create(package, tenants["noc"], **spec)
    assert text in " ".join(caught.value.message_dict[field])
    assert not package.rollouts.exists()


def test_device_classes_must_be_the_packages(package, tenants):
    with pytest.raises(ValidationError) as caught:
        create(package, tenants["noc"], device_classes=[tenants["dc_b"]])
    assert "not a device class of package" in str(caught.value.message_dict["device_classes"])


def test_wave_sizes_rounding_and_rest():
    stages = plan.parse_stages([{"count": 3}, {"percent": 10}])
    assert plan.wave_sizes(stages, 0) == [("wave 1", 0)]
    assert plan.wave_sizes(stages, 2) == [("canary", 2)]
    assert plan.wave_sizes(stages, 101) == [("canary", 3), ("wave 1", 11), ("rest", 87)]


@given(
    st.integers(0, 10_000),
    st.lists(
        st.one_of(
            st.builds(lambda c: {"count": c}, st.integers(1, 5000)),
            st.builds(lambda p: {"percent": p}, st.floats(0.01, 100)),
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_wave_sizes_always_partition_the_population(total, stages):
    sizes = plan.wave_sizes(plan.parse_stages(stages), total)
    assert sum(size for _name, size in sizes) == total
    assert all(size > 0 for _name, size in sizes) or total == 0


@given(st.text(max_size=300))
def test_range_list_parser_never_crashes(text):
    try:
        parsed = plan.parse_range_list(text)
    except plan.PlanError as exc:
        assert "range list" in str(exc)
        return
    if parsed is not None:
        assert plan.parse_range_list(plan.range_list_text(parsed)) == parsed


def test_range_list_round_trip():
    text = (
        "include serial 123123..456456\nexclude serial 231231..255555\ninclude serial 678678,678688"
    )
    parsed = plan.parse_range_list(text)
    assert parsed.entries[0] == m.Range("123123", "456456")
    assert plan.range_list_text(parsed) == text
