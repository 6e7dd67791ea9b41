"""Project exceptions. Each message says what went wrong and how to fix it."""


class HelseQAError(Exception):
    """Base class; the CLI prints the message on one line and exits 1."""


class ConfigError(HelseQAError):
    """Invalid settings."""


class IndexNotBuiltError(HelseQAError):
    def __init__(self, index_dir: object) -> None:
        super().__init__(
            f"no index in {index_dir} - run 'helse-qa ingest' to build it from documents/"
        )


class IndexFormatError(HelseQAError):
    """The index was written by an older helse-qa (another chunker or sentence format)."""

    def __init__(self, index_dir: object, found: str, expected: str) -> None:
        super().__init__(
            f"the index in {index_dir} has format {found}, this helse-qa reads format "
            f"{expected} - run 'helse-qa ingest' to build it again (helse-qa serve and ask "
            "do this themselves)"
        )


class ModelMismatchError(HelseQAError):
    """The index was built with another embedding model or chunker."""


class QuestionError(HelseQAError, ValueError):
    """The question cannot be asked (empty, too long)."""


class DocumentError(HelseQAError):
    """A document could not be read; ingest skips it and goes on."""


class ModelPrepError(HelseQAError):
    """The embedding model could not be prepared."""


class LLMError(HelseQAError):
    """The language model could not produce an answer (unreachable, timeout, rate limit...)."""


class PortError(HelseQAError):
    """The web app cannot serve on its port (taken by another program, or not allowed)."""


class VectorStoreError(HelseQAError):
    """The vector store does not hold this index's vectors (another store, or lost data)."""
