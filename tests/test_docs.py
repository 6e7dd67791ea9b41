"""The docs site's generated parts (docs/hooks.py, run by mkdocs at every build): the
configuration reference lists every field of Settings, and pictures linked for GitHub are
published with the site. `make docs` (part of `make test`) builds the whole site strictly."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from helse_qa.config import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[1]


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_configuration_reference_has_every_setting():
    page = _hooks().settings_reference()
    rows = {line.split("|")[1].strip(" `"): line for line in page.splitlines() if "| `" in line}
    assert set(rows) == set(Settings.model_fields)
    for name, field in Settings.model_fields.items():
        assert f"`{ENV_PREFIX}{name.upper()}`" in rows[name]
        assert " ".join((field.description or "").split()) in rows[name].replace("\\|", "|")
    assert "| `port` | integer (1 ≤ value ≤ 65535) | `7860` | `HELSE_QA_PORT` |" in page


def test_pictures_linked_for_github_point_at_the_published_copy():
    fix = _hooks().rewrite_image_links
    page = "![a](../../eval/results/ui.png) ![b](https://x/y.png) ![c](../img/local.png)"
    assert fix(page, "guide/chat.md") == (
        "![a](../eval/results/ui.png) ![b](https://x/y.png) ![c](../img/local.png)"
    )
    assert fix("![m](../eval/results/metrics.png)", "evaluation.md") == (
        "![m](eval/results/metrics.png)"
    )
