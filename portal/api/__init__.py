"""Base classes of the REST API: restricted viewsets, permissions, error format."""
