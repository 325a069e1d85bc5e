"""The ACS-written golden traces: each file under traces/ named ``acs-*.xml`` is exactly what
`write_envelope` must produce for the arguments below. Regenerate a file deliberately with
``python -m tests.acs.cwmp.golden_writes`` and review the diff."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from acs.cwmp import messages as m
from acs.cwmp.codec import CWMP_1_0, CWMP_1_2, CWMP_1_4, write_envelope
from acs.cwmp.faults import FaultCode

TRACES = Path(__file__).parent / "traces"

GOLDEN_WRITES: dict[str, tuple[m.Message, dict[str, Any]]] = {
    "acs-inform-response-1-0.xml": (
        m.InformResponse(max_envelopes=1),
        {"cwmp_id": "1804289383", "namespace": CWMP_1_0},
    ),
    "acs-get-parameter-values-1-0.xml": (
        m.GetParameterValues(
            (
                "Device.DeviceInfo.SoftwareVersion",
                "Device.Services.StorageService.1.PhysicalMedium.",
            )
        ),
        {"cwmp_id": "s1.1", "namespace": CWMP_1_0},
    ),
    "acs-set-parameter-values-1-2.xml": (
        m.SetParameterValues(
            (
                m.ParameterValue(
                    "Device.ManagementServer.PeriodicInformInterval",
                    m.TypedValue.of(3600, m.XsdType.UNSIGNED_INT),
                ),
                m.ParameterValue("Device.Services.STBService.1.Enable", m.TypedValue.of(True)),
                m.ParameterValue(
                    "Device.UserInterface.ISPName", m.TypedValue("Tele & Vision <TV>")
                ),
                m.ParameterValue(
                    "Device.Time.X_VESTRA_NextMaintenance",
                    m.TypedValue.of(datetime(2026, 3, 15, 3, 0, tzinfo=UTC)),
                ),
                m.ParameterValue("Device.X_VESTRA_Splash", m.TypedValue.of(b"\x89PNG")),
            ),
            "task-812",
        ),
        {"cwmp_id": "s1.2", "namespace": CWMP_1_2, "hold_requests": True},
    ),
    "acs-download-1-4.xml": (
        m.Download(
            command_key="fw-4.2.18",
            file_type="1 Firmware Upgrade Image",
            url="https://fus.example.net/fw/VM-4K200/4.2.18.bin",
            file_size=73400320,
            target_file_name="vm4k200-4.2.18.bin",
        ),
        {"cwmp_id": "s1.3", "namespace": CWMP_1_4},
    ),
    "acs-fault-8000-1-2.xml": (
        m.Fault(FaultCode.ACS_METHOD_NOT_SUPPORTED, "Method not supported: Kicked"),
        {"cwmp_id": "k-1", "namespace": CWMP_1_2},
    ),
}


def main() -> None:
    for name, (message, kwargs) in GOLDEN_WRITES.items():
        (TRACES / name).write_bytes(write_envelope(message, **kwargs))


if __name__ == "__main__":
    main()
