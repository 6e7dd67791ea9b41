from __future__ import annotations

import pytest

from helse_qa.errors import IndexNotBuiltError, ModelMismatchError
from helse_qa.storage.layout import IndexLayout, Manifest, read_manifest, write_manifest


def _manifest(model: str = "m", fp: str = "f" * 64) -> Manifest:
    return Manifest(
        embedding_model=model, model_fingerprint=fp, dim=384, chunker_version="1", chunk_words=90
    )


def test_no_index_is_a_clear_error(tmp_path):
    with pytest.raises(IndexNotBuiltError, match="helse-qa ingest"):
        IndexLayout(tmp_path / "index").require_current()


def test_commit_switches_generation_and_cleans_up(tmp_path):
    layout = IndexLayout(tmp_path)
    work = layout.begin()
    write_manifest(work, _manifest())
    first = layout.commit(work)
    assert layout.current() == first
    work2 = layout.begin()
    assert (work2 / "manifest.json").is_file()  # seeded with a copy
    second = layout.commit(work2)
    assert layout.current() == second
    assert not first.exists()


def test_abandoned_work_leaves_current_usable(tmp_path):
    layout = IndexLayout(tmp_path)
    work = layout.begin()
    write_manifest(work, _manifest())
    current = layout.commit(work)
    # An ingest that dies mid-way: its working copy is half written and never committed.
    dead = layout.begin()
    (dead / "manifest.json").write_text("{ half written")
    assert layout.current() == current
    assert read_manifest(current).embedding_model == "m"
    fresh = layout.begin()  # the next ingest discards the leftovers and starts from current
    assert read_manifest(fresh).embedding_model == "m"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".work-")] == [fresh.name]


def test_model_mismatch_says_how_to_rebuild(tmp_path):
    with pytest.raises(ModelMismatchError, match="ingest --rebuild"):
        _manifest("model-a").check_model("model-b", "f" * 64, tmp_path)
    with pytest.raises(ModelMismatchError):
        _manifest("m", "a" * 64).check_model("m", "b" * 64, tmp_path)
    _manifest().check_model("m", "f" * 64, tmp_path)


def test_manifest_json_roundtrip():
    m = _manifest()
    assert Manifest.from_json(m.to_json()) == m
