"""The Query Response Channel (TS 102 542-4 clause 11.1.2, interface 8): a SOAP 1.1 service built
with spyne. `messages` is the message layout, `answers` what is answered (framework-neutral),
`service` the spyne Application, `views` its one Django mounting at /qrc. docs/qrc.md."""
