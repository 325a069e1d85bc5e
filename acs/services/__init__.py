"""ACS services: every state change of devices, tasks and CWMP sessions goes through here.

`devices` (registry updates from Informs, credentials), `tasks` (the per-device RPC queue and the
operator actions built on it), `cwmp` (serving one POST of a CWMP session), `auth` (box
authentication), `connection` (connection requests), `firmware` (download URLs, targeting).
"""
