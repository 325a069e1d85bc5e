"""CPU accounting of the benchmarks' processes from /proc (this machine only): a process's CPU
seconds, a server's worker processes, the PostgreSQL backends serving one database."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process in seconds, or None when it is gone or unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu(pid: int) -> float:
    """`cpu_seconds`, 0 for a process that is gone."""
    return cpu_seconds(pid) or 0.0


def _pids_where(test) -> list[int]:
    """The processes whose /proc entry passes `test` (a process gone meanwhile does not)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if test(entry):
                out.append(int(entry.name))
        except OSError:
            continue
    return out


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (a uvicorn supervisor's workers)."""

    def is_child(entry: Path) -> bool:
        return int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid

    return _pids_where(is_child)


def postgres_backends(db_name: str) -> list[int]:
    """The PostgreSQL backend processes connected to `db_name` (same machine)."""

    def is_backend(entry: Path) -> bool:
        cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        return cmdline.startswith("postgres: ") and f" {db_name} " in cmdline

    return _pids_where(is_backend)
