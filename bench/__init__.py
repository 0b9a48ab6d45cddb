"""Benchmarks of the Wafaa stack, run by hand: `python -m bench.<name>`; results go to bench/RESULTS.md."""
