import django_tables2 as tables
from django.utils.html import format_html, format_html_join


class AuditEventTable(tables.Table):
    timestamp = tables.DateTimeColumn(format="Y-m-d H:i:s")
    actor_name = tables.Column(verbose_name="Who", default="system")
    kind = tables.Column(verbose_name="What")
    object_repr = tables.Column(verbose_name="Object", empty_values=())
    message = tables.Column(verbose_name="Details", empty_values=(), orderable=False)
    ip_address = tables.Column(verbose_name="IP")

    class Meta:
        attrs = {"class": "table"}

    def render_kind(self, record):
        return record.get_kind_display()

    def render_object_repr(self, record):
        if not record.object_repr:
            return "—"
        kind = record.object_type.name if record.object_type else ""
        return format_html("<span class='muted'>{}</span> {}", kind, record.object_repr)

    def render_message(self, record):
        parts = []
        if record.message:
            parts.append(format_html("<div>{}</div>", record.message))
        if record.changes and record.kind == "updated":
            parts.append(
                format_html_join(
                    "",
                    "<div class='diff'><code>{}</code>: {} → {}</div>",
                    ((k, v[0], v[1]) for k, v in record.changes.items()),
                )
            )
        errors = record.details.get("errors") if isinstance(record.details, dict) else None
        if errors:
            parts.append(
                format_html_join("", "<div class='error-text'>{}</div>", ((e,) for e in errors))
            )
        return format_html_join("", "{}", ((p,) for p in parts)) or "—"
