"""How hybrid search ranks — the one home of ranking policy, shared by every backend.

Core pieces:
    - `HybridSearch` (`settings.py`): turns hybrid search on and says how to weigh its parts.
    - `SearchScope` / `rank` (`hybrid.py`): the primitives a backend provides for one search
      (vector candidates; keyword candidates with the searched tenant's own statistics) and
      the ranking built on them.
    - `bm25.py`: BM25 over one tenant's postings, with an exact top-k that reads little.
    - `dates.py`: dates named in a query and how near an item's time is to them.
    - `fusion.py`: one score per candidate from its signals, on an absolute scale.
    - `policy.py`: `MEMORY_SEARCH`, the ranking memory search ships with.

Storage modules never score; this package never touches SQL or FAISS.
"""

from hippograph.store.ranking.bm25 import BM25, CollectionStats, DocumentTerms, KeywordSource
from hippograph.store.ranking.dates import QueryDate, date_match, query_date
from hippograph.store.ranking.hybrid import Ranked, SearchScope, rank
from hippograph.store.ranking.policy import MEMORY_SEARCH
from hippograph.store.ranking.settings import HybridSearch

__all__ = [
    "BM25",
    "MEMORY_SEARCH",
    "CollectionStats",
    "DocumentTerms",
    "HybridSearch",
    "KeywordSource",
    "QueryDate",
    "Ranked",
    "SearchScope",
    "date_match",
    "query_date",
    "rank",
]
