"""Launch the helse-qa chat UI: ``python app.py`` (same as ``helse-qa serve``).

Builds the index from documents/ first if there is none. Binds 127.0.0.1:7860 unless the
settings (HELSE_QA_HOST / HELSE_QA_PORT, helse-qa.toml) say otherwise.
"""

from __future__ import annotations

import sys

from helse_qa.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve"]))
