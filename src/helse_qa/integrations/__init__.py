"""helse-qa inside other frameworks: llama_index (a retriever and a query engine over an
open Assistant). The only place helse-qa adapts itself to another framework; nothing here is
imported by ``import helse_qa``: import the submodule you use."""
