"""Catalogue pages (NOC, help desk, suppliers alike — restrict() decides what each sees)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from acs.models import Device
from fus.filtersets import DeviceClassFilterSet, FirmwarePackageFilterSet, ManufacturerFilterSet
from fus.forms import (
    DeviceClassForm,
    FirmwareMetadataForm,
    FirmwareRetireForm,
    FirmwareUploadForm,
    ManufacturerForm,
    MetadataImportForm,
    SigningCertificateForm,
    split_list,
)
from fus.metadata.codec import MAX_DOCUMENT_BYTES
from fus.models import DeviceClass, FirmwareFile, FirmwarePackage, Manufacturer, SigningCertificate
from fus.services import catalogue
from fus.services.metadata import MetadataImportError, export_metadata, import_metadata
from fus.services.metadata import metadata_document as package_document
from fus.services.targeting import targeted_devices
from fus.tables import DeviceClassTable, FirmwarePackageTable, ManufacturerTable
from portal.permissions import can, get_for_user_or_404
from portal.views.generic import (
    BulkAction,
    ObjectDeleteView,
    ObjectEditView,
    ObjectListView,
    ObjectView,
    error_messages,
)

# --- manufacturers ---------------------------------------------------------------------------


class ManufacturerListView(ObjectListView):
    queryset = Manufacturer.objects.prefetch_related("ouis", "device_classes")
    filterset_class = ManufacturerFilterSet
    table_class = ManufacturerTable
    add_url_name = "fus:manufacturer_add"


class ManufacturerView(ObjectView):
    queryset = Manufacturer.objects.prefetch_related("ouis", "members", "certificates")
    template_name = "fus/manufacturer.html"

    def get_extra_context(self, request, obj):
        return {
            "device_classes": DeviceClass.objects.restrict(request.user).filter(manufacturer=obj),
            "packages": FirmwarePackage.objects.restrict(request.user).filter(manufacturer=obj)[
                :20
            ],
            "certificate_form": SigningCertificateForm()
            if can(request.user, SigningCertificate, "add")
            else None,
        }


class ManufacturerEditView(ObjectEditView):
    queryset = Manufacturer.objects.all()
    form_class = ManufacturerForm

    def save_form(self, form, obj, user):
        from django.db import transaction

        with transaction.atomic():
            manufacturer = form.save(commit=False)
            manufacturer.save()
            manufacturer.members.set(form.cleaned_data["members"])
            catalogue.set_manufacturer_ouis(manufacturer, split_list(form.cleaned_data["ouis"]))
        return manufacturer


class ManufacturerDeleteView(ObjectDeleteView):
    queryset = Manufacturer.objects.all()


@login_required
@require_POST
def add_certificate(request, pk):
    manufacturer = get_for_user_or_404(Manufacturer, request.user, "view", pk=pk)
    if not can(request.user, SigningCertificate, "add"):
        raise PermissionDenied
    form = SigningCertificateForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            certs = catalogue.add_signing_certificate(
                manufacturer, name=form.cleaned_data["name"], pem=form.cleaned_data["pem"]
            )
            messages.success(request, f"Registered {len(certs)} signing certificate(s).")
        except ValidationError as exc:
            for m in error_messages(exc):
                messages.error(request, m)
    else:
        for errors in form.errors.values():
            for m in errors:
                messages.error(request, m)
    return HttpResponseRedirect(request.POST.get("next") or manufacturer.get_absolute_url())


@login_required
@require_POST
def delete_certificate(request, pk):
    cert = get_for_user_or_404(SigningCertificate, request.user, "delete", pk=pk)
    cert.delete()
    messages.success(request, f"Removed signing certificate {cert.name}.")
    return HttpResponseRedirect(request.POST.get("next") or cert.manufacturer.get_absolute_url())


# --- device classes --------------------------------------------------------------------------


class DeviceClassListView(ObjectListView):
    queryset = DeviceClass.objects.select_related("manufacturer")
    filterset_class = DeviceClassFilterSet
    table_class = DeviceClassTable
    add_url_name = "fus:deviceclass_add"


class DeviceClassView(ObjectView):
    queryset = DeviceClass.objects.select_related("manufacturer")
    template_name = "fus/deviceclass.html"

    def get_extra_context(self, request, obj):
        return {
            "packages": FirmwarePackage.objects.restrict(request.user).filter(device_classes=obj)
        }


class DeviceClassEditView(ObjectEditView):
    queryset = DeviceClass.objects.all()
    form_class = DeviceClassForm

    def form_kwargs(self, request):
        return {"user": request.user}

    def save_form(self, form, obj, user):
        return form.save()


class DeviceClassDeleteView(ObjectDeleteView):
    queryset = DeviceClass.objects.all()


# --- firmware packages -----------------------------------------------------------------------

FIRMWARE_QS = FirmwarePackage.objects.select_related(
    "manufacturer", "uploaded_by", "approved_by"
).prefetch_related(
    "device_classes", Prefetch("files", queryset=FirmwareFile.objects.defer("signature"))
)


class FirmwareListView(ObjectListView):
    queryset = FIRMWARE_QS
    filterset_class = FirmwarePackageFilterSet
    table_class = FirmwarePackageTable
    add_url_name = "fus:firmware_add"
    bulk_actions = (
        BulkAction("approve", "Approve", "approve", catalogue.approve_firmware),
        BulkAction("retire", "Retire", "approve", catalogue.retire_firmware),
        BulkAction("delete", "Delete", "delete", catalogue.delete_firmware, danger=True),
    )


class FirmwareView(ObjectView):
    queryset = FIRMWARE_QS
    template_name = "fus/firmware.html"

    def get_extra_context(self, request, obj):
        may_approve = (
            FirmwarePackage.objects.restrict(request.user, "approve").filter(pk=obj.pk).exists()
        )
        return {
            "can_approve": may_approve,
            "retire_form": FirmwareRetireForm() if may_approve else None,
        }


class FirmwareEditView(ObjectEditView):
    queryset = FirmwarePackage.objects.all()
    form_class = FirmwareMetadataForm

    def form_kwargs(self, request):
        return {"user": request.user}

    def get_object(self, request, pk):
        if pk is None:
            raise PermissionDenied  # new packages come through the upload page
        return super().get_object(request, pk)

    def save_form(self, form, obj, user):
        changes = {name: form.cleaned_data[name] for name in FirmwarePackage.METADATA_FIELDS}
        return catalogue.update_firmware(
            obj, changes, actor=user, device_classes=form.cleaned_data["device_classes"]
        )


class FirmwareDeleteView(ObjectDeleteView):
    queryset = FirmwarePackage.objects.all()

    def delete_object(self, obj, user):
        catalogue.delete_firmware(obj, actor=user)


def _lifecycle_view(service, action: str, verb: str, *, post_fields: tuple[str, ...] = ()):
    """A POST-only view calling one lifecycle service on a package the user may `action`;
    `post_fields` are passed on from the form (e.g. the retirement reason)."""

    @login_required
    @require_POST
    def view(request, pk):
        package = get_for_user_or_404(FirmwarePackage, request.user, action, pk=pk)
        try:
            service(
                package, actor=request.user, **{f: request.POST.get(f, "") for f in post_fields}
            )
            messages.success(request, f"{package} {verb}.")
        except ValidationError as exc:
            for m in error_messages(exc):
                messages.error(request, m)
        return HttpResponseRedirect(package.get_absolute_url())

    return view


firmware_approve = _lifecycle_view(catalogue.approve_firmware, "approve", "approved")
firmware_retire = _lifecycle_view(
    catalogue.retire_firmware, "approve", "retired", post_fields=("reason",)
)
firmware_validate = _lifecycle_view(catalogue.validate_firmware, "change", "validated")


@login_required
def firmware_upload(request):
    """Upload a firmware package: metadata, image files and optional detached signatures."""
    if not can(request.user, FirmwarePackage, "add"):
        raise PermissionDenied
    form = FirmwareUploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        device_classes = list(data["device_classes"])
        manufacturer = get_for_user_or_404(
            Manufacturer, request.user, "view", pk=device_classes[0].manufacturer_id
        )
        draft = catalogue.FirmwareDraft(
            device_classes=device_classes,
            **{k: data[k] for k in FirmwarePackage.METADATA_FIELDS},
        )
        try:
            uploads = catalogue.pair_signatures(data["files"], data["signatures"])
            package = catalogue.upload_firmware(manufacturer, draft, uploads, actor=request.user)
        except ValidationError as exc:
            for m in error_messages(exc):
                form.add_error(None, m)
        else:
            messages.success(
                request, f"Uploaded {package}: {package.files.count()} file(s), validated."
            )
            return HttpResponseRedirect(package.get_absolute_url())
    return render(request, "fus/firmware_upload.html", {"form": form, "title": "Upload firmware"})


# --- metadata --------------------------------------------------------------------------------


@login_required
def metadata_import(request):
    """Import an RMS-FUS metadata document (NOC, or a supplier for its own manufacturers)."""
    if not can(request.user, FirmwarePackage, "add"):
        raise PermissionDenied
    form = MetadataImportForm(request.POST or None, request.FILES or None)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["document"]
        try:
            summary = import_metadata(
                upload.read(MAX_DOCUMENT_BYTES + 1),
                actor=request.user,
                source=f"upload {upload.name}",
            )
        except MetadataImportError as exc:
            errors = exc.messages
        else:
            verb = "Created" if summary.created else "Updated"
            messages.success(request, f"{verb} {summary.package} from {upload.name}.")
            for warning in summary.warnings:
                messages.warning(request, warning)
            return HttpResponseRedirect(reverse("fus:firmware_metadata", args=[summary.package.pk]))
    return render(
        request,
        "fus/metadata_import.html",
        {"form": form, "errors": errors, "title": "Import metadata"},
    )


@login_required
def firmware_metadata(request, pk):
    """A package's metadata, readable: entities, target entries with their RangeLists, validity,
    and how many devices of the inventory it targets now."""
    package = get_for_user_or_404(FirmwarePackage, request.user, "view", pk=pk)
    document = package_document(package)
    entries = package.target_entries.select_related("device_class").prefetch_related(
        "versions", "ranges"
    )
    now = timezone.now()
    population = None
    if can(request.user, Device, "view"):
        population = targeted_devices(
            package, at=now, devices=Device.objects.restrict(request.user)
        )
    return render(
        request,
        "fus/firmware_metadata.html",
        {
            "object": package,
            "title": f"Metadata of {package}",
            "document": document,
            "entries": entries,
            "timeline": _validity_timeline(package, now),
            "population": population.count() if population is not None else None,
        },
    )


def _validity_timeline(package: FirmwarePackage, now) -> dict | None:
    """Positions (in %) of the validity window and of now on a bar spanning both."""
    start, end = package.valid_from, package.valid_until
    if start is None or end is None:
        return None
    lo, hi = min(start, now), max(end, now)
    span = (hi - lo).total_seconds() or 1.0

    def pos(t):
        return round(100 * (t - lo).total_seconds() / span, 2)

    state = "upcoming" if now < start else "expired" if now > end else "active"
    return {
        "start": start,
        "end": end,
        "left": pos(start),
        "width": max(pos(end) - pos(start), 0.5),
        "now": pos(now),
        "state": state,
    }


@login_required
def firmware_metadata_xml(request, pk):
    package = get_for_user_or_404(FirmwarePackage, request.user, "view", pk=pk)
    response = HttpResponse(export_metadata(package), content_type="application/xml")
    response["Content-Disposition"] = (
        f'attachment; filename="{catalogue.safe_file_name(package.package_name)}.metadata.xml"'
    )
    return response


# --- supplier portal -------------------------------------------------------------------------


@login_required
def supplier_home(request):
    """A manufacturer's own view: its OUIs, device classes, firmware and signing certificates."""
    manufacturers = (
        Manufacturer.objects.restrict(request.user)
        .prefetch_related("ouis", "certificates")
        .annotate(n_packages=Count("firmware_packages", distinct=True))
    )
    return render(
        request,
        "fus/supplier_home.html",
        {
            "title": "Supplier portal",
            "manufacturers": manufacturers,
            "device_classes": DeviceClass.objects.restrict(request.user).select_related(
                "manufacturer"
            ),
            "packages": FirmwarePackageTable(
                FIRMWARE_QS.restrict(request.user)[:50], exclude=("pk",)
            ),
            "certificate_form": SigningCertificateForm()
            if can(request.user, SigningCertificate, "add")
            else None,
        },
    )
