"""The operator and help-desk pages of the ACS: device list, device page, actions, bulk actions and
live task state (a Channels consumer). Adapters only: every change goes through `acs.services`.

A Django app of its own (label ``acs_ui``, no models) so that its signal receivers are connected in
every process (`AcsUiConfig.ready`) without touching the ACS server's app config.
"""
