"""Benchmarks of Womento's event backbone (see bench/README.md)."""
