"""Bulk actions: on a selection, on a whole filter, on a saved search; inline or in the background;
always through the services, always within what the user may act on."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from acs.choices import TaskRpc
from acs.models import Device, Task
from fus.services import catalogue
from portal.models import SavedFilter
from tests.acs.ui.test_views import login, notes
from tests.factories import make_package

pytestmark = pytest.mark.django_db
LIST = "/devices/"


def bulk(client, **data):
    return client.post(reverse("devices:list"), data, follow=True)


def queued(rpc=TaskRpc.REBOOT) -> set[str]:
    return {t.device.serial_number for t in Task.objects.filter(rpc=rpc)}


def test_a_selection_is_queued_and_each_box_gets_a_connection_request(
    client, tenants, devices, settings, connection_request_box, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    box_url, hits = connection_request_box
    Device.objects.update(connection_request_url=box_url)
    login(client, tenants, "helpdesk")
    with django_capture_on_commit_callbacks(execute=True):
        response = bulk(
            client,
            action="reboot",
            scope="selected",
            pk=[devices["a1"].pk, devices["b1"].pk, "x"],
            query="tag=lab",
        )
    assert queued() == {"A0001", "B0001"}
    assert "Reboot: queued for 2 devices." in notes(response)
    assert hits == ["/cr", "/cr"]
    assert response.redirect_chain[-1][0] == LIST + "?tag=lab"


def test_a_whole_filter_is_confirmed_with_its_count_then_queued_without_connection_requests(
    client, tenants, devices, settings, connection_request_box, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    box_url, hits = connection_request_box
    Device.objects.update(connection_request_url=box_url)
    login(client, tenants, "helpdesk")
    response = bulk(client, action="refresh", scope="filter", query="tag=lab")
    assert response.context["count"] == 2
    assert b'data-testid="bulk-confirm"' in response.content
    assert not Task.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = bulk(client, action="refresh", scope="filter", query="tag=lab", confirm="yes")
    assert queued(TaskRpc.GET_PARAMETER_NAMES) == {"A0001", "A0002"}
    assert "Refresh parameters: queued for 2 devices." in notes(response)
    assert hits == []


def test_a_saved_search_is_a_bulk_scope(client, tenants, devices):
    login(client, tenants, "noc")
    client.post(reverse("devices:save_search"), {"name": "Beta", "query": "oui=3C62F0"})
    saved = SavedFilter.objects.get()
    response = bulk(client, action="reboot", scope=f"saved:{saved.pk}")
    assert response.context["count"] == 1
    bulk(client, action="reboot", scope="saved", saved=saved.pk, confirm="yes")
    assert queued() == {"B0001"}
    # Another user's saved search is not a scope.
    login(client, tenants, "helpdesk")
    response = bulk(client, action="reboot", scope=f"saved:{saved.pk}", confirm="yes")
    assert any("choose one of your saved searches" in n for n in notes(response))
    assert Task.objects.count() == 1


def test_large_filters_are_queued_in_the_background(
    client, tenants, devices, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.ACS_UI_BULK_INLINE_MAX = 1
    login(client, tenants, "helpdesk")
    response = bulk(client, action="reboot", scope="filter", query="")
    assert response.context["count"] == 3 and response.context["background"]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = bulk(client, action="reboot", scope="filter", query="", confirm="yes")
    assert any("in the background for the 3 devices" in n for n in notes(response))
    assert callbacks, "the Celery task is sent on commit"
    assert queued() == {"A0001", "A0002", "B0001"}
    assert {t.created_by for t in Task.objects.all()} == {tenants["helpdesk"]}


def test_the_background_task_rechecks_the_users_permissions(tenants, devices):
    from acs.ui.tasks import bulk_action

    supplier = tenants["supplier_a"]
    assert bulk_action(user_id=supplier.pk, action="reboot", query="")["done"] == 0
    supplier.user_permissions.add(
        Permission.objects.get(codename="change_device"),
        Permission.objects.get(codename="add_task"),
    )
    result = bulk_action(user_id=supplier.pk, action="reboot", query="")
    assert result == {"done": 2, "skipped": 0, "reasons": []}
    assert queued() == {"A0001", "A0002"}
    assert bulk_action(user_id=999999, action="reboot", query="")["done"] == 0


def test_push_firmware_in_bulk_skips_devices_the_package_does_not_target(client, tenants, devices):
    package = catalogue.approve_firmware(make_package(tenants["dc_a"], "2.0.0"), actor=None)
    login(client, tenants, "helpdesk")
    response = bulk(client, action="push_firmware", scope="selected", pk=[devices["a1"].pk])
    assert any("choose an approved firmware package" in n for n in notes(response))
    response = bulk(
        client, action="push_firmware", scope="filter", query="", package=package.pk, confirm="yes"
    )
    assert queued(TaskRpc.DOWNLOAD) == {"A0001", "A0002"}
    messages = notes(response)
    assert "Push firmware: queued for 2 devices." in messages
    assert "Push firmware: 1 device skipped." in messages
    assert any("B0001" in n and "does not target the device class" in n for n in messages)


def test_an_invalid_search_or_action_queues_nothing(client, tenants, devices):
    login(client, tenants, "helpdesk")
    response = bulk(client, action="reboot", scope="filter", query="device_class=abc")
    assert any("The search is not valid: device_class" in n for n in notes(response))
    response = bulk(client, action="format_disk", scope="selected", pk=[devices["a1"].pk])
    assert any("Unknown bulk action 'format_disk'" in n for n in notes(response))
    response = bulk(client, action="reboot", scope="everything")
    assert any("Unknown scope" in n for n in notes(response))
    response = bulk(client, action="reboot", scope="selected")
    assert any("no device selected" in n for n in notes(response))
    response = bulk(client, action="reboot", scope="filter", query="q=nothing", confirm="yes")
    assert any("matches no device" in n for n in notes(response))
    assert not Task.objects.exists()
