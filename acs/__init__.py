"""The RMS: a TR-069 (CWMP) auto-configuration server. `acs/cwmp/` will hold the pure protocol codec."""
