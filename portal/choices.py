"""Choices shared across the portal."""

from django.db import models


class Role(models.TextChoices):
    """The portal's roles. Each is a Django group of the same name (see portal.roles)."""

    ADMIN = "admin", "Administrator"
    NOC = "noc", "NOC operator"
    HELPDESK = "helpdesk", "Help desk"
    SUPPLIER = "supplier", "Supplier (manufacturer)"


class AuditKind(models.TextChoices):
    """What an audit event records. Change-log kinds are written automatically (portal.audit)."""

    LOGIN = "login", "Logged in"
    LOGOUT = "logout", "Logged out"
    LOGIN_FAILED = "login_failed", "Login failed"
    OBJECT_CREATED = "created", "Created"
    OBJECT_UPDATED = "updated", "Updated"
    OBJECT_DELETED = "deleted", "Deleted"
    FIRMWARE_UPLOADED = "firmware_uploaded", "Firmware uploaded"
    FIRMWARE_UPLOAD_REJECTED = "firmware_upload_rejected", "Firmware upload rejected"
    FIRMWARE_VALIDATED = "firmware_validated", "Firmware validated"
    FIRMWARE_APPROVED = "firmware_approved", "Firmware approved"
    FIRMWARE_RETIRED = "firmware_retired", "Firmware retired"
    TOKEN_CREATED = "token_created", "API token created"
