"""Training the reader on tiny real data: the loaders, the groups and their negatives, the
near misses, the fixed schedule, and a checkpoint that resumes exactly where it stopped."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from helse_qa.training.data import (
    Dataset,
    NearestPassages,
    load_norquad,
    load_squad,
    load_swequad,
    make_group,
    name_pool,
    near_miss,
    title_split,
)
from helse_qa.training.loop import Recipe, Trainer, schedule
from helse_qa.training.report import (
    choose_span_threshold,
    choose_threshold,
    ece,
    fit_temperature,
    token_f1,
)

BENCH = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"

PASSAGES = [
    (
        "Eksport",
        "Helseindustrien vokser. De samlede eksportinntektene utgjorde 23,6 milliarder kroner "
        "i 2017. Hele 54 prosent av bedriftene driver med vareproduksjon. Veksten har vært "
        "sterk siden 2015.",
        [("Hvor mye eksporterte helseindustrien i 2017?", "23,6 milliarder kroner")],
    ),
    (
        "Klynger",
        "Norway Health Tech og Norwegian Smart Care Cluster slår seg sammen. Den nye klyngen "
        "får 370 medlemmer. Sammenslåingen gjelder fra 1. januar 2025.",
        [("Hvor mange medlemmer får den nye klyngen?", "370 medlemmer")],
    ),
    (
        "Forskning",
        "Oslo Cancer Cluster samler forskere og bedrifter. Klyngen ligger i Oslo. Den ble "
        "startet for å utvikle nye kreftmedisiner.",
        [("Hvor ligger Oslo Cancer Cluster?", "Oslo")],
    ),
]


def _squad_file(path: Path, with_flag: bool = False) -> Path:
    data = []
    for title, context, qas in PASSAGES:
        para: dict = {"context": context, "qas": []}
        if with_flag:
            para["context_in_validation"] = False
        for n, (q, a) in enumerate(qas):
            start = context.index(a) if a != "Oslo" else context.index("i Oslo") + 2
            para["qas"].append(
                {
                    "id": f"{title}-{n}",
                    "question": q,
                    "answers": [{"text": a, "answer_start": start}],
                }
            )
        data.append({"title": title, "paragraphs": [para]})
    path.write_text(json.dumps({"data": data}), encoding="utf-8")
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Dataset:
    parts = load_norquad(_squad_file(tmp_path / "nq.json", True), validation=False, seed=3)
    ds = Dataset()
    for part in parts.values():  # one passage in ten goes to calibration: take both here
        ds.add(part)
    return ds


def test_loaders_find_the_answer_sentence(tiny: Dataset) -> None:
    questions = tiny.answerable()
    assert len(questions) == 3
    for q in questions:
        p = tiny.passages[q.pid]
        i = p.index_of(q.answer_start)
        assert i is not None
        assert p.text[q.answer_start : q.answer_end] in p.sentence(i).text


def test_squad_title_split_is_fixed_and_disjoint(tmp_path: Path) -> None:
    titles = [f"T{i}" for i in range(48)]
    train, held = title_split(titles, seed=7)
    assert (train, held) == title_split(list(reversed(titles)), seed=7)
    assert len(held) == 12 and not train & held and train | held == set(titles)
    squad = load_squad(_squad_file(tmp_path / "s.json"), train_titles={"Eksport"})
    assert {q.qid for q in squad.questions} == {"Eksport-0"}


def test_swequad_distractors_become_the_first_negatives(tmp_path: Path) -> None:
    context = "Visum.\r\nDu trenger ett pass. Du trenger en inbjudan. Du trenger pengar."
    item = {
        "context": context,
        "question": "Vad behöver du?",
        "choices": [
            {
                "start": context.index("ett pass"),
                "end": context.index("ett pass") + 8,
                "text": "ett pass",
                "type": "Correct answer",
                "extra": None,
            },
            {
                "start": context.index("pengar"),
                "end": context.index("pengar") + 6,
                "text": "pengar",
                "type": "Distractor",
                "extra": None,
            },
        ],
    }
    path = tmp_path / "test.json"
    path.write_text(json.dumps({"data": [item]}), encoding="utf-8")
    ds = load_swequad(path)
    q = ds.questions[0]
    p = ds.passages[q.pid]
    assert p.text[q.answer_start : q.answer_end] == "ett pass"  # \r\n offsets repaired
    group = make_group(q, ds, NearestPassages(ds.passages), random.Random(1), [], size=4)
    assert group is not None
    assert group.pairs[0].label == 1.0 and "ett pass" in group.pairs[0].sentence.text
    assert "pengar" in group.pairs[1].sentence.text  # the distractor's sentence first


def test_groups_hold_other_passages_and_a_near_miss(tiny: Dataset) -> None:
    from helse_qa.training.data import Passage

    for n in range(6):  # unrelated passages, so that rare words have weight
        text = f"Dette avsnittet nummer {n} handler om vær og vind. Det regner ofte."
        tiny.passages[f"filler{n}"] = Passage(f"filler{n}", "norquad", "nb", "", text)
    text = "Eksportinntektene fra fisk var store. Helseindustrien eksporterte mindre før."
    tiny.passages["topic"] = Passage("topic", "norquad", "nb", "", text)
    q = next(q for q in tiny.answerable() if "2017" in q.text)
    group = make_group(
        q,
        tiny,
        NearestPassages(tiny.passages),
        random.Random(0),
        name_pool(tiny).get("nb", []),
        size=8,
    )
    assert group is not None
    positive, *negatives = group.pairs
    assert positive.label == 1.0 and "23,6" in positive.sentence.text
    assert positive.answer is not None
    a, b = positive.answer
    assert positive.sentence.text[a:b] == "23,6 milliarder kroner"
    assert all(n.label == 0.0 for n in negatives)
    own = tiny.passages[q.pid].text
    assert any(n.sentence.text not in own for n in negatives)  # another passage's sentence
    (miss,) = group.extra
    assert miss.label == 0.0 and miss.sentence == positive.sentence
    assert "2017" not in miss.question and miss.question != q.text


def test_near_miss_changes_a_year_the_passage_does_not_have(tiny: Dataset) -> None:
    q = next(q for q in tiny.answerable() if "2017" in q.text)
    p = tiny.passages[q.pid]
    for seed in range(5):
        changed = near_miss(q, p, random.Random(seed), [])
        assert changed is not None
        year = next(w for w in changed.split() if w.rstrip("?").isdigit())
        assert year.rstrip("?") not in p.text


def test_schedule_is_fixed_by_the_seed(tiny: Dataset) -> None:
    recipe = Recipe("t", steps=5, questions_per_step=2)
    assert schedule(tiny, recipe) == schedule(tiny, recipe)
    assert len(schedule(tiny, recipe)) == 10


def test_calibration_helpers() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(0, 2, 4000)
    labels = (rng.random(4000) < 1 / (1 + np.exp(-z))).astype(float)
    logits = 3.0 * z  # three times too sure of itself
    t = fit_temperature(logits, labels)
    assert 2.5 < t < 3.5
    value, table = ece(1 / (1 + np.exp(-logits / t)), labels)
    assert value < 0.05 and sum(r["n"] for r in table) == 4000
    assert choose_threshold(np.linspace(0, 1, 101), 0.9) == pytest.approx(0.1)
    assert token_f1("23,6 milliarder", "23,6 milliarder kroner") == pytest.approx(6 / 7)
    assert choose_span_threshold([(0.9, 1.0), (0.5, 0.8), (0.1, 0.0)], 0.7) == 0.5


def test_a_resumed_run_continues_exactly(tiny: Dataset, tmp_path: Path, model_dir: Path) -> None:
    recipe = Recipe(
        "t",
        layers=1,
        steps=2,
        questions_per_step=2,
        group_size=4,
        warmup=1,
        max_length=48,
        checkpoint_every=1,
    )
    straight = Trainer(recipe, model_dir, tmp_path / "a", tiny, threads=1)
    straight.run()
    interrupted = Trainer(replace(recipe, steps=2), model_dir, tmp_path / "b", tiny, threads=1)
    interrupted.losses.append(interrupted.train_step())
    interrupted.save()
    resumed = Trainer(recipe, model_dir, tmp_path / "b", tiny, threads=1)
    assert resumed.resume() and resumed.step == 1
    resumed.run()
    a = dict(straight.net.named_parameters())
    b = dict(resumed.net.named_parameters())
    for name in ("head.weight", "encoder.encoder.layer.0.output.dense.weight"):
        assert np.allclose(a[name].detach().numpy(), b[name].detach().numpy(), atol=1e-6)
    assert straight.losses == pytest.approx(resumed.losses, abs=1e-5)


@pytest.mark.skipif(not (BENCH / "norquad").is_dir(), reason="../shared/benchmarks not here")
def test_the_real_splits_keep_validation_passages_out_of_training() -> None:
    from helse_qa.training.data import load_splits

    splits = load_splits(BENCH, seed=20261203)
    validation = {p.text for p in splits.benchmarks["norquad_validation"].passages.values()}
    train_texts = {p.text for p in splits.train.passages.values()}
    assert not validation & train_texts
    held = set(splits.description["heldout_titles"])  # type: ignore[arg-type]
    held_texts = {p.text for p in splits.benchmarks["xquad_heldout_en_en"].passages.values()}
    assert len(held) == 12 and not held_texts & train_texts


def test_train_reader_names_a_missing_benchmarks_folder(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "helse_qa", "train-reader", "--benchmarks", str(tmp_path / "no")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "--benchmarks" in done.stderr and "norquad" in done.stderr


@pytest.mark.slow
@pytest.mark.skipif(not (BENCH / "norquad").is_dir(), reason="../shared/benchmarks not here")
def test_train_reader_end_to_end_on_a_tiny_budget(tmp_path: Path, model_dir: Path) -> None:
    """Every stage of `helse-qa train-reader` (train, export, load back, measure, calibrate,
    report) on two steps and three questions per benchmark."""
    from helse_qa.models.reader import check_weights
    from helse_qa.training.run import TrainOptions, train_reader

    opts = TrainOptions(
        benchmarks=BENCH,
        model_dir=model_dir,
        base_fingerprint="test",
        workdir=tmp_path / "w",
        weights_dir=tmp_path / "weights",
        results_dir=tmp_path / "results",
        steps=2,
        compare_steps=0,
        limit=3,
        threads=2,
    )
    report = train_reader(opts)
    meta = check_weights(tmp_path / "weights")  # the fingerprint matches the written file
    assert meta.layers == 12 and 0.0 <= meta.threshold <= 1.0
    figures = report["candidates"][report["chosen"]]
    assert set(figures) == {
        "norquad_validation",
        "swequad_test",
        "xquad_heldout_en_en",
        "xquad_heldout_en_de",
    }
    # the learned MLP scorer was removed in issue 35: the baselines are the heuristic and e5
    assert {"heuristic", "e5-cosine"} <= set(report["candidates"])
    assert "mlp" not in report["candidates"]
    assert (tmp_path / "results" / "reader.md").read_text().startswith("# The reader")
    assert (tmp_path / "results" / "reader-reliability.png").stat().st_size > 1000
