"""CDS services: one box's storage (`storage`) and configuration across a population (`bulk`)."""
