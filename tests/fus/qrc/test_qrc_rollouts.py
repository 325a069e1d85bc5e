"""The QRC and staged rollouts (#7): a package a rollout governs is answered only to the boxes the
rollout has released, from the gate's per-process cache (signals for changes made here, the shared
generation query within TARGETING_CACHE_SECONDS for changes made by another process)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from fus.choices import MetadataMode
from fus.metadata.identifiers import serial_index_key
from fus.metadata.targeting import DeviceIdentity
from fus.models import FirmwarePackage, Rollout, RolloutRange, UpdateReport
from fus.qrc import answers
from fus.rollouts import engine, gate, services
from fus.rollouts.choices import Assignment, Channel, RolloutStatus
from fus.services import targeting
from tests.fus.delivery_helpers import approved_package
from tests.fus.qrc.test_qrc import envelope, post, text, updates
from tests.fus.rollouts.conftest import make_fleet
from tests.fus.rollouts.helpers import Clock

pytestmark = pytest.mark.django_db


@pytest.fixture
def unmanaged(tenants):
    package = approved_package(tenants["dc_a"], "2.0.0")
    FirmwarePackage.objects.filter(pk=package.pk).update(mode=MetadataMode.UNMANAGED)
    return FirmwarePackage.objects.get(pk=package.pk)


@pytest.fixture
def fleet(tenants):
    """20 boxes 000001..000020 of A-STB on 1.0.0 (the package targets the class)."""
    return make_fleet(tenants["dc_a"], 20)


def offered(client, serial: str) -> list[str]:
    return [
        text(u, "q:SoftwareVersion")
        for u in updates(post(client, envelope(serial=serial, hardware="1.0")))
    ]


def identity(serial: str) -> DeviceIdentity:
    return DeviceIdentity("00D09E", "A-STB", "1.0", "1.0.0", serial)


def three_waves(package, tenants, **spec) -> Rollout:
    """Serial blocks: 000001-000005, 000006-000010, the rest."""
    spec = {
        "name": "qrc rollout",
        "channels": [Channel.UNMANAGED.value],
        "assignment": Assignment.SERIAL,
        "stages": [{"count": 5}, {"count": 5}, {"percent": 100}],
        "min_sample": 5,
        **spec,
    }
    return services.create_rollout(package, spec, actor=tenants["noc"])


def report_all(package, serials) -> None:
    for serial in serials:
        UpdateReport.objects.create(
            manufacturer=package.manufacturer,
            device_class=package.device_classes.get(),
            package=package,
            oui="00D09E",
            product_class="A-STB",
            serial_number=serial,
            from_version="1.0.0",
            to_version=package.software_version,
            result_code=0,
            result="success",
        )


def test_a_governed_package_is_offered_only_to_released_boxes(client, unmanaged, fleet, tenants):
    assert offered(client, "000003") == ["2.0.0"]  # no rollout: the catalogue decides
    rollout = three_waves(unmanaged, tenants)
    # governed from the moment a rollout exists: a draft releases nobody
    assert offered(client, "000003") == []
    services.start_rollout(rollout, actor=tenants["noc"])
    clock = Clock()
    clock.tick(rollout)  # the first wave is released
    assert offered(client, "000003") == ["2.0.0"]
    assert offered(client, "3") == ["2.0.0"]  # the serial ordering: leading zeros ignored
    assert offered(client, "000006") == []
    assert offered(client, "999999") == []  # outside the inventory and every released range
    # widening a wave widens the answers
    report_all(unmanaged, [f"{i:06d}" for i in range(1, 6)])
    clock.tick(rollout)  # outcomes collected
    clock.tick(rollout)  # the first wave is done: the second one is released
    assert Rollout.objects.get(pk=rollout.pk).current_wave == 1
    assert offered(client, "000006") == ["2.0.0"]
    assert offered(client, "000010") == ["2.0.0"]
    assert offered(client, "000011") == []
    report_all(unmanaged, [f"{i:06d}" for i in range(6, 11)])
    clock.tick(rollout)
    clock.tick(rollout)  # the last wave: every box the package targets, known or not
    assert offered(client, "000011") == ["2.0.0"]
    assert offered(client, "999999") == ["2.0.0"]
    # the cached answer is the authoritative one, box by box
    for serial in ("000001", "000010", "000011", "999999", ""):
        assert gate.cached_allowed(unmanaged, identity(serial)) == gate.allowed(
            unmanaged, identity(serial)
        )


@pytest.mark.parametrize("control", ["pause", "halt", "cancel", "deactivate", "end of validity"])
def test_pause_halt_cancel_withdraw_the_offer(client, unmanaged, fleet, tenants, control):
    rollout = three_waves(unmanaged, tenants)
    services.start_rollout(rollout, actor=tenants["noc"])
    clock = Clock()
    clock.tick(rollout)
    assert offered(client, "000002") == ["2.0.0"]
    rollout = Rollout.objects.get(pk=rollout.pk)
    if control == "pause":
        services.pause_rollout(rollout, actor=tenants["noc"])
    elif control == "cancel":
        services.cancel_rollout(rollout, actor=tenants["noc"])
    elif control == "deactivate":
        services.deactivate_rollout(rollout, actor=tenants["noc"])
    elif control == "halt":
        engine.halt(rollout, "halted by the test", now=timezone.now())
        rollout.save()
    else:
        rollout.end_at = timezone.now() - timedelta(seconds=1)
        rollout.save()
    assert offered(client, "000002") == []
    assert not gate.allowed(unmanaged, identity("000002"))
    if control == "pause":  # and resuming offers it again
        services.resume_rollout(Rollout.objects.get(pk=rollout.pk), actor=tenants["noc"])
        assert offered(client, "000002") == ["2.0.0"]


def test_changes_by_another_process_are_seen_after_the_ttl(
    client, unmanaged, fleet, tenants, settings
):
    """Another process's writes send no signal here (simulated with queryset.update and
    bulk_create): the cache sees them once TARGETING_CACHE_SECONDS have passed."""
    rollout = three_waves(unmanaged, tenants)
    services.start_rollout(rollout, actor=tenants["noc"])
    Clock().tick(rollout)
    settings.TARGETING_CACHE_SECONDS = 3600
    assert offered(client, "000002") == ["2.0.0"]
    assert offered(client, "000007") == []
    # "another process" pauses the rollout: the cache still answers from before the TTL
    Rollout.objects.filter(pk=rollout.pk).update(status=RolloutStatus.PAUSED)
    assert offered(client, "000002") == ["2.0.0"]
    settings.TARGETING_CACHE_SECONDS = 0
    assert offered(client, "000002") == []
    # ... resumes it and widens the released ranges to 000007 (new range rows, no signals)
    settings.TARGETING_CACHE_SECONDS = 3600
    Rollout.objects.filter(pk=rollout.pk).update(status=RolloutStatus.RUNNING, current_wave=1)
    RolloutRange.objects.filter(rollout=rollout).delete()  # rows of the first wave
    RolloutRange.objects.bulk_create(
        [
            RolloutRange(
                rollout=rollout,
                wave=1,
                oui="00D09E",
                product_class="A-STB",
                lower="000001",
                upper="000007",
                serial_lo=serial_index_key("000001"),
                serial_hi=serial_index_key("000007"),
            )
        ]
    )
    gate._CACHE.built_for_local = gate._CACHE.local_changes  # forget the delete's local signal
    assert offered(client, "000007") == []  # not yet: within the TTL
    settings.TARGETING_CACHE_SECONDS = 0
    assert offered(client, "000007") == ["2.0.0"]
    assert offered(client, "000008") == []


def test_a_governed_check_costs_no_query_within_the_ttl(
    unmanaged, fleet, tenants, settings, django_assert_num_queries
):
    rollout = three_waves(unmanaged, tenants)
    ungoverned = approved_package(tenants["dc_a"], "2.1.0")
    FirmwarePackage.objects.filter(pk=ungoverned.pk).update(mode=MetadataMode.UNMANAGED)
    services.start_rollout(rollout, actor=tenants["noc"])
    Clock().tick(rollout)
    settings.TARGETING_CACHE_SECONDS = 3600
    at = timezone.now()
    answers.applicable(identity("000002"), at=at)  # warm both caches
    with django_assert_num_queries(0):
        released = answers.applicable(identity("000002"), at=at)
        unreleased = answers.applicable(identity("000009"), at=at)
    assert [p.software_version for p in released] == ["2.1.0", "2.0.0"]
    assert [p.software_version for p in unreleased] == ["2.1.0"]
    # past the TTL: one generation query serves both the catalogue and the gate
    targeting._CATALOGUE.checked -= 7200
    with django_assert_num_queries(1):
        answers.applicable(identity("000009"), at=at)


def test_too_many_ranges_to_hold_are_looked_up_in_the_database(
    client, unmanaged, fleet, tenants, settings
):
    settings.ROLLOUT_GATE_CACHE_RANGES = 0
    rollout = three_waves(unmanaged, tenants)
    services.start_rollout(rollout, actor=tenants["noc"])
    Clock().tick(rollout)
    assert offered(client, "000002") == ["2.0.0"]
    assert offered(client, "000007") == []
