"""Store benchmark, runnable without installing the CLI entry point.

    python benchmarks/store_bench.py store --sizes 1k,10k,100k --backends faiss-sqlite,inmemory
    python benchmarks/store_bench.py index --size 1M --candidates flat,hnsw32,ivf

Same as `hippograph bench store|index`; reports go to `benchmarks/results/`.
"""

from hippograph.bench.cli import app

if __name__ == "__main__":
    app()
