"""Benchmarks of landscope against vectorized numpy (installed as landscope.bench)."""
