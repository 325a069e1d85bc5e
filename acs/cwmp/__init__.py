"""The pure CWMP (TR-069) protocol package: messages, faults, SOAP codec, session state machine.

Standard library and lxml only; no framework imports (an import-linter contract enforces it).
See docs/cwmp.md.
"""
