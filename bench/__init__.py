"""Benchmarks on the real datasets: ``python -m bench.<name> --data-dir ../shared/data``."""
