"""hippograph.prompts: the prompt of each memory node, as text and `ChatPromptTemplate`s.

One module per node (`respond`, `extract`, `reconcile`). Imports nothing of hippograph.
"""
