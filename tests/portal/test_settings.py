"""Settings from the environment: the generated secret key, the runtime folder, database URLs."""

import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _settings(env_extra: dict, expr: str) -> str:
    env = {
        k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL")
    }
    env.update(env_extra, DJANGO_SETTINGS_MODULE="portal.settings")
    code = f"import django; django.setup(); from django.conf import settings as s; print({expr})"
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_secret_key_is_generated_once_into_the_runtime_folder(tmp_path):
    first = _settings({"PORTAL_VAR_DIR": str(tmp_path)}, "s.SECRET_KEY")
    key_file = tmp_path / "secret_key"
    assert len(first) >= 50 and key_file.read_text() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert _settings({"PORTAL_VAR_DIR": str(tmp_path)}, "s.SECRET_KEY") == first
    assert (
        _settings({"PORTAL_VAR_DIR": str(tmp_path), "SECRET_KEY": "from-env"}, "s.SECRET_KEY")
        == "from-env"
    )


def test_embedded_defaults_and_production_urls(tmp_path):
    var = {"PORTAL_VAR_DIR": str(tmp_path)}
    assert _settings(var, "s.DATABASES['default']['NAME']") == str(tmp_path / "portal.sqlite3")
    assert _settings(var, "s.CELERY_BROKER_URL") == "filesystem://"
    assert (tmp_path / "celery-broker" / "queue").is_dir()
    assert _settings(var, "s.CHANNEL_LAYERS['default']['BACKEND']").endswith("InMemoryChannelLayer")
    prod = {
        **var,
        "DATABASE_URL": "postgres://u:p@db.example:5432/portal",
        "REDIS_URL": "redis://cache:6379/1",
    }
    assert _settings(prod, "s.DATABASES['default']['ENGINE'], s.DATABASES['default']['HOST']") == (
        "django.db.backends.postgresql db.example"
    )
    assert _settings(prod, "s.CELERY_BROKER_URL") == "redis://cache:6379/1"
    assert _settings(prod, "s.CHANNEL_LAYERS['default']['BACKEND']").endswith("RedisChannelLayer")
