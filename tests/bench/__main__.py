"""Run every benchmark: `python -m tests.bench` (what `make bench` does)."""

from tests.bench import (
    acs_sessions,
    carousels,
    cpesim_memory,
    device_list,
    downloads,
    qrc,
    rollout_fleet,
    rollouts,
    targeting,
    upload,
)

if __name__ == "__main__":
    upload.main()
    cpesim_memory.main([])
    targeting.main([])
    downloads.main([])
    qrc.main([])
    acs_sessions.main([])
    device_list.main([])
    carousels.main([])
    rollouts.main([])
    rollout_fleet.main([])
