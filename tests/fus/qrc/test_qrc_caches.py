"""The QRC's per-process caches: locations follow local saves at once and other processes' changes
within TARGETING_CACHE_SECONDS; a warm check costs no query; the fast answer writer and spyne's
serialiser give the same response through the whole stack."""

from __future__ import annotations

import pytest

from fus.choices import MetadataMode
from fus.models import FirmwarePackage, FusEntity, ServiceLocation
from fus.models.entities import LocationKind
from fus.qrc import answers, service
from tests.fus.delivery_helpers import approved_package
from tests.fus.qrc.test_qrc import Q, envelope, post, text, updates


@pytest.fixture
def unmanaged(tenants):
    """An approved unmanaged package 2.0.0 for Alpha's A-STB class."""
    package = approved_package(tenants["dc_a"], "2.0.0")
    FirmwarePackage.objects.filter(pk=package.pk).update(mode=MetadataMode.UNMANAGED)
    return FirmwarePackage.objects.get(pk=package.pk)


def urls(client) -> list[str]:
    (update,) = updates(post(client, envelope()))
    return [
        text(loc, "q:URL")
        for loc in update.xpath("q:Files/q:PackageFile/q:Locations/q:Location", namespaces=Q)
    ]


def test_locations_are_cached_and_follow_changes(
    client, unmanaged, settings, django_assert_num_queries
):
    settings.FUS_DOWNLOAD_BASE_URL = "http://fallback.example"
    settings.TARGETING_CACHE_SECONDS = 3600
    path = f"/firmware/{unmanaged.pk}/image.bin"
    fus = FusEntity.objects.create(name="FUS", fus_id="1", is_default=True)
    cdn = ServiceLocation.objects.create(
        fus=fus, kind=LocationKind.UNICAST, url="https://cdn1.example", preference=1
    )
    assert urls(client) == [f"https://cdn1.example{path}"]
    with django_assert_num_queries(0):  # targeting, gate and locations all from memory
        assert urls(client) == [f"https://cdn1.example{path}"]
    # saved in this process: seen at once
    cdn.url = "https://cdn2.example"
    cdn.save()
    assert urls(client) == [f"https://cdn2.example{path}"]
    ServiceLocation.objects.create(fus=fus, kind=LocationKind.MULTICAST, address="239.1.1.1")
    assert urls(client) == [f"https://cdn2.example{path}", "dvb-mcast://239.1.1.1"]
    # another process's change (no signal here): seen once the TTL has passed
    ServiceLocation.objects.filter(pk=cdn.pk).update(url="https://cdn3.example")
    assert urls(client)[0] == f"https://cdn2.example{path}"
    answers._LOCATIONS.loaded -= 7200
    assert urls(client)[0] == f"https://cdn3.example{path}"
    # the FUS entity stops being the default: the fallback download server
    fus.is_default = False
    fus.save()
    assert urls(client) == [f"http://fallback.example{path}"]
    FusEntity.objects.filter(pk=fus.pk).update(is_default=True)
    settings.TARGETING_CACHE_SECONDS = 0
    assert urls(client) == [f"https://cdn3.example{path}", "dvb-mcast://239.1.1.1"]
    fus.delete()
    assert urls(client) == [f"http://fallback.example{path}"]


def test_the_fast_writer_answers_what_spyne_would(client, unmanaged, monkeypatch):
    fus = FusEntity.objects.create(name="FUS", fus_id="1", is_default=True)
    ServiceLocation.objects.create(fus=fus, kind=LocationKind.UNICAST, url="https://cdn.example")
    ServiceLocation.objects.create(
        fus=fus, kind=LocationKind.MULTICAST, address="ff3e::1", port=4000, preference=2
    )
    fast = post(client, envelope())
    empty_fast = post(client, envelope(product_class="OTHER"))

    def refuse(offers):
        raise ValueError("refused")  # as for text lxml cannot write: spyne serialises

    monkeypatch.setattr(service, "response_bytes", refuse)
    slow = post(client, envelope())
    empty_slow = post(client, envelope(product_class="OTHER"))
    assert fast.status_code == slow.status_code == 200
    assert b"dvb-mcast://[ff3e::1]:4000" in fast.content
    assert fast.content == slow.content
    assert fast.headers["Content-Type"] == slow.headers["Content-Type"]
    assert empty_fast.content == empty_slow.content
