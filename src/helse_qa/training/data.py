"""External QA data as passages of sentences and questions with a known answer sentence,
split so that every reported figure is on data the reader never saw.

Splits (fixed by ``seed``; recorded in ``reader.json``):

- NorQuAD: training questions on passages with ``context_in_validation: false`` only (so
  ``norquad_validation`` is context-disjoint); one passage in ten of those (by hash) is held
  out for calibration. The official validation file is for reporting only.
- SweQUAD-MC: ``training.json`` trains, ``dev.json`` calibrates, ``test.json`` reports.
- SQuAD v1.1 dev and XQuAD: the 48 article titles are split once by hash; SQuAD paragraphs
  of the training titles train (English), XQuAD paragraphs of the training titles give
  cross-lingual pairs (en question / de or es sentence and the reverse); XQuAD on the
  held-out titles reports (``xquad_heldout_en_en``, ``xquad_heldout_en_de``).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helse_qa.errors import HelseQAError
from helse_qa.text.numbers import ANY_YEAR
from helse_qa.text.sentences import sentence_spans
from helse_qa.types import SentenceInContext

HELDOUT_TITLES = 12  # of XQuAD's 48 articles
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_NUMBER = re.compile(r"(?<![\d.,])\d+(?:[.,]\d+)?(?![\d])")
_NAME = re.compile(r"(?<=\s)[A-ZÆØÅÄÖÜ][\w-]{2,}")


@dataclass
class Passage:
    pid: str
    source: str
    language: str
    title: str
    text: str
    spans: list[tuple[int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.spans:
            self.spans = sentence_spans(self.text)

    def sentence(self, i: int) -> SentenceInContext:
        a, b = self.spans[i]
        prev = ""
        if i > 0:
            pa, pb = self.spans[i - 1]
            prev = self.text[pa:pb]
        return SentenceInContext(self.text[a:b], prev, self.title)

    def index_of(self, offset: int) -> int | None:
        for i, (a, b) in enumerate(self.spans):
            if a <= offset < b:
                return i
        # the answer starts in the whitespace between two sentences: the next one
        for i, (a, _) in enumerate(self.spans):
            if a >= offset:
                return i
        return None

    def overlapping(self, start: int, end: int) -> set[int]:
        return {i for i, (a, b) in enumerate(self.spans) if a < end and start < b}


@dataclass
class Question:
    qid: str
    source: str
    text: str
    language: str
    pid: str
    answer_start: int
    answer_end: int
    distractors: tuple[tuple[int, int], ...] = ()


@dataclass
class Dataset:
    passages: dict[str, Passage] = field(default_factory=dict)
    questions: list[Question] = field(default_factory=list)

    def add(self, other: Dataset) -> None:
        self.passages.update(other.passages)
        self.questions.extend(other.questions)

    def answerable(self) -> list[Question]:
        """Questions whose answer starts inside a sentence of their passage."""
        out = []
        for q in self.questions:
            p = self.passages[q.pid]
            if p.index_of(q.answer_start) is not None and len(p.spans) >= 2:
                out.append(q)
        return out


def _hash(seed: int, key: str) -> int:
    return int(hashlib.sha1(f"{seed}:{key}".encode()).hexdigest()[:12], 16)


def _read(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data
    except OSError as exc:
        raise HelseQAError(
            f"cannot read {path}: {exc} - pass --benchmarks with the folder that holds "
            "norquad/, swequad-mc/, squad/ and xquad/ (../shared/benchmarks)"
        ) from exc


def _heading(text: str) -> str:
    """The first line of a passage when it is a short title (NorQuAD news, SweQUAD)."""
    first = text.split("\n", 1)[0].strip()
    return first if 0 < len(first.split()) <= 14 and "\n" in text else ""


def _pid(source: str, text: str) -> str:
    return f"{source}:{hashlib.sha1(text.encode()).hexdigest()[:12]}"


def load_norquad(path: Path, *, validation: bool, seed: int) -> dict[str, Dataset]:
    """{"train", "calibration"} from the training file (context-disjoint passages only),
    or {"validation"} from the validation file."""
    out: dict[str, Dataset] = defaultdict(Dataset)
    for article in _read(path)["data"]:
        for para in article["paragraphs"]:
            if not validation and para.get("context_in_validation", False):
                continue
            text = para["context"]
            pid = _pid("norquad", text)
            part = (
                "validation"
                if validation
                else ("calibration" if _hash(seed, pid) % 10 == 0 else "train")
            )
            ds = out[part]
            ds.passages.setdefault(pid, Passage(pid, "norquad", "nb", _heading(text), text))
            for qa in para["qas"]:
                for ans in qa["answers"][:1]:
                    start = int(ans["answer_start"])
                    ds.questions.append(
                        Question(
                            str(qa["id"]),
                            "norquad",
                            qa["question"],
                            "nb",
                            pid,
                            start,
                            start + len(ans["text"]),
                        )
                    )
    return dict(out)


def load_swequad(path: Path) -> Dataset:
    ds = Dataset()
    for n, item in enumerate(_read(path)["data"]):
        text = item["context"].replace("\r\n", "\n")
        shift_src = item["context"]
        pid = _pid("swequad", text)
        ds.passages.setdefault(pid, Passage(pid, "swequad", "sv", _heading(text), text))

        def fix(offset: int, src: str = shift_src) -> int:
            return offset - src[:offset].count("\r\n")

        correct = [c for c in item["choices"] if c["type"] == "Correct answer"]
        if not correct:
            continue
        c = correct[0]
        distractors = tuple(
            (fix(d["start"]), fix(d["end"])) for d in item["choices"] if d["type"] == "Distractor"
        )
        ds.questions.append(
            Question(
                f"swequad-{path.stem}-{n}",
                "swequad",
                item["question"],
                "sv",
                pid,
                fix(c["start"]),
                fix(c["end"]),
                distractors,
            )
        )
    return ds


def _squad_like(path: Path) -> list[tuple[str, int, dict[str, Any]]]:
    """(title, paragraph index, paragraph) for a SQuAD-format file."""
    out = []
    for article in _read(path)["data"]:
        for i, para in enumerate(article["paragraphs"]):
            out.append((article["title"], i, para))
    return out


def title_split(titles: Iterable[str], seed: int) -> tuple[set[str], set[str]]:
    """(training titles, held-out titles): the same for SQuAD and XQuAD."""
    ordered = sorted(set(titles), key=lambda t: _hash(seed, t))
    return set(ordered[HELDOUT_TITLES:]), set(ordered[:HELDOUT_TITLES])


def load_squad(path: Path, train_titles: set[str]) -> Dataset:
    ds = Dataset()
    for title, _, para in _squad_like(path):
        if title not in train_titles:
            continue
        text = para["context"]
        pid = _pid("squad", text)
        ds.passages.setdefault(pid, Passage(pid, "squad", "en", title.replace("_", " "), text))
        for qa in para["qas"]:
            ans = qa["answers"][0]
            start = int(ans["answer_start"])
            ds.questions.append(
                Question(
                    qa["id"], "squad", qa["question"], "en", pid, start, start + len(ans["text"])
                )
            )
    return ds


def load_xquad(
    folder: Path, titles: set[str], pairs: Sequence[tuple[str, str]], tag: str
) -> Dataset:
    """Cross-lingual pairs: for (qlang, plang), questions in qlang over paragraphs in plang
    (the files are parallel by question id)."""
    langs = {lang for pair in pairs for lang in pair}
    files = {lang: _squad_like(folder / f"xquad.{lang}.json") for lang in langs}
    english = files.get("en") or _squad_like(folder / "xquad.en.json")
    ds = Dataset()
    for qlang, plang in pairs:
        questions: dict[str, str] = {}
        for _, _, para in files[qlang]:
            for qa in para["qas"]:
                questions[qa["id"]] = qa["question"]
        for (title, _, _), (ptitle, _, para) in zip(english, files[plang], strict=True):
            if title not in titles:
                continue
            text = para["context"]
            pid = _pid(f"xquad-{plang}", text)
            ds.passages.setdefault(
                pid, Passage(pid, f"xquad-{plang}", plang, ptitle.replace("_", " "), text)
            )
            for qa in para["qas"]:
                ans = qa["answers"][0]
                start = int(ans["answer_start"])
                ds.questions.append(
                    Question(
                        f"{qa['id']}-{qlang}{plang}",
                        tag,
                        questions[qa["id"]],
                        qlang,
                        pid,
                        start,
                        start + len(ans["text"]),
                    )
                )
    return ds


@dataclass
class Splits:
    train: Dataset
    calibration: Dataset
    benchmarks: dict[str, Dataset]
    description: dict[str, object]


def load_splits(benchmarks: Path, seed: int) -> Splits:
    """Every split the training, calibration and the report use."""
    nq = load_norquad(
        benchmarks / "norquad/train_from_annotations.json", validation=False, seed=seed
    )
    nq_val = load_norquad(
        benchmarks / "norquad/validation_dataset_flattened.json", validation=True, seed=seed
    )["validation"]
    xq_titles = {t for t, _, _ in _squad_like(benchmarks / "xquad/xquad.en.json")}
    train_titles, held_titles = title_split(xq_titles, seed)
    train = Dataset()
    train.add(nq["train"])
    train.add(load_swequad(benchmarks / "swequad-mc/training.json"))
    train.add(load_squad(benchmarks / "squad/dev-v1.1.json", train_titles))
    train.add(
        load_xquad(
            benchmarks / "xquad",
            train_titles,
            [("en", "de"), ("en", "es"), ("de", "en"), ("es", "en")],
            "xquad-cross",
        )
    )
    calibration = Dataset()
    calibration.add(nq["calibration"])
    calibration.add(load_swequad(benchmarks / "swequad-mc/dev.json"))
    bench = {
        "norquad_validation": nq_val,
        "swequad_test": load_swequad(benchmarks / "swequad-mc/test.json"),
        "xquad_heldout_en_en": load_xquad(benchmarks / "xquad", held_titles, [("en", "en")], "xq"),
        "xquad_heldout_en_de": load_xquad(benchmarks / "xquad", held_titles, [("en", "de")], "xq"),
    }
    counts = Counter(q.source for q in train.answerable())
    description: dict[str, object] = {
        "seed": seed,
        "train_questions": dict(sorted(counts.items())),
        "calibration_questions": len(calibration.answerable()),
        "benchmark_questions": {k: len(v.answerable()) for k, v in bench.items()},
        "heldout_titles": sorted(held_titles),
        "rule": (
            "NorQuAD: train on context_in_validation=false passages only, 1 in 10 of them "
            "(sha1 of seed+passage) held out for calibration; SweQUAD-MC: training / dev "
            "(calibration) / test (report); SQuAD dev + XQuAD: 48 titles split by sha1 of "
            f"seed+title, {HELDOUT_TITLES} held out, SQuAD and XQuAD of the other titles train"
        ),
    }
    return Splits(train, calibration, bench, description)


# -- what one training question becomes -------------------------------------------------


class NearestPassages:
    """The passages of a dataset nearest to a question by idf-weighted word overlap (a
    small BM25 stand-in): on-topic passages that do not hold the answer."""

    def __init__(self, passages: dict[str, Passage]) -> None:
        self._pids = list(passages)
        self._lang = {pid: passages[pid].language for pid in self._pids}
        self._index: dict[str, list[int]] = defaultdict(list)
        for n, pid in enumerate(self._pids):
            for w in set(words(passages[pid].text)):
                self._index[w].append(n)
        self._idf = {w: math.log(len(self._pids) / len(ns)) for w, ns in self._index.items()}

    def nearest(self, question: str, exclude: str, language: str, k: int = 2) -> list[str]:
        score: dict[int, float] = defaultdict(float)
        for w in set(words(question)):
            idf = self._idf.get(w, 0.0)
            if idf < 1.0:
                continue
            for n in self._index[w]:
                score[n] += idf
        out = []
        for n in sorted(score, key=lambda n: -score[n])[: 8 * k]:
            pid = self._pids[n]
            if pid != exclude and self._lang[pid] == language:
                out.append(pid)
            if len(out) >= k:
                break
        return out


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def overlap(question: str, sentence: str) -> int:
    q = {w for w in words(question) if len(w) > 3}
    return len(q & set(words(sentence)))


def near_miss(
    question: Question, passage: Passage, rng: random.Random, names: Sequence[str]
) -> str | None:
    """The question with its year, number or a name changed so that the passage no longer
    answers it (asked 2021, the sentence says 2017), or None when none can be changed."""
    text = question.text
    years = ANY_YEAR.findall(text)
    if years:
        year = years[0]
        for delta in rng.sample([-3, -2, -1, 1, 2, 3, 4, 5], 8):
            new = str(int(year) + delta)
            if new not in passage.text:
                return text.replace(year, new, 1)
    numbers = [m for m in _NUMBER.finditer(text) if not ANY_YEAR.fullmatch(m.group())]
    if numbers:
        m = numbers[0]
        value = m.group()
        new = str(int(float(value.replace(",", "."))) * 2 + 3)
        if new not in passage.text:
            return text[: m.start()] + new + text[m.end() :]
    candidates = [m for m in _NAME.finditer(text) if m.group() in passage.text]
    if candidates and names:
        m = candidates[0]
        for name in rng.sample(list(names), min(10, len(names))):
            if name not in passage.text and name != m.group():
                return text[: m.start()] + name + text[m.end() :]
    return None


@dataclass(frozen=True)
class Pair:
    question: str
    sentence: SentenceInContext
    label: float
    answer: tuple[int, int] | None = None  # answer span in the sentence (positives)


@dataclass(frozen=True)
class Group:
    """One question's listwise group (first pair is the answer) and its extra pointwise
    pairs (near misses: the answer sentence, a question it does not answer)."""

    pairs: tuple[Pair, ...]
    extra: tuple[Pair, ...] = ()


def make_group(
    q: Question,
    ds: Dataset,
    nearest: NearestPassages,
    rng: random.Random,
    names: Sequence[str],
    size: int = 8,
    other: int = 2,
) -> Group | None:
    p = ds.passages[q.pid]
    pos = p.index_of(q.answer_start)
    if pos is None:
        return None
    a, b = p.spans[pos]
    span = (max(0, q.answer_start - a), min(b - a, q.answer_end - a))
    positive = Pair(q.text, p.sentence(pos), 1.0, span if span[1] > span[0] else None)
    answer_sents = p.overlapping(q.answer_start, q.answer_end)
    distract = [i for d in q.distractors for i in p.overlapping(*d)]
    own = [i for i in range(len(p.spans)) if i not in answer_sents]
    first = [i for i in dict.fromkeys(distract) if i not in answer_sents]
    rest = [i for i in own if i not in first]
    rng.shuffle(rest)
    negs = [Pair(q.text, p.sentence(i), 0.0) for i in (first + rest)[: size - 1 - other]]
    for pid in nearest.nearest(q.text, q.pid, p.language, k=other):
        o = ds.passages[pid]
        best = max(range(len(o.spans)), key=lambda i: overlap(q.text, o.sentence(i).text))
        negs.append(Pair(q.text, o.sentence(best), 0.0))
    extra = []
    changed = near_miss(q, p, rng, names)
    if changed:
        extra.append(Pair(changed, positive.sentence, 0.0))
    return Group((positive, *negs), tuple(extra))


def name_pool(ds: Dataset) -> dict[str, list[str]]:
    """Capitalised words per language, for near misses by a changed name."""
    pool: dict[str, Counter[str]] = defaultdict(Counter)
    for p in ds.passages.values():
        pool[p.language].update(m.group() for m in _NAME.finditer(p.text))
    return {lang: [w for w, n in c.most_common(3000) if n >= 2] for lang, c in pool.items()}
