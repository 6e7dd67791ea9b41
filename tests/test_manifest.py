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


# The commit protocol under a crash at every step: a child process publishes a second
# generation and dies (os._exit, like SIGKILL: no cleanup) at its Nth file-system step
# (a write through Path.open, an fsync or an os.replace). Afterwards CURRENT must name the
# old or the new generation, complete, never a missing or half-written one.
_CRASH_CHILD = r"""
import os, pathlib, sys
from helse_qa.storage.layout import IndexLayout, Manifest, write_manifest

root, crash_at = pathlib.Path(sys.argv[1]), int(sys.argv[2])
layout = IndexLayout(root)
work = layout.begin()
write_manifest(work, Manifest(embedding_model="new", model_fingerprint="f", dim=1,
                              chunker_version="1", chunk_words=1))
steps = 0

def step():
    global steps
    steps += 1
    if steps == crash_at:
        os._exit(17)

real_replace, real_fsync, real_open = os.replace, os.fsync, pathlib.Path.open

class Writer:
    def __init__(self, fh): self.fh = fh
    def write(self, text):
        step()
        return self.fh.write(text)
    def __getattr__(self, name): return getattr(self.fh, name)
    def __enter__(self): return self
    def __exit__(self, *exc): return self.fh.__exit__(*exc)

def opened(self, mode="r", *args, **kwargs):
    fh = real_open(self, mode, *args, **kwargs)
    return Writer(fh) if ("w" in mode or "a" in mode) else fh

os.replace = lambda *a, **k: (step(), real_replace(*a, **k))[1]
os.fsync = lambda fd: (step(), real_fsync(fd))[1]
pathlib.Path.open = opened
layout.commit(work)
print("completed", steps)
"""


def test_a_crash_at_any_step_of_a_commit_leaves_the_old_or_the_new_generation(tmp_path):
    import subprocess
    import sys

    outcomes = []
    for crash_at in range(1, 200):
        root = tmp_path / f"crash-{crash_at}"
        layout = IndexLayout(root)
        work = layout.begin()
        write_manifest(work, _manifest("old"))
        old = layout.commit(work)
        run = subprocess.run(
            [sys.executable, "-c", _CRASH_CHILD, str(root), str(crash_at)],
            capture_output=True,
            text=True,
        )
        assert run.returncode in (0, 17), run.stderr
        current = layout.current()
        assert current is not None, f"crash at step {crash_at}: CURRENT names no generation"
        model = read_manifest(current).embedding_model
        assert model in ("old", "new") and (current == old) == (model == "old")
        outcomes.append(model)
        if run.returncode == 0:
            break
    else:
        pytest.fail("the commit never completed")
    assert outcomes[0] == "old" and outcomes[-1] == "new" and len(outcomes) > 3
