"""Loading LoCoMo-shaped files."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from hippograph.eval.dataset import DatasetError, load_conversations, parse_session_date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1:56 pm on 8 May, 2023", datetime(2023, 5, 8, 13, 56)),
        ("12:48 am on 1 February, 2023", datetime(2023, 2, 1, 0, 48)),
        ("10:04 am on 19 Sept, 2023".replace("Sept", "Sep"), datetime(2023, 9, 19, 10, 4)),
        ("2023-05-08T13:56:00", datetime(2023, 5, 8, 13, 56)),
    ],
)
def test_session_dates_parse(text: str, expected: datetime) -> None:
    assert parse_session_date(text) == expected


def test_unknown_date_is_a_clear_error() -> None:
    with pytest.raises(DatasetError, match="unrecognised session date"):
        parse_session_date("sometime last spring")


def test_loader_reads_sessions_turns_captions_and_questions(data_dir: Path) -> None:
    [conv] = load_conversations(data_dir)
    assert conv.id == "tiny"
    assert conv.speakers == ("Alice", "Bob")
    assert [s.number for s in conv.sessions] == [1, 2]
    assert conv.sessions[1].at == datetime(2023, 6, 9, 19, 55)
    turns = {t.dia_id: t for t in conv.turns}
    assert len(turns) == 10
    assert turns["D1:2"].content == "Bob: Great, I went kayaking on Lake Tahoe with my brother."
    assert turns["D1:4"].text.endswith("[shares a photo of a dog lying on a red blanket]")
    categories = [q.category for q in conv.questions]
    assert categories == [4, 4, 2, 1, 3, 5, 4]
    assert conv.questions[4].evidence == ("D2:3", "D9:9")  # "D2:3; D9:9" split
    assert conv.questions[5].answer is None
    assert conv.questions[5].adversarial_answer == "Biscuit"


def test_loader_filters_and_rejects(tmp_path: Path, data_dir: Path) -> None:
    assert load_conversations(data_dir, ["tiny"])[0].id == "tiny"
    with pytest.raises(DatasetError, match="no conversation files matching"):
        load_conversations(data_dir, ["nope"])
    with pytest.raises(DatasetError, match="not a directory"):
        load_conversations(tmp_path / "missing")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DatasetError, match="not valid JSON"):
        load_conversations(tmp_path)
    (tmp_path / "bad.json").write_text(json.dumps({"speaker_a": "A", "speaker_b": "B"}))
    with pytest.raises(DatasetError, match="no session_N turns"):
        load_conversations(tmp_path)


def test_first_sessions_is_a_slice_with_only_its_questions(data_dir: Path) -> None:
    [conv] = load_conversations(data_dir)
    first = conv.first_sessions(1)
    assert [s.number for s in first.sessions] == [1]
    kept = {t.dia_id for t in first.turns}
    assert first.questions and all(set(q.evidence) <= kept for q in first.questions)
    assert len(first.questions) < len(conv.questions)
    assert conv.first_sessions(5) == conv.first_sessions(2)
