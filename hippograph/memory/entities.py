"""Named entities without an LLM: the proper names a memory's text mentions.

Core pieces:
    - `find_entities(text)`: names of people, places, organisations, products and titles
      in `text`, conservatively: capitalised words that are not at the start of a sentence
      (or several in a row, which names are even there), titles in quotes, and acronyms.
    - `mentions(text, entity)`: whether `text` names `entity` as a whole word.

Conservative on purpose: a wrong entity links unrelated memories, a missed one only loses
a link. Numbers and dates (months, weekdays, holidays) are never entities, nor are
interjections, pronouns and other words that are capitalised only because a sentence
starts with them ("Wow", "Thanks", "My"). Precision is measured on hand-labelled LoCoMo
turns in `tests/nodes/test_entities.py`.
"""

from __future__ import annotations

import re

_NOT_NAMES_TEXT = """
    a about after again all also am an and any anyway are as at aw aww awesome be because
    been before both but by can cheers cool congrats congratulations could dear definitely
    did do does done each either even every exactly for from glad good great guess ha haha
    hahaha had has have he hello her here hers hey hi him his hmm how however i i'd i'll
    i'm i've if in indeed into is it it's its just keep let let's lol look looks love maybe
    me mine mm more most my nah nice no nope not now of oh ok okay omg on once one only
    oops or other our ours out please pretty really right same see she should since so
    some something sorry sounds still sure thank thanks that that's the their theirs them
    then there there's these they they're this those though through to too totally true
    ugh um until up us very was we we're we've well were what what's whatever when where
    which while who whoa why will with wow would yay yeah yep yes yet you you're your
    yours yup best bye take happy merry dad mom mum mommy daddy grandma grandpa god gosh
    sir madam mr mrs ms dr
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    monday tuesday wednesday thursday friday saturday sunday
    mon tue tues wed weds thu thur thurs fri sat sun last next
    christmas easter thanksgiving halloween hanukkah diwali ramadan eid
    am pm tv diy bbq asap btw fyi idk tbh imo imho ps lmao rofl
"""
NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())
"""Words that are capitalised for a reason other than being a name: sentence starters,
pronouns, interjections, family roles, and dates (months, weekdays, holidays)."""

_CONNECTORS = frozenset({"of", "the", "de", "da", "del", "von", "van"})
"""Lower-case words that may sit inside a multi-word name ("Bank of America")."""

_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*\s+|\n+|:\s+|;\s+")
_TOKEN = re.compile(r"[^\W\d_][\w'’\-]*|\d[\d,.:/\-]*|[^\w\s]")
"""Words, numbers, and each other mark alone (a comma ends a name: "Pepper, Precious")."""
_QUOTED = re.compile(r"[\"“]([^\"“”]{2,80})[\"”]")
_POSSESSIVE = re.compile(r"['’]s$")
MAX_NAME_WORDS = 5


def _is_capitalised(word: str) -> bool:
    return word[0].isupper() and not word.isupper()


def _is_acronym(word: str) -> bool:
    """`NYC`, `LGBTQ`, `LOTR` — not a shouted word (`LOVE`, `DOING`: 4+ letters, 2+ vowels)."""
    if not (2 <= len(word) <= 6 and word.isalpha() and word.isupper()):
        return False
    return len(word) < 4 or sum(ch in "AEIOUY" for ch in word) < 2


def _is_name_word(word: str) -> bool:
    bare = _POSSESSIVE.sub("", word)
    if bare.replace("’", "'").casefold() in NOT_NAMES or len(bare) < 2:
        return False
    return _is_capitalised(bare) or _is_acronym(bare)


def _joins_name(tokens: list[str], index: int) -> int:
    """How many connector words from `index` lead to another name word ("of the" in "Lord
    of the Rings"); 0 when they do not."""
    end = index
    while end < len(tokens) and tokens[end].casefold() in _CONNECTORS:
        end += 1
    return end - index if end > index and end < len(tokens) and _is_name_word(tokens[end]) else 0


def _clean(words: list[str]) -> str:
    while words and words[-1].casefold() in _CONNECTORS:
        words = words[:-1]
    name = " ".join(words)
    return _POSSESSIVE.sub("", name).strip("-’'")


def _names_in_sentence(sentence: str) -> list[str]:
    """Runs of name words; a run opening the sentence must be two words long, and loses
    its first word when a mark follows it ("Absolutely Jon!" is someone called Jon)."""
    tokens = _TOKEN.findall(sentence)
    names: list[str] = []
    start, index = 0, 0
    while index <= len(tokens):
        if index < len(tokens) and _is_name_word(tokens[index]):
            index += 1
            possessive = _POSSESSIVE.search(tokens[index - 1])
            if not possessive:
                index += _joins_name(tokens, index)
                continue
            if index < len(tokens) and _is_name_word(tokens[index]):  # "Charlotte's Web"
                continue  # but "Scout's first adventure" ends at the 's
        run = tokens[start:index]
        if run and start == 0:
            vocative = index == len(tokens) or not tokens[index][0].isalnum()
            run = run[1:] if vocative else run if len(run) > 1 else []
        if run and len(run) <= MAX_NAME_WORDS:
            names.append(_clean(run))
        index += 1
        start = index
    return [name for name in names if name]


def find_entities(text: str) -> list[str]:
    """Proper names in `text`, in order of appearance, without duplicates (see the module
    docstring for what counts)."""
    found: dict[str, None] = {}
    for match in _QUOTED.finditer(text):
        title = match.group(1).strip()
        words = title.split()
        if 1 <= len(words) <= 8 and words[0][:1].isupper():
            found.setdefault(title.strip(" ,.!?"), None)
    unquoted = _QUOTED.sub(" . ", text)
    for sentence in _SENTENCE_END.split(unquoted.strip()):
        for name in _names_in_sentence(sentence.strip(" \"'“”‘’([{-—*")):
            found.setdefault(name, None)
    return list(found)


def mentions(text: str, entity: str) -> bool:
    """Whether `text` contains `entity` as whole words (case-sensitive: names are)."""
    pattern = r"(?<![\w])" + re.escape(entity) + r"(?![\w])"
    return re.search(pattern, text) is not None
