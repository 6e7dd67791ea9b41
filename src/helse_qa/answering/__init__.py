"""The read side: a question -> retrieved passages (retrieve) -> an extractive answer
(extractive) or an LLM answer checked sentence by sentence (prompts, verify)."""
