"""Benchmarks whose logic the tests reach; thin entry points live in ``bench/``."""
