"""The hippograph Streamlit app (`hippograph ui`).

Core pieces:
    - `APP_PATH`: the app's entry script, for `streamlit run`.
    - `app.py`: sidebar and navigation; `views/`: one module per page (chat, memories,
      search, analytics, history), each a `render(ctx: UIContext)`.
    - `session.UIContext`: what a page renders from; `resources`: the store and agent,
      opened once per process (`st.cache_resource`).
    - `cli.app`: the `hippograph ui` command.
"""

from __future__ import annotations

from pathlib import Path

APP_PATH = Path(__file__).parent / "app.py"
"""The Streamlit entry script."""

__all__ = ["APP_PATH"]
