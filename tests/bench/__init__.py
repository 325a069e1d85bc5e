"""Benchmarks (`make bench`). Not tests: they measure and write reports to docs/benchmarks/."""
