"""The carousel form and list filters. They parse and check input; fus.services.carousels decides."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q

from fus.choices import FirmwareStatus
from fus.models import Carousel, CarouselKind, CarouselState, FirmwarePackage
from portal.filtersets import RestrictedFilterSet

# Fields that only mean something for some kinds (the page's JS hides the others).
KIND_FIELDS = {
    "include_stub": (CarouselKind.DVBSTP,),
    "tsi": (CarouselKind.FLUTE,),
    "flute_version": (CarouselKind.FLUTE,),
    "pid": (CarouselKind.DSMCC,),
    "carousel_id": (CarouselKind.DSMCC,),
    "service_id": (CarouselKind.DSMCC,),
}


class CarouselForm(forms.ModelForm):
    packages = forms.ModelMultipleChoiceField(
        queryset=FirmwarePackage.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text="Approved firmware packages: the files a FLUTE or DSM-CC carousel carries, the "
        "updates a SAP or DVBSTP carousel announces.",
    )

    class Meta:
        model = Carousel
        fields = [
            "name",
            "kind",
            "group",
            "port",
            "source_address",
            "ttl",
            "interface",
            "rate_bps",
            "packages",
            "include_stub",
            "tsi",
            "flute_version",
            "pid",
            "carousel_id",
            "service_id",
        ]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        # The approved packages this user may see, and those already on the carousel (a package
        # retired since stays listed, so saving the form does not silently drop it).
        visible = FirmwarePackage.objects.restrict(user, "view")
        chosen = Q(pk__in=self.instance.packages.values("pk")) if self.instance.pk else Q(pk=None)
        self.fields["packages"].queryset = (
            visible.filter(Q(status=FirmwareStatus.APPROVED) | chosen)
            .select_related("manufacturer")
            .order_by("manufacturer__name", "package_name", "software_version")
        )
        for name, kinds in KIND_FIELDS.items():
            self.fields[name].widget.attrs["data-kinds"] = " ".join(kinds)

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        packages = cleaned.get("packages")
        if kind and cleaned.get("include_stub") and kind != CarouselKind.DVBSTP:
            self.add_error("include_stub", "Only a DVBSTP carousel sends the FUS stub and SD&S.")
        if (
            kind in (CarouselKind.FLUTE, CarouselKind.DSMCC)
            and packages is not None
            and not packages
        ):
            self.add_error("packages", "A file carousel needs at least one package to carry.")
        if kind == CarouselKind.SAP and packages is not None and not packages:
            self.add_error("packages", "A SAP carousel needs at least one package to announce.")
        if (
            kind == CarouselKind.DVBSTP
            and packages is not None
            and not packages
            and not cleaned.get("include_stub")
        ):
            self.add_error(
                "packages",
                "A DVBSTP carousel needs a package to announce or the FUS stub and SD&S.",
            )
        return cleaned


class CarouselFilterSet(RestrictedFilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    kind = django_filters.MultipleChoiceFilter(choices=CarouselKind.choices)
    state = django_filters.MultipleChoiceFilter(
        field_name="run__state", choices=CarouselState.choices, label="State"
    )

    class Meta:
        model = Carousel
        fields = ["q", "kind", "state"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(group__icontains=value))
