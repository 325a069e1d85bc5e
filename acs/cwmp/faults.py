"""CWMP fault codes (TR-069 Amendment 6, Annex A.5; `cwmp-1-2.xsd` fault code types).

ACS faults (8000-8005, vendor 8800-8899) are sent by the ACS to the CPE; CPE faults (9000-9032,
vendor 9800-9899) by the CPE to the ACS. Each known code has a name and the SOAP 1.1 `faultcode`
("Client" or "Server") the specification assigns to it.
"""

from __future__ import annotations

from enum import IntEnum


class FaultCode(IntEnum):
    """Every fault code TR-069 defines. ACS faults carry the ``ACS_`` prefix."""

    description: str
    soap_fault_code: str

    def __new__(cls, code: int, description: str, soap_fault_code: str) -> FaultCode:
        member = int.__new__(cls, code)
        member._value_ = code
        member.description = description
        member.soap_fault_code = soap_fault_code
        return member

    # ACS fault codes (sent by the ACS in answer to a CPE request)
    ACS_METHOD_NOT_SUPPORTED = (8000, "Method not supported", "Server")
    ACS_REQUEST_DENIED = (8001, "Request denied (no reason specified)", "Server")
    ACS_INTERNAL_ERROR = (8002, "Internal error", "Server")
    ACS_INVALID_ARGUMENTS = (8003, "Invalid arguments", "Client")
    ACS_RESOURCES_EXCEEDED = (8004, "Resources exceeded", "Server")
    ACS_RETRY_REQUEST = (8005, "Retry request", "Server")

    # CPE fault codes (sent by the CPE in answer to an ACS request, or in TransferComplete)
    METHOD_NOT_SUPPORTED = (9000, "Method not supported", "Server")
    REQUEST_DENIED = (9001, "Request denied (no reason specified)", "Server")
    INTERNAL_ERROR = (9002, "Internal error", "Server")
    INVALID_ARGUMENTS = (9003, "Invalid arguments", "Client")
    RESOURCES_EXCEEDED = (9004, "Resources exceeded", "Server")
    INVALID_PARAMETER_NAME = (9005, "Invalid parameter name", "Client")
    INVALID_PARAMETER_TYPE = (9006, "Invalid parameter type", "Client")
    INVALID_PARAMETER_VALUE = (9007, "Invalid parameter value", "Client")
    NON_WRITABLE_PARAMETER = (9008, "Attempt to set a non-writable parameter", "Client")
    NOTIFICATION_REQUEST_REJECTED = (9009, "Notification request rejected", "Server")
    FILE_TRANSFER_FAILURE = (9010, "File transfer failure", "Server")
    UPLOAD_FAILURE = (9011, "Upload failure", "Server")
    FILE_TRANSFER_AUTHENTICATION_FAILURE = (
        9012,
        "File transfer server authentication failure",
        "Server",
    )
    UNSUPPORTED_TRANSFER_PROTOCOL = (9013, "Unsupported protocol for file transfer", "Server")
    MULTICAST_JOIN_FAILURE = (
        9014,
        "File transfer failure: unable to join multicast group",
        "Server",
    )
    FILE_SERVER_UNREACHABLE = (
        9015,
        "File transfer failure: unable to contact file server",
        "Server",
    )
    FILE_ACCESS_FAILURE = (9016, "File transfer failure: unable to access file", "Server")
    DOWNLOAD_INCOMPLETE = (9017, "File transfer failure: unable to complete download", "Server")
    FILE_CORRUPTED = (9018, "File transfer failure: file corrupted", "Server")
    FILE_AUTHENTICATION_FAILURE = (
        9019,
        "File transfer failure: file authentication failure",
        "Server",
    )
    TIME_WINDOW_MISSED = (
        9020,
        "File transfer failure: unable to complete download within specified time windows",
        "Server",
    )
    CANCELATION_NOT_PERMITTED = (
        9021,
        "Cancelation of file transfer not permitted in current transfer state",
        "Client",
    )
    INVALID_UUID_FORMAT = (9022, "Invalid UUID format", "Client")
    UNKNOWN_EXECUTION_ENVIRONMENT = (9023, "Unknown Execution Environment", "Client")
    DISABLED_EXECUTION_ENVIRONMENT = (9024, "Disabled Execution Environment", "Client")
    DEPLOYMENT_UNIT_MISMATCH = (
        9025,
        "Deployment Unit to Execution Environment mismatch",
        "Client",
    )
    DUPLICATE_DEPLOYMENT_UNIT = (9026, "Duplicate Deployment Unit", "Client")
    SYSTEM_RESOURCES_EXCEEDED = (9027, "System resources exceeded", "Client")
    UNKNOWN_DEPLOYMENT_UNIT = (9028, "Unknown Deployment Unit", "Client")
    INVALID_DEPLOYMENT_UNIT_STATE = (9029, "Invalid Deployment Unit state", "Client")
    DOWNGRADE_NOT_PERMITTED = (
        9030,
        "Invalid Deployment Unit update: downgrade not permitted",
        "Client",
    )
    UPDATE_VERSION_NOT_SPECIFIED = (
        9031,
        "Invalid Deployment Unit update: version not specified",
        "Client",
    )
    UPDATE_VERSION_EXISTS = (
        9032,
        "Invalid Deployment Unit update: version already exists",
        "Client",
    )


ACS_VENDOR_FAULTS = range(8800, 8900)
CPE_VENDOR_FAULTS = range(9800, 9900)


def fault_description(code: int) -> str:
    """A human-readable name for any fault code, including vendor and unassigned ones."""
    try:
        return FaultCode(code).description
    except ValueError:
        pass
    if code in ACS_VENDOR_FAULTS:
        return "Vendor-specific ACS fault"
    if code in CPE_VENDOR_FAULTS:
        return "Vendor-specific CPE fault"
    if 8000 <= code <= 8799:
        return "Reserved ACS fault"
    if 9000 <= code <= 9799:
        return "Reserved CPE fault"
    return "Unknown fault"


def soap_fault_code(code: int) -> str:
    """The SOAP 1.1 `faultcode` that goes with a CWMP fault code; vendor codes get "Server"."""
    try:
        return FaultCode(code).soap_fault_code
    except ValueError:
        return "Server"
