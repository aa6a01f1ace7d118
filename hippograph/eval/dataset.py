"""LoCoMo-shaped conversations: load them from JSON files into typed records.

Core pieces:
    - `Turn`: one dialogue turn (speaker, `dia_id`, text with any shared photo's caption).
    - `Session`: the turns of one sitting and when it happened.
    - `Question`: a QA pair with its evidence `dia_id`s and category (1–5).
    - `Conversation`: a whole file; `load_conversations(data_dir)` reads every `*.json`.

Any dataset in the same shape works (`speaker_a`, `speaker_b`, `session_N`,
`session_N_date_time`, `qa`). Session dates such as `"1:56 pm on 8 May, 2023"` are parsed
into `datetime`s; summaries and event fields are ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

CATEGORY_NAMES: dict[int, str] = {
    1: "multi-hop",
    2: "temporal",
    3: "open-domain",
    4: "single-hop",
    5: "adversarial",
}
"""LoCoMo question categories, as the dataset's README names them."""

SCORED_CATEGORIES: tuple[int, ...] = (1, 2, 3, 4)
"""Categories scored by evidence recall; 5 (adversarial) has no answer to retrieve."""

_SESSION_KEY = re.compile(r"^session_(\d+)$")
_EVIDENCE_ID = re.compile(r"D:?(\d+):(\d+)")
_DATE_FORMATS = ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y", "%I:%M %p on %B %d, %Y")


class DatasetError(ValueError):
    """A conversation file is not in the LoCoMo shape."""


def parse_session_date(text: str) -> datetime:
    """Parse a LoCoMo session date (`"1:56 pm on 8 May, 2023"`) or an ISO-8601 string.

    Raises:
        DatasetError: the text matches no known format.
    """
    cleaned = " ".join(text.split())
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(cleaned)
    except ValueError:
        raise DatasetError(f"unrecognised session date {text!r}") from None


@dataclass(frozen=True, slots=True)
class Turn:
    """One dialogue turn.

    Attributes:
        dia_id: The turn's id in the dataset (`"D1:3"`): provenance and evidence use it.
        speaker: Who said it.
        text: What was said; a shared photo adds `"[shares a photo of …]"` from its caption.
    """

    dia_id: str
    speaker: str
    text: str

    @property
    def content(self) -> str:
        """The turn as a memory's text: `"<speaker>: <text>"`."""
        return f"{self.speaker}: {self.text}"


@dataclass(frozen=True, slots=True)
class Session:
    """The turns of one sitting, in order, and when it took place."""

    number: int
    at: datetime
    turns: tuple[Turn, ...]


@dataclass(frozen=True, slots=True)
class Question:
    """A question about a conversation, with the turns that hold its answer.

    Attributes:
        question: The question text.
        answer: The reference answer (`None` for adversarial questions, which have none).
        evidence: `dia_id`s of the turns that hold the answer.
        category: 1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop, 5 adversarial.
        adversarial_answer: For category 5, the tempting wrong answer the dataset records.
    """

    question: str
    answer: str | None
    evidence: tuple[str, ...]
    category: int
    adversarial_answer: str | None = None


@dataclass(frozen=True, slots=True)
class Conversation:
    """A long conversation between two speakers, with its questions."""

    id: str
    speakers: tuple[str, str]
    sessions: tuple[Session, ...]
    questions: tuple[Question, ...] = field(default=())

    @property
    def turns(self) -> list[Turn]:
        """Every turn, in order."""
        return [turn for session in self.sessions for turn in session.turns]

    def first_sessions(self, count: int) -> Conversation:
        """The conversation cut after its first `count` sessions, keeping only the
        questions whose evidence all lies in them (a slice for slow, model-driven runs)."""
        sessions = self.sessions[:count]
        kept = {turn.dia_id for session in sessions for turn in session.turns}
        questions = tuple(
            q for q in self.questions if q.evidence and all(e in kept for e in q.evidence)
        )
        return replace(self, sessions=sessions, questions=questions)


def _turn_text(raw: dict[str, Any]) -> str:
    text = str(raw.get("text") or "").strip()
    caption = raw.get("blip_caption")
    if isinstance(caption, str) and caption.strip():
        text = f"{text} [shares {caption.strip()}]".strip()
    return text


def _sessions(raw: dict[str, Any], source: str) -> tuple[Session, ...]:
    sessions = []
    for key, value in raw.items():
        match = _SESSION_KEY.match(key)
        if not match or not isinstance(value, list) or not value:
            continue
        number = int(match.group(1))
        date = raw.get(f"session_{number}_date_time")
        if not isinstance(date, str):
            raise DatasetError(f"{source}: session_{number} has no session_{number}_date_time")
        turns = []
        for item in value:
            if not isinstance(item, dict) or "dia_id" not in item or "speaker" not in item:
                raise DatasetError(f"{source}: session_{number} has a turn without dia_id/speaker")
            turns.append(Turn(str(item["dia_id"]), str(item["speaker"]), _turn_text(item)))
        sessions.append(Session(number, parse_session_date(date), tuple(turns)))
    if not sessions:
        raise DatasetError(f"{source}: no session_N turns found")
    return tuple(sorted(sessions, key=lambda s: s.number))


def _question(raw: dict[str, Any], source: str) -> Question:
    try:
        category = int(raw["category"])
        question = str(raw["question"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"{source}: malformed qa entry {raw!r}") from exc
    evidence: list[str] = []
    for entry in raw.get("evidence") or []:
        # A few entries hold several ids ("D8:6; D9:17") or a stray colon ("D:11:26").
        for session, turn in _EVIDENCE_ID.findall(str(entry)):
            evidence.append(f"D{session}:{turn}")
    answer = raw.get("answer")
    adversarial = raw.get("adversarial_answer")
    return Question(
        question=question,
        answer=None if answer is None else str(answer),
        evidence=tuple(dict.fromkeys(evidence)),
        category=category,
        adversarial_answer=None if adversarial is None else str(adversarial),
    )


def parse_conversation(raw: dict[str, Any], conversation_id: str) -> Conversation:
    """Build a `Conversation` from one LoCoMo JSON object.

    Raises:
        DatasetError: required fields are missing or malformed.
    """
    try:
        speakers = (str(raw["speaker_a"]), str(raw["speaker_b"]))
    except KeyError as exc:
        raise DatasetError(f"{conversation_id}: missing {exc.args[0]}") from None
    questions = tuple(_question(q, conversation_id) for q in raw.get("qa") or [])
    return Conversation(conversation_id, speakers, _sessions(raw, conversation_id), questions)


def load_conversations(
    data_dir: str | Path, conversations: Sequence[str] | None = None
) -> list[Conversation]:
    """Read every `*.json` conversation in `data_dir` (ids are file stems), sorted by id.

    Args:
        data_dir: Folder of LoCoMo-shaped files.
        conversations: Keep only these ids (file stems, or a stored `sample_id`).

    Raises:
        DatasetError: no file matched, or one is malformed.
    """
    folder = Path(data_dir)
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a directory")
    wanted = set(conversations or ())
    loaded = []
    for path in sorted(folder.glob("*.json")):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: not valid JSON ({exc})") from exc
        if not isinstance(raw, dict):
            raise DatasetError(f"{path}: expected one conversation object")
        ids = {path.stem, str(raw.get("sample_id", path.stem))}
        if wanted and not wanted & ids:
            continue
        loaded.append(parse_conversation(raw, path.stem))
    if not loaded:
        which = f" matching {sorted(wanted)}" if wanted else ""
        raise DatasetError(f"no conversation files{which} in {folder}")
    return loaded
