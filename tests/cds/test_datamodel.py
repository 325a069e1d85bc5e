"""The pure reading of CDS parameters (cds.datamodel): references, capabilities, usage, items;
hostile values from a box never raise and never come out as guesses."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cds import datamodel as dm

P = dm.Paths()
SS = "Device.Services.StorageService.1."


def tree(values: dict[str, str]) -> dict:
    return {k: [v, "string", False] for k, v in values.items()}


def test_references_are_classified_with_or_without_the_trailing_dot():
    cases = {
        SS + "LogicalVolume.1.Folder.2": dm.FOLDER,
        SS + "LogicalVolume.1.Folder.2.": dm.FOLDER,
        SS + "LogicalVolume.3": dm.LOGICAL_VOLUME,
        SS + "PhysicalMedium.1": dm.PHYSICAL_MEDIUM,
        "Device.Services.StorageService.2": dm.STORAGE_SERVICE,
        "InternetGatewayDevice.Services.StorageService.1.LogicalVolume.1.Folder.1": dm.FOLDER,
        "": dm.NONE,
        "Device.Services.StorageService.0.LogicalVolume.1": dm.UNKNOWN,
        SS + "LogicalVolume.1.Folder.x": dm.UNKNOWN,
        SS + "PhysicalMedium.1.Folder.1": dm.UNKNOWN,
        "/mnt/disk": dm.UNKNOWN,
    }
    for value, kind in cases.items():
        assert dm.classify_reference(value).kind == kind, value
    assert dm.classify_reference(SS + "LogicalVolume.1.Folder.2").path.endswith("Folder.2.")


def test_only_a_folder_is_resizable_and_the_refusal_says_why():
    folder = dm.classify_reference(SS + "LogicalVolume.1.Folder.2")
    volume = dm.classify_reference(SS + "LogicalVolume.1")
    medium = dm.classify_reference(SS + "PhysicalMedium.1")
    assert dm.refusal_to_resize("push", folder) is None
    assert "LogicalVolume" in dm.refusal_to_resize("push", volume)
    assert "not resizable via remote operations" in dm.refusal_to_resize("pull", medium)
    assert dm.quota_name(folder) == SS + "LogicalVolume.1.Folder.2.Quota.Capacity"
    assert dm.usage_names(medium) == (
        SS + "PhysicalMedium.1.Name",
        SS + "PhysicalMedium.1.Capacity",
    )


def test_pull_capability_is_read_where_the_seed_puts_it_too():
    caps = P.capabilities
    assert dm.capabilities(tree({caps + "X_DVB_CDSPush.CDSPushCapable": "true"}), P) == (True, None)
    seed = tree({caps + "X_DVB_CDSPush.CDSPullCapable": "1"})
    assert dm.capabilities(seed, P) == (None, True)
    tr135 = tree({caps + "CDS.PushCapable": "false", caps + "CDS.PullCapable": "true"})
    assert dm.capabilities(tr135, P) == (False, True)
    assert dm.capabilities(tree({caps + "X_DVB_CDSPush.CDSPushCapable": "yes"}), P) == (None, None)


def test_items_and_their_count():
    c = P.content("push")
    t = tree(
        {
            c + "ItemNumberOfEntries": "2",
            c + "Item.3.ContentReferenceId": "crid://a/1",
            c + "Item.3.VersionNumber": "7",
            c + "Item.3.Size": "123456789",
            c + "Item.10.ContentReferenceId": "crid://a/2",
            c + "Item.10.VersionNumber": "300",  # out of 0-255
            c + "Item.10.Size": "-5",
            c + "Item.x.ContentReferenceId": "ignored",
        }
    )
    listed, count = dm.items(t, P, "push")
    assert count == 2
    assert [(i.instance, i.crid, i.version, i.size) for i in listed] == [
        (3, "crid://a/1", 7, 123456789),
        (10, "crid://a/2", None, None),
    ]
    assert dm.instance_paths(t, P, "push") == {3, 10}


def test_usage_of_each_kind():
    folder = dm.classify_reference(SS + "LogicalVolume.1.Folder.2")
    t = tree(
        {
            folder.path + "Name": "cds-push",
            folder.path + "Quota.Capacity": "98000",
            folder.path + "Quota.UsedSpace": "12001",
        }
    )
    assert dm.usage(t, folder) == dm.Usage("cds-push", 98000, 12001)
    assert dm.usage(tree({folder.path + "Quota.Capacity": "1e9"}), folder).capacity_mb is None


values = st.one_of(st.text(max_size=40), st.sampled_from(["true", "0", "4294967296", "", "٣"]))
paths = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda s, n, f: f"{P.content(s)}Item.{n}.{f}",
        st.sampled_from(dm.SERVICES),
        st.integers(min_value=-5, max_value=2**40),
        st.sampled_from(["ContentReferenceId", "VersionNumber", "Size", "Title", "Other"]),
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(paths, st.one_of(st.none(), values), max_size=30), st.text(max_size=300))
def test_hostile_trees_and_references_never_raise(raw, reference):
    t = {k: [v, None, None] for k, v in raw.items()}
    t["Bad"] = "not a list"  # a malformed entry
    ref = dm.classify_reference(reference)
    assert ref.kind in (
        dm.FOLDER,
        dm.LOGICAL_VOLUME,
        dm.PHYSICAL_MEDIUM,
        dm.STORAGE_SERVICE,
        dm.UNKNOWN,
        dm.NONE,
    )
    dm.usage(t, ref)
    dm.capabilities(t, P)
    for service in dm.SERVICES:
        listed, count = dm.items(t, P, service)
        for item in listed:
            assert 1 <= item.instance <= dm.MAX_UNSIGNED_INT
            assert item.version is None or 0 <= item.version <= 255
            assert item.size is None or item.size >= 0
            assert len(item.crid) <= dm.MAX_TEXT and item.crid.isprintable()
        assert count is None or count >= 0


@given(st.integers(min_value=1, max_value=2**32 - 1), st.sampled_from(dm.SERVICES))
def test_item_paths_round_trip(number, service):
    path = P.item(service, number)
    t = tree(
        {path + "ContentReferenceId": "crid://x/y", P.content(service) + "ItemNumberOfEntries": "1"}
    )
    listed, count = dm.items(t, P, service)
    assert [i.instance for i in listed] == [number] and count == 1
