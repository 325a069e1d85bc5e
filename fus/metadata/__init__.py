"""RMS-FUS metadata (ETSI TS 102 542-4 clause 7): model, XML codec and targeting engine.

A pure package: the standard library and lxml only (no Django, DRF, Celery or Channels).
"""
