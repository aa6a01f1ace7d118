"""hippograph.memory: the building blocks the memory nodes share.

The four nodes (`hippograph.nodes`: retrieve, respond, extract, reconcile) stand apart;
what they have in common lives here, one concern per module:

    - `context` / `state` / `turn`: the run context, the graph state, the turn at hand.
    - `chat_models`: turning a model spec into a chat model, and calling it safely.
    - `search` / `similarity`: reading the user's memories, exact cosines for decisions.
    - `entities` / `linking`: named entities and the links they make between memories.
    - `decay`: recency and importance weighting of recalled memories.

Imports only downward: `hippograph.store` and LangChain / LangGraph.
"""
