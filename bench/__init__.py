"""Benchmarks: see docs/PERFORMANCE.md (python3 -m bench.run_all --quick)."""
