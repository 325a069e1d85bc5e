"""Request bodies of /api/devices/{id}/cds/ (errors name the field and the value)."""

from __future__ import annotations

from rest_framework import serializers

from cds import datamodel as dm
from cds.choices import Service
from cds.services.storage import MAX_DELETE, MAX_REASON


class DeleteItemsSerializer(serializers.Serializer):
    service = serializers.ChoiceField(choices=Service.choices)
    items = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=dm.MAX_UNSIGNED_INT),
        min_length=1,
        max_length=MAX_DELETE,
        help_text="Content.Item instance numbers.",
    )
    reason = serializers.CharField(max_length=MAX_REASON, help_text="Why (audited).")


class ResizeSerializer(serializers.Serializer):
    service = serializers.ChoiceField(choices=Service.choices)
    capacity_mb = serializers.IntegerField(min_value=1, max_value=dm.MAX_UNSIGNED_INT)
    reason = serializers.CharField(max_length=MAX_REASON, required=False, allow_blank=True)


class OperationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    service = serializers.CharField()
    status = serializers.CharField()
    status_label = serializers.CharField()
    message = serializers.CharField()
    reason = serializers.CharField()
    actor = serializers.CharField()
    details = serializers.DictField()
    created = serializers.CharField()
    finished = serializers.CharField(allow_null=True)
    tasks = serializers.ListField(child=serializers.IntegerField())
