"""What a message says, without a model: its statements, its forget requests, its chatter.

The offline mode stores what the user states, one memory per statement, so that one
statement can later be corrected or forgotten alone. This module reads a message the way
that needs:

    - `read_message(text)` → `Reading`: the statements worth remembering, the forget
      requests, and what was left out (chatter, plain questions, slash commands).
    - A statement inside a question is kept ("Did I tell you I have a cat named Miso?" →
      "I have a cat named Miso"), as is one after "remember that".
    - "forget …" is a request only when it is one: at the start of a sentence, naming
      something ("Please forget where I live"); "Forget it, …", "never mind" and
      "I never forget a face" are not.
    - Chatter — greetings, thanks, acknowledgements, laughter, slash commands — is never
      a statement.
    - A sentence joining two first-person clauses ("I live in Lisbon and I work at Acme")
      is two statements.

Conservative by design: what it cannot read as a statement it leaves out and says so
(`Reading.skipped`), rather than storing noise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_CHATTER_TEXT = """
    hi hello hey hiya howdy yo greetings morning evening afternoon night good
    thanks thank thx ty cheers appreciated appreciate much so very a lot you
    ok okay k kk alright right sure yes yeah yep yup no nope nah fine cool great nice
    awesome perfect excellent wonderful amazing wow lol lmao rofl haha hahaha hehe heh
    hmm hm uh um oh ah aha oops bye goodbye later see ya cya gn gm welcome np
    got it understood noted sounds makes sense indeed true exactly agreed of course
    please go on and me too i see that's that is
"""
CHATTER_WORDS = frozenset(_CHATTER_TEXT.split())
"""Words a sentence may consist of entirely and still say nothing worth remembering."""

_FORGET_REQUEST = re.compile(
    r"^(?:(?:please|kindly|pls|hey|ok|okay|so|now|also|and)[\s,]+)*"
    r"(?:(?:can|could|would|will) you[\s,]+(?:please[\s,]+)?|i (?:want|need) you to\s+"
    r"|i'd like you to\s+)?"
    r"forget\s+(?P<what>.+)$",
    re.IGNORECASE | re.DOTALL,
)
_FORGET_LEAD = re.compile(r"^(?:about|that|the fact that|what i said about)\s+", re.IGNORECASE)
_IDIOM_TARGETS = re.compile(
    r"^(?:it|that|this|about it|about that|everything|all that|all of it|him|her|them)"
    r"(?:\W|$)",
    re.IGNORECASE,
)
"""What follows "forget" in idioms ("Forget it, I'll do it myself"), not in requests."""
_REMOVABLE = re.compile(r"\s+(?:from|in) (?:your |my )?memor(?:y|ies)\W*$", re.IGNORECASE)
"""A trailing "from your memory": where to forget from, not what."""

_EMBEDDED_FACT = [
    re.compile(p, re.IGNORECASE | re.DOTALL)
    for p in (
        r"^(?:can|could|would|will) you (?:please )?(?:remember|note|keep in mind|make a note)"
        r"(?: of)?(?: that)?,?\s+(?P<fact>.+?)\??$",
        r"^(?:please )?(?:remember|note|keep in mind)(?: that)?,?\s+(?P<fact>.+?)[.!?]?$",
        r"^did i (?:ever )?(?:tell|mention|say)(?: to)?(?: you)?(?: that)?,?\s+(?P<fact>.+?)\??$",
        r"^(?:do|did) you know(?: that)?,?\s+(?P<fact>.+?)\??$",
        r"^have i (?:told|mentioned)(?: to)?(?: you)?(?: that)?,?\s+(?P<fact>.+?)\??$",
    )
]
"""Questions and requests that carry a statement: "Did I mention my dog is called Pixel?"."""

_SENTENCE = re.compile(r"(?<=[.!?…])\s+|\n+")
_CLAUSE_SPLIT = re.compile(
    r"\s*(?:,\s*|;\s*)?\b(?:and|but|also|plus)\s+(?=(?:I|I'm|I've|I'd|I'll|my|My)\b)"
    r"|\s*;\s+(?=\w)"
)
_WORD = re.compile(r"[a-z']+")
MIN_STATEMENT_WORDS = 2


@dataclass(slots=True)
class Reading:
    """A message read without a model.

    Attributes:
        statements: What to remember, one statement each, in order.
        forget: What the user explicitly asked to forget ("where I live").
        skipped: Sentences left out, with why (`"chatter"`, `"question"`, `"command"`).
    """

    statements: list[str] = field(default_factory=list)
    forget: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold().replace("’", "'"))


def is_chatter(sentence: str) -> bool:
    """True when the sentence is only greetings, thanks, acknowledgements or laughter."""
    words = _words(sentence)
    return all(w in CHATTER_WORDS for w in words)  # no words at all: emoji, "!!!" …


def is_question(text: str) -> bool:
    """True when every sentence of `text` is a question."""
    sentences = [s for s in _SENTENCE.split(text.strip()) if s.strip()]
    return bool(sentences) and all(s.rstrip().endswith("?") for s in sentences)


def forget_target(sentence: str) -> str | None:
    """What an explicit forget request names ("Please forget where I live" → "where I
    live"); `None` for anything else, idioms included ("Forget it, I'll fix it myself")."""
    match = _FORGET_REQUEST.match(sentence.strip())
    if match is None:
        return None
    what = _FORGET_LEAD.sub("", match.group("what").strip()).strip()
    what = _REMOVABLE.sub("", what).strip(" \t.!?,;:")
    if not what or _IDIOM_TARGETS.match(what) or len(_words(what)) < MIN_STATEMENT_WORDS:
        return None
    return what


def embedded_fact(sentence: str) -> str | None:
    """The statement a question or request carries ("Did I tell you I have a cat named
    Miso?" → "I have a cat named Miso"), or `None`."""
    for pattern in _EMBEDDED_FACT:
        match = pattern.match(sentence.strip())
        if match:
            fact = match.group("fact").strip(" \t.!?,;:")
            if len(_words(fact)) >= MIN_STATEMENT_WORDS and not fact.endswith("?"):
                return f"{fact[0].upper()}{fact[1:]}."
    return None


def _clauses(sentence: str) -> list[str]:
    """A sentence split where a new first-person clause starts ("… and I work at Acme")."""
    parts = [p.strip(" ,;") for p in _CLAUSE_SPLIT.split(sentence) if p and p.strip(" ,;")]
    if len(parts) < 2 or any(len(_words(p)) < MIN_STATEMENT_WORDS for p in parts):
        return [sentence.strip()]
    last = len(parts) - 1
    ended = [p if i == last or p[-1] in ".!?" else f"{p}." for i, p in enumerate(parts)]
    return [p[0].upper() + p[1:] for p in ended]


def read_message(text: str, *, keep_questions: bool = False) -> Reading:
    """Read `text` into statements, forget requests and what was left out (see the module
    docstring). `keep_questions` keeps plain questions as statements too."""
    reading = Reading()
    stripped = text.strip()
    if stripped.startswith("/"):
        reading.skipped.append((stripped, "command"))
        return reading
    for raw in _SENTENCE.split(stripped):
        sentence = raw.strip()
        if not sentence:
            continue
        target = forget_target(sentence)
        if target is not None:
            reading.forget.append(target)
            continue
        fact = embedded_fact(sentence)
        if fact is not None:
            reading.statements.extend(_clauses(fact))
        elif is_chatter(sentence) or _FORGET_REQUEST.match(sentence):
            reading.skipped.append((sentence, "chatter"))
        elif sentence.endswith("?") and not keep_questions:
            reading.skipped.append((sentence, "question"))
        else:
            reading.statements.extend(_clauses(sentence))
    return reading
