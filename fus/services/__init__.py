"""FUS services: the only code that changes FUS rows (views, API, admin and tasks call these)."""
