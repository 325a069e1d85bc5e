"""Hypothesis strategies for every CWMP message.

Everything generated is valid against the CWMP schemas (lengths, patterns, enumerations), so the same
strategies drive the round-trip tests and the XSD validation tests. Free text uses any character XML
1.0 can carry, including leading/trailing whitespace, CR, markup characters and non-ASCII.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import strategies as st

from acs.cwmp import messages as m
from acs.cwmp.codec import CWMP_NAMESPACES
from acs.cwmp.faults import FaultCode

_XML_CHARS = st.characters(
    codec="utf-8",
    exclude_categories=("Cs", "Cc"),
    exclude_characters="\ufffe\uffff",
) | st.sampled_from("\t\n\r<>&'\"")


def text(max_size: int = 64) -> st.SearchStrategy[str]:
    return st.text(_XML_CHARS, max_size=max_size)


def one_line(max_size: int = 64) -> st.SearchStrategy[str]:
    """Text without line breaks (XSD patterns' ``.`` does not match them)."""
    return st.text(_XML_CHARS.filter(lambda c: c not in "\r\n"), max_size=max_size)


parameter_names = st.from_regex(
    r"Device\.[A-Za-z0-9_]{1,12}(\.[A-Za-z0-9_]{1,12}){0,5}\.?", fullmatch=True
)
object_names = st.from_regex(
    r"Device\.[A-Za-z0-9_]{1,12}(\.[A-Za-z0-9_]{1,12}){0,4}\.", fullmatch=True
)
keys = text(32)
ouis = st.from_regex(r"[0-9A-F]{6}", fullmatch=True)
cwmp_ids = st.none() | st.from_regex(r"[A-Za-z0-9._-]{1,40}", fullmatch=True)
namespaces = st.sampled_from(CWMP_NAMESPACES)
unsigned = st.integers(0, 2**32 - 1)
statuses = st.sampled_from((0, 1))

_zones = st.sampled_from(
    (None, UTC, timezone(timedelta(hours=1)), timezone(-timedelta(hours=5, minutes=30)))
)
datetimes = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=_zones
)
times = st.none() | datetimes

typed_values = st.one_of(
    text(256).map(m.TypedValue),
    st.integers(-(2**31), 2**31 - 1).map(lambda v: m.TypedValue.of(v, m.XsdType.INT)),
    unsigned.map(lambda v: m.TypedValue.of(v, m.XsdType.UNSIGNED_INT)),
    st.integers(-(2**63), 2**63 - 1).map(lambda v: m.TypedValue.of(v, m.XsdType.LONG)),
    st.integers(0, 2**64 - 1).map(lambda v: m.TypedValue.of(v, m.XsdType.UNSIGNED_LONG)),
    st.booleans().map(m.TypedValue.of),
    datetimes.map(m.TypedValue.of),
    st.binary(max_size=48).map(m.TypedValue.of),
    st.binary(max_size=48).map(lambda v: m.TypedValue.of(v, m.XsdType.HEX_BINARY)),
)
parameter_values = st.builds(m.ParameterValue, name=parameter_names, value=typed_values)
event_codes = st.sampled_from(
    (
        "0 BOOTSTRAP",
        "1 BOOT",
        "2 PERIODIC",
        "3 SCHEDULED",
        "4 VALUE CHANGE",
        "6 CONNECTION REQUEST",
        "7 TRANSFER COMPLETE",
        "M Reboot",
        "M Download",
        "M ScheduleInform",
    )
)
download_file_types = st.sampled_from(
    ("1 Firmware Upgrade Image", "3 Vendor Configuration File", "X 00259E STB Channel List")
)
transfer_faults = st.builds(
    m.TransferFault,
    fault_code=st.sampled_from((0, 9001, 9002, 9010, 9011, 9012, 9015, 9016, 9017, 9018, 9019)),
    fault_string=text(256),
)
access_lists = st.lists(st.just("Subscriber"), max_size=1).map(tuple)
cpe_fault_codes = st.sampled_from([code for code in FaultCode if code >= 9000]) | st.integers(
    9800, 9899
)
acs_fault_codes = st.sampled_from([code for code in FaultCode if code < 9000])


def _tuples(strategy: st.SearchStrategy, min_size: int = 0, max_size: int = 6) -> st.SearchStrategy:
    return st.lists(strategy, min_size=min_size, max_size=max_size).map(tuple)


MESSAGES: dict[type, st.SearchStrategy] = {
    m.Inform: st.builds(
        m.Inform,
        device_id=st.builds(
            m.DeviceId,
            manufacturer=text(64),
            oui=ouis,
            product_class=text(64),
            serial_number=text(64),
        ),
        events=_tuples(st.builds(m.EventStruct, event_code=event_codes, command_key=keys)),
        max_envelopes=unsigned,
        current_time=times,
        retry_count=unsigned,
        parameters=_tuples(parameter_values),
    ),
    m.InformResponse: st.builds(m.InformResponse, max_envelopes=unsigned),
    m.GetRPCMethods: st.just(m.GetRPCMethods()),
    m.GetRPCMethodsResponse: st.builds(
        m.GetRPCMethodsResponse,
        methods=_tuples(st.sampled_from(("Inform", "GetRPCMethods", "TransferComplete")), 1),
    ),
    m.GetParameterNames: st.builds(
        m.GetParameterNames, parameter_path=parameter_names | st.just(""), next_level=st.booleans()
    ),
    m.GetParameterNamesResponse: st.builds(
        m.GetParameterNamesResponse,
        parameters=_tuples(
            st.builds(m.ParameterInfo, name=parameter_names, writable=st.booleans())
        ),
    ),
    m.GetParameterValues: st.builds(m.GetParameterValues, names=_tuples(parameter_names, 1)),
    m.GetParameterValuesResponse: st.builds(
        m.GetParameterValuesResponse, parameters=_tuples(parameter_values)
    ),
    m.SetParameterValues: st.builds(
        m.SetParameterValues, parameters=_tuples(parameter_values), parameter_key=keys
    ),
    m.SetParameterValuesResponse: st.builds(m.SetParameterValuesResponse, status=statuses),
    m.GetParameterAttributes: st.builds(
        m.GetParameterAttributes, names=_tuples(parameter_names, 1)
    ),
    m.GetParameterAttributesResponse: st.builds(
        m.GetParameterAttributesResponse,
        parameters=_tuples(
            st.builds(
                m.ParameterAttribute,
                name=parameter_names,
                notification=st.integers(0, 2),
                access_list=access_lists,
            )
        ),
    ),
    m.SetParameterAttributes: st.builds(
        m.SetParameterAttributes,
        parameters=_tuples(
            st.builds(
                m.ParameterAttributeChange,
                name=parameter_names,
                notification_change=st.booleans(),
                notification=st.integers(0, 2),
                access_list_change=st.booleans(),
                access_list=access_lists,
            ),
            1,
        ),
    ),
    m.SetParameterAttributesResponse: st.just(m.SetParameterAttributesResponse()),
    m.AddObject: st.builds(m.AddObject, object_name=object_names, parameter_key=keys),
    m.AddObjectResponse: st.builds(
        m.AddObjectResponse, instance_number=st.integers(1, 2**32 - 1), status=statuses
    ),
    m.DeleteObject: st.builds(m.DeleteObject, object_name=object_names, parameter_key=keys),
    m.DeleteObjectResponse: st.builds(m.DeleteObjectResponse, status=statuses),
    m.Download: st.builds(
        m.Download,
        command_key=keys,
        file_type=download_file_types,
        url=text(256),
        username=text(256),
        password=text(256),
        file_size=unsigned,
        target_file_name=text(256),
        delay_seconds=unsigned,
        success_url=text(256),
        failure_url=text(256),
    ),
    m.DownloadResponse: st.builds(
        m.DownloadResponse, status=statuses, start_time=times, complete_time=times
    ),
    m.Reboot: st.builds(m.Reboot, command_key=keys),
    m.RebootResponse: st.just(m.RebootResponse()),
    m.FactoryReset: st.just(m.FactoryReset()),
    m.FactoryResetResponse: st.just(m.FactoryResetResponse()),
    m.ScheduleInform: st.builds(
        m.ScheduleInform, delay_seconds=st.integers(1, 2**32 - 1), command_key=keys
    ),
    m.ScheduleInformResponse: st.just(m.ScheduleInformResponse()),
    m.TransferComplete: st.builds(
        m.TransferComplete,
        command_key=keys,
        fault=transfer_faults,
        start_time=times,
        complete_time=times,
    ),
    m.TransferCompleteResponse: st.just(m.TransferCompleteResponse()),
    m.AutonomousTransferComplete: st.builds(
        m.AutonomousTransferComplete,
        announce_url=text(256),
        transfer_url=text(256),
        is_download=st.booleans(),
        file_type=download_file_types,
        file_size=unsigned,
        target_file_name=text(256),
        fault=transfer_faults,
        start_time=times,
        complete_time=times,
    ),
    m.AutonomousTransferCompleteResponse: st.just(m.AutonomousTransferCompleteResponse()),
    m.RequestDownload: st.builds(
        m.RequestDownload,
        file_type=download_file_types,
        file_type_args=_tuples(st.builds(m.FileTypeArg, name=text(64), value=text(256)), 0, 16),
    ),
    m.RequestDownloadResponse: st.just(m.RequestDownloadResponse()),
    m.Fault: st.one_of(
        st.builds(m.Fault, fault_code=acs_fault_codes, fault_string=text(256)),
        st.builds(
            m.Fault,
            fault_code=cpe_fault_codes,
            fault_string=text(256),
            set_parameter_values_faults=_tuples(
                st.builds(
                    m.SetParameterValuesFault,
                    parameter_name=parameter_names,
                    fault_code=cpe_fault_codes,
                    fault_string=text(256),
                )
            ),
        ),
    ),
}

#: Messages the ACS writes (what the XSD validation test covers).
ACS_WRITTEN: tuple[type, ...] = (
    m.InformResponse,
    m.GetRPCMethods,
    m.GetRPCMethodsResponse,
    m.GetParameterNames,
    m.GetParameterValues,
    m.SetParameterValues,
    m.GetParameterAttributes,
    m.SetParameterAttributes,
    m.AddObject,
    m.DeleteObject,
    m.Download,
    m.Reboot,
    m.FactoryReset,
    m.ScheduleInform,
    m.TransferCompleteResponse,
    m.AutonomousTransferCompleteResponse,
    m.RequestDownloadResponse,
    m.Fault,
)

#: ACS faults only: what the ACS itself sends.
acs_faults = st.builds(m.Fault, fault_code=acs_fault_codes, fault_string=text(256))

acs_requests = st.one_of(*(MESSAGES[cls] for cls in m.ACS_REQUEST_TYPES))
any_message = st.one_of(*MESSAGES.values())
