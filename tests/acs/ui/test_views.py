"""The device pages with every role: what each sees, what each may do, and what bad input does.

Help desk and NOC view and operate every box; a supplier sees only its manufacturer's boxes and
cannot act unless given the permissions; another tenant's box is a 404 everywhere.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from acs.choices import AcsAuditKind, DeviceEventKind, TaskRpc, TaskState
from acs.cwmp import messages as m
from acs.models import Device, DeviceEvent, Task
from acs.services import tasks as task_services
from fus.models import FirmwarePackage
from fus.services import catalogue
from portal.models import AuditEvent, SavedFilter
from tests.acs.ui.conftest import make_device
from tests.factories import make_package

pytestmark = pytest.mark.django_db


def url(name, *args):
    return reverse(f"devices:{name}", args=args)


def login(client, tenants, role):
    client.force_login(tenants[role])
    return client


def notes(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def listed(response) -> set[str]:
    return {d.serial_number for d in response.context["page"].rows}


# --- who sees what --------------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_the_login_page(client, devices):
    for path in (url("list"), url("device", devices["a1"].pk), url("live", devices["a1"].pk)):
        response = client.get(path)
        assert response.status_code == 302 and "/login/" in response["Location"]
    response = client.post(url("action", devices["a1"].pk, "reboot"))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not Task.objects.exists()


@pytest.mark.parametrize("role", ["helpdesk", "noc", "admin"])
def test_operators_see_every_device(client, tenants, devices, role):
    login(client, tenants, role)
    response = client.get(url("list"))
    assert response.status_code == 200
    assert listed(response) == {"A0001", "A0002", "B0001"}
    for device in devices.values():
        page = client.get(url("device", device.pk))
        assert page.status_code == 200
        assert page.context["may_act"] is True


def test_a_supplier_sees_only_its_manufacturers_devices(client, tenants, devices):
    login(client, tenants, "supplier_a")
    response = client.get(url("list"))
    assert listed(response) == {"A0001", "A0002"}
    assert response.context["bulk_actions"] == {}
    page = client.get(url("device", devices["a1"].pk))
    assert page.status_code == 200
    assert page.context["may_act"] is False
    assert b'data-testid="device-actions"' not in page.content
    assert b"192.0.2.1" in page.content
    # Another manufacturer's box is not there at all: page, live state, actions, tasks.
    b1 = devices["b1"]
    task = task_services.reboot(b1, actor=tenants["noc"])
    assert client.get(url("device", b1.pk)).status_code == 404
    assert client.get(url("live", b1.pk)).status_code == 404
    assert client.get(url("factory_reset", b1.pk)).status_code == 404
    assert client.post(url("action", b1.pk, "reboot")).status_code == 404
    assert client.post(url("task_action", b1.pk, task.pk, "cancel")).status_code == 404
    csv_rows = list(csv.reader(io.StringIO(_streamed(client.get(url("list") + "?export=csv")))))
    assert {row[0] for row in csv_rows[1:]} == {"A0001", "A0002"}


def test_a_supplier_cannot_act_on_its_own_devices_without_the_permission(client, tenants, devices):
    login(client, tenants, "supplier_a")
    a1 = devices["a1"]
    assert client.post(url("action", a1.pk, "reboot")).status_code == 403
    assert client.get(url("factory_reset", a1.pk)).status_code == 403
    response = client.post(url("list"), {"action": "reboot", "scope": "selected", "pk": [a1.pk]})
    assert response.status_code == 403
    assert not Task.objects.exists()


def test_a_supplier_given_the_permissions_acts_on_its_own_devices_only(client, tenants, devices):
    supplier = tenants["supplier_a"]
    supplier.user_permissions.add(
        Permission.objects.get(codename="change_device"),
        Permission.objects.get(codename="add_task"),
    )
    login(client, tenants, "supplier_a")
    response = client.post(url("action", devices["a1"].pk, "reboot"), follow=True)
    assert "Reboot queued as task" in notes(response)[0]
    assert Task.objects.get().device == devices["a1"]
    assert client.post(url("action", devices["b1"].pk, "reboot")).status_code == 404
    response = client.post(
        url("list"),
        {"action": "reboot", "scope": "selected", "pk": [devices["a2"].pk, devices["b1"].pk]},
        follow=True,
    )
    assert {t.device.serial_number for t in Task.objects.all()} == {"A0001", "A0002"}
    assert "queued for 1 device." in " ".join(notes(response))


def test_the_device_page_shows_summary_tasks_faults_events_and_history(client, tenants, devices):
    a1 = devices["a1"]
    task = task_services.set_parameter_values(
        a1, {"Device.ManagementServer.PeriodicInformInterval": 60}, actor=tenants["noc"]
    )
    task_services.mark_sent(task.pk, session_token="t", now=task.created)
    task_services.fault(task.pk, m.Fault(9007, "Invalid parameter value"), now=task.created)
    DeviceEvent.objects.create(device=a1, kind=DeviceEventKind.INFORM, message="1 BOOT")
    login(client, tenants, "helpdesk")
    page = client.get(url("device", a1.pk))
    body = page.content.decode()
    assert "A0001" in body and "192.0.2.1" in body and "00:d0:9e:00:00:01" in body
    assert [t["state"] for t in page.context["tasks"]] == [TaskState.FAULT]
    assert [t.fault_code for t in page.context["faults"]] == [9007]
    assert "Invalid parameter value" in body and "1 BOOT" in body
    assert "Device.ManagementServer.PeriodicInformInterval" in body
    # The audit trail of the device (who queued what) is shown to those who may read the audit.
    assert page.context["history"] is None  # helpdesk has no audit permission
    login(client, tenants, "noc")
    history = client.get(url("device", a1.pk)).context["history"]
    assert [e.kind for e in history] == [AcsAuditKind.TASK_QUEUED]


# --- the list's filters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"A0001", "A0002", "B0001"}),
        ("oui=00d09e", {"A0001", "A0002"}),
        ("product_class=B-STB", {"B0001"}),
        ("software_version=0.9.0", {"A0002"}),
        ("hardware_version=HW1", {"A0001", "A0002", "B0001"}),
        ("online=true", {"A0001"}),
        ("serial=A0002", {"A0002"}),
        ("mac=00d0.9e00.0001", {"A0001"}),
        ("online=false", {"A0002", "B0001"}),
        ("tag=lab", {"A0001", "A0002"}),
        ("tag=vip", {"A0001"}),
        ("tag=la", set()),
        ("q=A0002", {"A0002"}),
        ("q=A000", set()),  # exact unless asked for a prefix
        ("q=A000*", {"A0001", "A0002"}),
        ("q=*", {"A0001", "A0002", "B0001"}),
        ("q=00-D0-9E-00-00-01", {"A0001"}),
        ("q=198.51.100.7", {"B0001"}),
        ("q=nothing", set()),
    ],
)
def test_list_filters(client, tenants, devices, query, expected):
    login(client, tenants, "helpdesk")
    assert listed(client.get(url("list") + "?" + query)) == expected


def test_device_class_filter_offers_only_the_suppliers_classes(client, tenants, devices):
    login(client, tenants, "supplier_a")
    response = client.get(url("list") + f"?device_class={tenants['dc_b'].pk}")
    assert listed(response) == set()
    assert response.context["filter_form"].errors["device_class"]
    assert listed(client.get(url("list") + f"?device_class={tenants['dc_a'].pk}")) == {
        "A0001",
        "A0002",
    }


def test_list_pages_link_to_more_without_counting(client, tenants, django_assert_max_num_queries):
    for n in range(7):
        make_device(tenants["dc_a"], f"S{n:03d}")
    login(client, tenants, "helpdesk")
    view_per_page = 3
    from acs.ui.views import DeviceListView

    DeviceListView.per_page = view_per_page
    try:
        response = client.get(url("list"))
        assert listed(response) == {"S000", "S001", "S002"}
        serials = []
        next_url = response.context["next_url"]
        while next_url:
            response = client.get(next_url)
            serials += sorted(listed(response))
            next_url = response.context["next_url"]
        assert serials == [f"S{n:03d}" for n in range(3, 7)]
        assert response.context["prev_url"]
        with django_assert_max_num_queries(12) as queries:
            client.get(url("list") + "?oui=00D09E")
        assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
    finally:
        DeviceListView.per_page = 50


def test_a_broken_page_cursor_is_reported_and_the_first_page_shown(client, tenants, devices):
    login(client, tenants, "helpdesk")
    response = client.get(url("list") + "?after=!!garbage!!", follow=True)
    assert response.status_code == 200
    assert listed(response) == {"A0001", "A0002", "B0001"}
    assert any("Page position ignored" in n for n in notes(response))


def _streamed(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_csv_export_streams_every_device_of_the_filter(client, tenants, devices):
    login(client, tenants, "helpdesk")
    response = client.get(url("list") + "?oui=00D09E&export=csv")
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(_streamed(response))))
    assert rows[0][:3] == ["SerialNumber", "OUI", "ProductClass"]
    assert sorted(r[0] for r in rows[1:]) == ["A0001", "A0002"]


# --- saved searches -------------------------------------------------------------------------------


def test_saved_searches_are_saved_listed_updated_and_deleted_per_user(client, tenants, devices):
    login(client, tenants, "helpdesk")
    response = client.post(
        url("save_search"), {"name": "Lab boxes", "query": "tag=lab&after=xyz"}, follow=True
    )
    saved = SavedFilter.objects.get()
    assert (saved.user, saved.path, saved.query) == (tenants["helpdesk"], "/devices/", "tag=lab")
    assert listed(response) == {"A0001", "A0002"}
    assert [s.name for s in response.context["saved_searches"]] == ["Lab boxes"]
    client.post(url("save_search"), {"name": "Lab boxes", "query": "tag=vip"})
    assert SavedFilter.objects.get().query == "tag=vip"
    # Someone else neither sees nor deletes it.
    login(client, tenants, "noc")
    assert list(client.get(url("list")).context["saved_searches"]) == []
    assert client.post(url("delete_search", saved.pk)).status_code == 404
    login(client, tenants, "helpdesk")
    client.post(url("delete_search", saved.pk))
    assert not SavedFilter.objects.exists()


def test_a_saved_search_needs_a_name(client, tenants):
    login(client, tenants, "helpdesk")
    response = client.post(url("save_search"), {"name": "  ", "query": "tag=lab"}, follow=True)
    assert any("Saved search name" in n for n in notes(response))
    assert not SavedFilter.objects.exists()


# --- actions on one device ------------------------------------------------------------------------


def post_action(client, device, action, data=None):
    return client.post(url("action", device.pk, action), data or {}, follow=True)


def test_helpdesk_queues_every_action_through_the_services(client, tenants, devices):
    a1 = devices["a1"]
    login(client, tenants, "helpdesk")
    post_action(client, a1, "refresh")
    post_action(client, a1, "refresh", {"path": "Device.DeviceInfo."})
    post_action(
        client,
        a1,
        "set_value",
        {
            "name": "Device.ManagementServer.PeriodicInformInterval",
            "value": "60",
            "type": "unsignedInt",
        },
    )
    post_action(client, a1, "reboot")
    post_action(client, a1, "add_object", {"add-object_name": "Device.Services.STBService."})
    post_action(
        client, a1, "delete_object", {"delete-object_name": "Device.Services.STBService.1."}
    )
    tasks = list(Task.objects.filter(device=a1).order_by("pk"))
    assert [t.rpc for t in tasks] == [
        TaskRpc.GET_PARAMETER_NAMES,
        TaskRpc.GET_PARAMETER_NAMES,
        TaskRpc.SET_PARAMETER_VALUES,
        TaskRpc.REBOOT,
        TaskRpc.ADD_OBJECT,
        TaskRpc.DELETE_OBJECT,
    ]
    assert m.from_dict(tasks[1].request) == m.GetParameterNames("Device.DeviceInfo.", False)
    assert m.from_dict(tasks[2].request).parameters == (
        m.ParameterValue(
            "Device.ManagementServer.PeriodicInformInterval", m.TypedValue("60", "unsignedInt")
        ),
    )
    assert all(t.created_by == tenants["helpdesk"] for t in tasks)
    audits = AuditEvent.objects.filter(kind=AcsAuditKind.TASK_QUEUED, actor=tenants["helpdesk"])
    assert audits.count() == 6


def test_factory_reset_needs_its_confirmation(client, tenants, devices):
    a1 = devices["a1"]
    login(client, tenants, "helpdesk")
    response = client.post(url("action", a1.pk, "factory_reset"))
    assert response.status_code == 302 and response["Location"] == url("factory_reset", a1.pk)
    assert not Task.objects.exists()
    page = client.get(url("factory_reset", a1.pk))
    assert b"cannot be undone" in page.content
    post_action(client, a1, "factory_reset", {"confirm": "yes"})
    assert Task.objects.get().rpc == TaskRpc.FACTORY_RESET


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        (
            "set_value",
            {"name": "Device.X.Enable", "value": "maybe", "type": "boolean"},
            "Value: Value 'maybe' is not a valid boolean",
        ),
        (
            "set_value",
            {"name": "Device.X.", "value": "1", "type": "string"},
            "is an object path",
        ),
        ("set_value", {"name": "Device.X", "value": "1", "type": "float"}, "Type: Select a valid"),
        (
            "set_value",
            {"name": "Device.X", "value": "4294967296", "type": "unsignedInt"},
            "not a valid unsignedInt",
        ),
        ("add_object", {"add-object_name": "Device.X"}, "must end with '.'"),
        ("delete_object", {"delete-object_name": ""}, "Object path: This field is required."),
        ("refresh", {"path": "Device.X"}, "must end with '.'"),
        ("push_firmware", {"package": "999999"}, "Package: Select a valid choice."),
    ],
)
def test_bad_action_input_is_refused_with_the_field_and_queues_nothing(
    client, tenants, devices, action, data, message
):
    login(client, tenants, "helpdesk")
    response = post_action(client, devices["a1"], action, data)
    assert any(message in n for n in notes(response)), notes(response)
    assert not Task.objects.exists()


def test_unknown_actions_are_404(client, tenants, devices):
    login(client, tenants, "helpdesk")
    assert client.post(url("action", devices["a1"].pk, "self-destruct")).status_code == 404
    assert client.get(url("action", devices["a1"].pk, "reboot")).status_code == 405


def test_push_firmware_offers_targeted_packages_first_and_refuses_other_classes(
    client, tenants, devices
):
    noc = tenants["noc"]
    targeted = catalogue.approve_firmware(make_package(tenants["dc_a"], "2.0.0"), actor=noc)
    foreign = catalogue.approve_firmware(make_package(tenants["dc_b"], "3.0.0"), actor=noc)
    make_package(tenants["dc_a"], "2.1.0")  # not approved: never offered
    # Approved for the class but outside its ValidityTimeRange: offered apart, with a warning.
    lapsed = catalogue.approve_firmware(make_package(tenants["dc_a"], "2.2.0"), actor=noc)
    FirmwarePackage.objects.filter(pk=lapsed.pk).update(
        valid_until=timezone.now() - timezone.timedelta(days=1)
    )
    a1 = devices["a1"]
    login(client, tenants, "helpdesk")
    page = client.get(url("device", a1.pk))
    assert [p.pk for p in page.context["applicable_packages"]] == [targeted.pk]
    assert [p.pk for p in page.context["other_packages"]] == [lapsed.pk]
    assert b"not targeted at it" in page.content
    response = post_action(client, a1, "push_firmware", {"package": foreign.pk})
    assert any("does not target the device class" in n for n in notes(response))
    post_action(client, a1, "push_firmware", {"package": targeted.pk})
    task = Task.objects.get()
    assert (task.rpc, task.package, task.expected_software_version) == (
        TaskRpc.DOWNLOAD,
        targeted,
        "2.0.0",
    )
    # A second Download while one is open is the service's refusal, shown as such.
    response = post_action(client, a1, "push_firmware", {"package": targeted.pk})
    assert any("already has an open Download" in n for n in notes(response))


def test_tasks_can_be_cancelled_and_retried(client, tenants, devices):
    a1 = devices["a1"]
    login(client, tenants, "helpdesk")
    post_action(client, a1, "reboot")
    task = Task.objects.get()
    response = client.post(url("task_action", a1.pk, task.pk, "cancel"), follow=True)
    assert "cancelled" in notes(response)[0]
    task.refresh_from_db()
    assert (task.state, task.reason) == (TaskState.EXPIRED, "cancelled")
    response = client.post(url("task_action", a1.pk, task.pk, "cancel"), follow=True)
    assert "Only queued tasks can be cancelled" in notes(response)[0]
    client.post(url("task_action", a1.pk, task.pk, "retry"))
    assert Task.objects.filter(state=TaskState.QUEUED, rpc=TaskRpc.REBOOT).count() == 1
    # A task of another device is not reachable through this device's URL.
    other = task_services.reboot(devices["a2"], actor=tenants["noc"])
    assert client.post(url("task_action", a1.pk, other.pk, "cancel")).status_code == 404


def test_connection_request_now_reaches_the_box(
    client, tenants, devices, settings, connection_request_box, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    box_url, hits = connection_request_box
    a2 = devices["a2"]
    login(client, tenants, "helpdesk")
    response = post_action(client, a2, "connection_request")
    assert any("has not reported a ConnectionRequestURL" in n for n in notes(response))
    Device.objects.filter(pk=a2.pk).update(connection_request_url=box_url)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(client, a2, "connection_request")
    assert "Connection request to" in notes(response)[0]
    assert hits == ["/cr"]
    assert DeviceEvent.objects.get(device=a2, kind=DeviceEventKind.CONNECTION_REQUEST).message == (
        "Connection request: accepted"
    )
    assert AuditEvent.objects.filter(kind=AcsAuditKind.CONNECTION_REQUESTED).count() == 1


# --- the parameter tree ---------------------------------------------------------------------------


def test_parameter_search_by_prefix_and_substring_and_pages(client, tenants, devices):
    login(client, tenants, "helpdesk")
    a1 = devices["a1"]
    page = client.get(url("device", a1.pk) + "?pq=Device.DeviceInfo.")
    assert [r["path"] for r in page.context["parameter_rows"]] == [
        "Device.DeviceInfo.HardwareVersion",
        "Device.DeviceInfo.SoftwareVersion",
    ]
    page = client.get(url("device", a1.pk) + "?pq=acs.example")  # matches a value
    assert [r["path"] for r in page.context["parameter_rows"]] == ["Device.ManagementServer.URL"]
    page = client.get(url("device", a1.pk) + "?pq=interval")
    assert [r["path"] for r in page.context["parameter_rows"]] == [
        "Device.ManagementServer.PeriodicInformInterval"
    ]
    params = a1.parameters
    params.tree = {f"Device.X.{i:04d}": [str(i), "int", True] for i in range(250)}
    params.save()
    page = client.get(url("device", a1.pk) + "?pp=3")
    assert page.context["parameter_pages"] == 3
    assert next(r["path"] for r in page.context["parameter_rows"]) == "Device.X.0200"
    assert len(page.context["parameter_rows"]) == 50
    page = client.get(url("device", a1.pk) + "?pp=99")  # past the end: the last page
    assert page.context["parameter_page"] == 3
    page = client.get(url("device", a1.pk) + "?pp=x&set=Device.X.0007")
    assert page.context["parameter_page"] == 1
    assert page.context["set_form"].initial == {
        "name": "Device.X.0007",
        "value": "7",
        "type": "int",
    }


def test_suppliers_do_not_see_the_parameter_tree(client, tenants, devices):
    login(client, tenants, "supplier_a")
    page = client.get(url("device", devices["a1"].pk))
    assert page.context["parameters"] is None and not page.context["see_parameters"]
    assert b"Device.ManagementServer.URL" not in page.content
