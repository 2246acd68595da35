"""Benchmarks W1–W3 (scoring), each beside its baselines in the same run: `python -m bench --tier S|M|L`."""
