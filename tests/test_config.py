"""`Settings.with_store` (what `--store` and `store_url=` do) and `store_label`."""

from __future__ import annotations

from pathlib import Path

import pytest

from hippograph.config import Settings

PG = "postgresql://app:s3cret@db.example:5432/memories"


def test_a_url_selects_postgres_and_a_path_selects_sqlite(tmp_path: Path) -> None:
    settings = Settings(db_path=tmp_path / "env.db")
    on_pg = settings.with_store(PG)
    assert on_pg.uses_postgres and on_pg.store_target == PG
    back = on_pg.with_store(tmp_path / "local.db")
    assert not back.uses_postgres and back.store_target == str(tmp_path / "local.db")
    assert back.with_store(f"sqlite:///{tmp_path}/x.db").db_path == tmp_path / "x.db"
    assert settings.with_store(None) is settings


@pytest.mark.parametrize(
    ("url", "label"),
    [
        (PG, "postgresql://app:***@db.example:5432/memories"),
        (
            "postgres://app@db/m?password=pw&sslmode=require",
            "postgres://app@db/m?password=***&sslmode=require",
        ),
        ("postgresql://postgres:@/db?host=/tmp/pg", "postgresql://postgres:@/db?host=/tmp/pg"),
        ("postgresql://db/m", "postgresql://db/m"),
    ],
)
def test_store_label_never_shows_a_password(url: str, label: str) -> None:
    assert Settings(store_url=url).store_label == label
