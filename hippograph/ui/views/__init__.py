"""The UI's pages, one module each: `render(ctx: UIContext)` draws the page; run as a
Streamlit page script (`__main__`), a module renders for the current session."""
