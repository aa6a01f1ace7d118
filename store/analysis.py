"""How text becomes search terms for BM25: one analyzer for documents and queries, every backend.

Core pieces:
    - `terms(text)`: the terms of a text, in order, repeats kept (a document's term counts).
    - `query_terms(text)`: a query's distinct terms, at most `MAX_QUERY_TERMS`.
    - `STOP_WORDS`: words never indexed nor searched.

The analysis follows SQLite FTS5's `porter unicode61` tokenizer, which hybrid search used
before (schema 4): case folded, diacritics removed, split on anything that is not a letter
or a digit, Porter-stemmed (the original Porter algorithm, from the Snowball project via
PyStemmer), so "painting" finds "paints". Two deliberate differences: a possessive "'s"
is dropped ("Caroline's" is "caroline", not "caroline" + "s"), and stop words are left out
of documents as well as queries (they were never searched, and they are the longest
posting lists), so a document's length counts its content words.

Every backend stores the terms this module produces, so the same text ranks the same way on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

import Stemmer

MAX_QUERY_TERMS = 64
"""Distinct query terms searched (a pasted document as a query stays cheap)."""

_STOP_WORDS_TEXT = """
    a about above after again against all am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't down during each few for from further had hadn't has hasn't have
    haven't having he he'd he'll he's her here here's hers herself him himself his how how's i
    i'd i'll i'm i've if in into is isn't it it's its itself let's me more most mustn't my
    myself no nor not of off on once only or other ought our ours ourselves out over own same
    shan't she she'd she'll she's should shouldn't so some such than that that's the their
    theirs them themselves then there there's these they they'd they'll they're they've this
    those through to too under until up very was wasn't we we'd we'll we're we've were weren't
    what what's when when's where where's which while who who's whom why why's with won't would
    wouldn't you you'd you'll you're you've your yours yourself yourselves"""
_LIGHT_VERBS_TEXT = """
    also get gets getting got go goes going gone just know knows like likes liked make makes
    made making really see seen take takes taken took tell tells told thing things use used
    uses using want wants went"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split()) | frozenset(_LIGHT_VERBS_TEXT.split())
"""A standard English stop-word list plus light verbs and fillers from the SMART list ("use",
"get", "like", "thing"): words that say nothing about which memory is meant. Without the
latter, "Which programming language do I use?" finds "Uses NeoVim" by its one shared word."""

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\u2018": "'"})
_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    """A Porter stemmer for this thread (PyStemmer objects are not thread-safe)."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("porter")
    return stemmer


@lru_cache(maxsize=200_000)
def _word_terms(word: str) -> tuple[str, ...]:
    """The terms of one lower-cased word (apostrophes kept), after stop words and stemming."""
    if word in STOP_WORDS:
        return ()
    if word.endswith("'s"):
        word = word[:-2]
    found = []
    for part in word.split("'"):
        stem = _stemmer().stemWord(part)
        if part and part not in STOP_WORDS and stem not in STOP_WORDS:
            found.append(stem)
    return tuple(found)


def _fold(text: str) -> str:
    """Lower-case `text` and strip diacritics ("Café" → "cafe"), as FTS5's unicode61 does."""
    lowered = text.lower().translate(_APOSTROPHES)
    if lowered.isascii():
        return lowered
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _is_number(word: str) -> bool:
    """Whether `word` is ASCII digits only: its own single term (no stop word is a number,
    and the Porter stemmer leaves digits as they are), so it skips the stemmer and the
    word cache — ids, years and counts are mostly new words that would only churn it."""
    return word.isdigit() and word.isascii()


def terms(text: str) -> list[str]:
    """The terms of `text` in order, repeats kept (what a document is indexed under)."""
    found: list[str] = []
    for word in _WORD.findall(_fold(text)):
        if _is_number(word):
            found.append(word)
        else:
            found.extend(_word_terms(word))
    return found


def query_terms(text: str) -> list[str]:
    """The distinct terms of a query, in order of first use, at most `MAX_QUERY_TERMS`."""
    found: dict[str, None] = {}
    for word in _WORD.findall(_fold(text)):
        for term in (word,) if _is_number(word) else _word_terms(word):
            found[term] = None
            if len(found) == MAX_QUERY_TERMS:
                return list(found)
    return list(found)
