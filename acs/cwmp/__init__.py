"""The pure CWMP (TR-069) protocol package: messages, faults, the SOAP codec and the session machine.

Standard library and lxml only; no framework imports (an import-linter contract enforces it).
See docs/cwmp.md.
"""
