"""The batch engine: columnar reads out of the store (ADBC to Arrow) and vectorised computation over them.

The incremental per-lead path lives in services; this package is for work over every lead at
once (full rescoring after a pact change, and later what-if replays and cohort KPIs).
"""
