"""``python -m helse_qa`` is the ``helse-qa`` command (subprocesses spawn it this way)."""

from helse_qa.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
