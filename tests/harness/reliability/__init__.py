"""Harnesses that prove hippograph's reliability claims, shared by tests and benchmarks.

Core pieces:
    - `corpus`: memory-like sentences and their real embeddings, precomputed once.
    - `workload`: a deterministic stream of store writes and the state it must leave.
    - `crash`: SIGKILL a writer at random moments; check nothing acknowledged is lost and
      nothing unacknowledged is half there (`run_crash_test`).
    - `processes`: the writer and observer processes the crash harness starts.
"""
