"""``helse-qa bench``: a benchmark, not a test. Writes eval/results/bench.md and bench.png.

Measures, on this machine:
- ingest throughput (chunks/s, MB of text/s) and peak RSS: the corpus and the NorQuAD
  contexts through the real ingest (parse, chunk, embed, store, BM25) in a fresh process;
- synthetic indexes of 1k, 10k and 50k chunks made from the real chunks of those two
  corpora, with their already computed vectors (embedding cost is measured on the real
  corpora above, not again for the copies) - so insert/query costs are real, embeddings are
  cached;
- warm latency p50/p95 of retrieval only and of retrieval + extractive answer for 50
  questions at every size, with the embedded store and with a Chroma server;
- the plain llama-index pipeline (VectorStoreIndex, default in-memory vector store, the same
  embedder and vectors) on the same chunks, as latency ratios;
- cold start: ``helse-qa ask`` in a fresh process, and the web app until its first answer.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from helse_qa.config import Settings
from helse_qa.evaluation.chroma import ChromaServer
from helse_qa.evaluation.measure import free_port, helse_qa_env, nearest_rank, time_helse_qa

log = logging.getLogger(__name__)

QUESTIONS = [
    "Hvor store var eksportinntektene i 2017?",
    "How large were the export revenues in 2017?",
    "Hvem sitter i styringsgruppen?",
    "Who is on the steering group?",
    "Hvor mange medlemmer får den nye klyngen?",
    "How many members will the cluster have?",
    "Når trer sammenslåingen i kraft?",
    "When does the merger take effect?",
    "Hva er rotproblemet for norsk helseindustri?",
    "What is the root problem?",
    "Hvor mye var FoU-investeringene i 2017?",
    "How much were the R&D investments?",
    "Hvilke regionale partnere nevnes?",
    "Which regional partners are mentioned?",
    "Hva mener aktørene om kliniske studier?",
    "What do the actors say about clinical trials?",
    "Hvorfor har ikke Norge bygget en helseindustri?",
    "Why has Norway no health industry?",
    "Hva sier rapporten om helsedata?",
    "What does the report say about health data?",
    "Hvor ligger Bryggen?",
    "Hvem vant valget i Sverige?",
    "Hva skjedde med oljeprisen?",
    "Hvor mange innbyggere har Oslo?",
    "Hva er HealthCatalyst?",
]


def _questions(n: int = 50) -> list[str]:
    return [QUESTIONS[i % len(QUESTIONS)] + ("" if i < len(QUESTIONS) else " ") for i in range(n)]


@dataclass
class IngestRow:
    name: str
    chunks: int
    megabytes: float
    seconds: float
    peak_rss_mb: float
    encoding: str = "separate"
    load_s: float = 0.0  # loading the passage model (before the ingest's own seconds)
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def chunks_per_s(self) -> float:
        return self.chunks / self.seconds if self.seconds else 0.0


# Ingest is compared with sentence vectors made at ingest and on demand (the default: made at
# answer time for the retrieved passages only, and by the app's warm-up), side by side.
ENCODINGS = ("separate", "on-demand")


def _index_dir(tmp: Path, label: str, encoding: str) -> Path:
    """Where the bench builds ``label``'s index with ``encoding`` ("separate": no suffix;
    the latency runs use that one, whose sentence vectors are all at hand)."""
    return tmp / (f"{label}-index" if encoding == "separate" else f"{label}-index-{encoding}")


def _child_ingest(
    documents: Path | None, squad: Path | None, index_dir: Path, encoding: str = "separate"
) -> IngestRow:
    """Run one real ingest in a fresh process and read its wall time, stages and peak RSS."""
    code = (
        "import json, resource, sys, time\n"
        "from pathlib import Path\n"
        "from helse_qa.config import Settings\n"
        "from helse_qa.models.embedding import load_embedder\n"
        "args = json.loads(sys.argv[1])\n"
        "s = Settings(documents_dir=Path(args['docs'] or '.'), index_dir=Path(args['index']),\n"
        "             sentence_encoding=args['encoding'])\n"
        "t = time.perf_counter()\n"
        "e = load_embedder(s)\n"
        "e.embed_passages(['warm-up'])  # loads the passage model\n"
        "load = time.perf_counter() - t\n"
        "t = time.perf_counter()\n"
        "if args['squad']:\n"
        "    from helse_qa.evaluation.baselines import load_squad, squad_documents\n"
        "    from helse_qa.ingest.pipeline import build_index\n"
        "    ctx, _ = load_squad(Path(args['squad']))\n"
        "    docs = squad_documents(ctx)\n"
        "    parse = time.perf_counter() - t\n"
        "    r = build_index(s, e, docs, with_sentences=True)\n"
        "    mb = sum(len(d.text.encode()) for d in docs) / 1e6\n"
        "    stages = {'parse': parse, **dict(r.stages)}\n"
        "else:\n"
        "    from helse_qa.ingest.pipeline import ingest\n"
        "    r = ingest(s, e)\n"
        "    mb = sum(p.stat().st_size for p in Path(args['docs']).rglob('*.txt')) / 1e6\n"
        "    stages = dict(r.stages)\n"
        "secs = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(json.dumps({'chunks': r.chunks, 'mb': mb, 'secs': secs, 'rss': rss,\n"
        "                  'load': load, 'stages': stages}))\n"
    )
    arg = json.dumps(
        {
            "docs": str(documents) if documents else None,
            "squad": str(squad) if squad else None,
            "index": str(index_dir),
            "encoding": encoding,
        }
    )
    out = subprocess.run(
        [sys.executable, "-c", code, arg], capture_output=True, text=True, check=True
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    name = "NorQuAD contexts" if squad else "corpus (documents/)"
    return IngestRow(
        name,
        int(data["chunks"]),
        float(data["mb"]),
        float(data["secs"]),
        float(data["rss"]),
        encoding,
        float(data["load"]),
        {k: float(v) for k, v in data["stages"].items()},
    )


def _ingest_rows(
    settings: Settings, squad: Path | None, tmp: Path
) -> tuple[list[IngestRow], dict[str, float]]:
    """Each corpus ingested with every encoding, one after the other, in fresh processes;
    and how close the on-demand sentence vectors are to the ones stored at ingest."""
    rows: list[IngestRow] = []
    corpora: list[tuple[str, Path | None, Path | None]] = [("corpus", settings.documents_dir, None)]
    if squad is not None:
        corpora.append(("squad", None, squad))
    for label, docs, sq in corpora:
        for encoding in ENCODINGS:
            rows.append(_child_ingest(docs, sq, _index_dir(tmp, label, encoding), encoding))
    label = "squad" if squad is not None else "corpus"
    agreement = _on_demand_agreement(
        settings, _index_dir(tmp, label, "separate"), _index_dir(tmp, label, "on-demand")
    )
    return rows, agreement


def _on_demand_agreement(settings: Settings, stored: Path, on_demand: Path) -> dict[str, float]:
    """Cosine of the sentence vectors made on demand (over the on-demand index, up to 60
    chunks) to those the separate ingest stored for the same sentences."""
    from helse_qa.answering.sentence_vectors import SentenceVectors
    from helse_qa.models.embedding import load_embedder
    from helse_qa.storage.layout import IndexLayout, read_chunks
    from helse_qa.storage.vectors import generation_store

    on_demand_gen = IndexLayout(on_demand).require_current()
    chunks = read_chunks(on_demand_gen)[:60]
    a = generation_store(stored, IndexLayout(stored).require_current(), None)
    b = generation_store(on_demand, on_demand_gen, None)
    try:
        records, old = a.sentence_vectors(chunks)
        made = SentenceVectors(load_embedder(settings))
        new_records, new = made.get(b, chunks)
    finally:
        a.close()
        b.close()
    by_id = {r.sentence_id: v for r, v in zip(new_records, new, strict=True)}
    cos = [float(v @ by_id[r.sentence_id]) for r, v in zip(records, old, strict=True)]
    return {"sentences": float(len(cos)), "min": min(cos), "mean": statistics.fmean(cos)}


def _synthetic(sources: Sequence[Path], size: int, settings: Settings) -> Any:
    """An index of ``size`` chunks copied from real generations, vectors included, in
    ``settings.index_dir`` (and ``settings.chroma_url``).

    Written through the same index transaction and BM25 builder as a real ingest.
    """
    from helse_qa.storage.layout import read_chunks, read_manifest
    from helse_qa.storage.vectors import generation_store
    from helse_qa.storage.writer import IndexWriter

    base_chunks = []
    for source in sources:
        store = generation_store(source.parent, source, None)
        chunks = read_chunks(source)
        vectors = store.chunk_vectors([c.chunk_id for c in chunks])
        records, svecs = store.sentence_vectors(chunks)
        by_chunk: dict[str, list[tuple[Any, np.ndarray]]] = {}
        for r, v in zip(records, svecs, strict=True):
            by_chunk.setdefault(r.chunk_id, []).append((r, v))
        base_chunks += [(c, vectors[c.chunk_id], by_chunk.get(c.chunk_id, [])) for c in chunks]
        store.close()
    rng = np.random.default_rng(7)
    chunks_out, vecs, srecs, svs = [], [], [], []
    for i in range(size):
        chunk, vec, sents = base_chunks[i % len(base_chunks)]
        copy_no = i // len(base_chunks)
        doc_id = f"{chunk.doc_id}~{copy_no}"
        new = replace(chunk, chunk_id=f"{doc_id}:{chunk.ordinal:04d}", doc_id=doc_id)
        noise = rng.normal(0, 0.01, vec.shape).astype(np.float32) if copy_no else 0
        v = vec + noise
        chunks_out.append(new)
        vecs.append(v / np.linalg.norm(v))
        for r, sv in sents:
            srecs.append(replace(r, chunk_id=new.chunk_id, doc_id=doc_id))
            svs.append(sv)
    with IndexWriter(settings).begin(copy_current=False) as gen:
        started = time.perf_counter()
        gen.store.add_chunks(chunks_out, np.asarray(vecs, dtype=np.float32))
        if srecs:
            gen.store.add_sentences(srecs, np.asarray(svs, dtype=np.float32))
        gen.write_bm25(chunks_out)
        gen.write_chunks(chunks_out)
        manifest = read_manifest(sources[0])
        manifest.documents = {}
        gen.write_manifest(manifest)
        insert_s = time.perf_counter() - started
    return chunks_out, np.asarray(vecs, dtype=np.float32), insert_s


def _latency(fn: Callable[[str], Any], questions: Sequence[str]) -> tuple[float, float]:
    for q in questions[:5]:
        fn(q)  # warm-up
    times = []
    for q in questions:
        t = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), nearest_rank(times, 0.95)


def _plain_llama(chunks: Sequence[Any], vectors: np.ndarray, embedder: Any) -> Callable[[str], Any]:
    """VectorStoreIndex over the same chunks and vectors (default in-memory store)."""
    from llama_index.core import VectorStoreIndex
    from llama_index.core.schema import TextNode

    from helse_qa.evaluation.baselines import llama_embedding

    nodes = [
        TextNode(text=c.text, id_=c.chunk_id, embedding=v.tolist())
        for c, v in zip(chunks, vectors, strict=True)
    ]
    index = VectorStoreIndex(nodes, embed_model=llama_embedding(embedder))
    retriever = index.as_retriever(similarity_top_k=5)
    return retriever.retrieve


def _cold_ask(index_dir: Path, documents: Path) -> float:
    return time_helse_qa("ask", QUESTIONS[0], env=helse_qa_env(index_dir, documents))


def _cold_app(index_dir: Path, documents: Path) -> float:
    port = free_port()
    env = helse_qa_env(index_dir, documents)
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "helse_qa", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        from gradio_client import Client

        while True:
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                client.predict(QUESTIONS[0], [], [], 5, api_name="/ask")
                return time.perf_counter() - t
            except Exception:  # not up yet
                if proc.poll() is not None or time.perf_counter() - t > 120:
                    raise
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def run_bench(
    settings: Settings,
    squad: Path | None,
    sizes: Sequence[int],
    out_dir: Path,
    with_server: bool = True,
) -> Path:
    from helse_qa.assistant import Assistant
    from helse_qa.models.embedding import load_embedder
    from helse_qa.storage.layout import IndexLayout

    embedder = load_embedder(settings)
    questions = _questions(50)
    lat: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        rows, agreement = _ingest_rows(settings, squad, tmp)
        corpus_index = _index_dir(tmp, "corpus", "separate")
        sources = [IndexLayout(corpus_index).require_current()]
        if squad is not None:
            sources.append(IndexLayout(_index_dir(tmp, "squad", "separate")).require_current())
        cold_ask = _cold_ask(corpus_index, settings.documents_dir)
        cold_app = _cold_app(corpus_index, settings.documents_dir)
        server = ChromaServer(tmp / "chroma-server") if with_server else None
        try:
            labels: list[str] = ["corpus", *(str(n) for n in sizes)]
            for size in labels:
                for mode in ["embedded", "server"] if server else ["embedded"]:
                    url = server.url if (server and mode == "server") else None
                    index_dir = tmp / f"idx-{size}-{mode}"
                    if size == "corpus":
                        if url:
                            s2 = settings.model_copy(
                                update={"index_dir": index_dir, "chroma_url": url}
                            )
                            from helse_qa.ingest.pipeline import ingest

                            ingest(s2, embedder)
                        else:
                            index_dir = corpus_index
                        n_chunks, insert_s = rows[0].chunks, None
                        chunks: Any = None
                        vectors: Any = None
                    s3 = settings.model_copy(update={"index_dir": index_dir, "chroma_url": url})
                    if size != "corpus":
                        chunks, vectors, insert_s = _synthetic(sources, int(size), s3)
                        n_chunks = int(size)
                    assistant = Assistant.open(s3, embedder=embedder)
                    r50, r95 = _latency(assistant.retrieve, questions)
                    a50, a95 = _latency(assistant.ask, questions)
                    row = {
                        "size": n_chunks,
                        "label": str(size),
                        "store": mode,
                        "retrieve_p50": r50,
                        "retrieve_p95": r95,
                        "ask_p50": a50,
                        "ask_p95": a95,
                        "insert_s": insert_s,
                    }
                    if mode == "embedded":
                        if chunks is None:
                            gen = sources[0]
                            from helse_qa.storage.layout import read_chunks

                            chunks = read_chunks(gen)
                            vmap = assistant.chunk_vectors([c.chunk_id for c in chunks])
                            vectors = np.asarray([vmap[c.chunk_id] for c in chunks])
                        plain = _plain_llama(chunks, vectors, embedder)
                        p50, p95 = _latency(plain, questions)
                        row.update({"plain_p50": p50, "plain_p95": p95})
                    assistant.close()
                    lat.append(row)
                    log.info("bench %s", row)
        finally:
            if server:
                server.stop()
    return _write(out_dir, rows, agreement, lat, cold_ask, cold_app)


def run_ingest_bench(settings: Settings, squad: Path | None, out_dir: Path) -> Path:
    """Only the ingest comparison: replaces the ingest section of ``bench.md`` (and the
    ``ingest`` entries of ``bench.json``), leaving the other sections as they were."""
    with tempfile.TemporaryDirectory() as tmp_name:
        rows, agreement = _ingest_rows(settings, squad, Path(tmp_name))
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "bench.md"
    section = "\n".join(_ingest_section(rows, agreement, only=True))
    text = md.read_text(encoding="utf-8") if md.is_file() else "# helse-qa benchmark\n\n"
    start = text.find(_INGEST_HEADING)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        rest = "\n" + text[end + 1 :] if end >= 0 else ""
        text = text[:start] + section.rstrip("\n") + "\n" + rest
    md.write_text(text, encoding="utf-8")
    js = out_dir / "bench.json"
    data = json.loads(js.read_text(encoding="utf-8")) if js.is_file() else {}
    data["ingest"] = [r.__dict__ for r in rows]
    data["on_demand_agreement"] = agreement
    js.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return md


_INGEST_HEADING = "## Ingest"


def _ingest_section(
    rows: list[IngestRow], agreement: dict[str, float], only: bool = False
) -> list[str]:
    when = (
        f"Measured by `helse-qa bench --ingest-only` on {time.strftime('%Y-%m-%d')} "
        f"({os.cpu_count()} CPU cores); the sections below may be older. "
        if only
        else ""
    )
    lines = [
        f"{_INGEST_HEADING} (fresh process per row; seconds from the loaded passage model "
        "to the published index)",
        "",
        f'{when}Each corpus is ingested with `sentence_encoding = "separate"` (sentence '
        'vectors made at ingest) and `"on-demand"` (the default since 2026-11-23: passages '
        "only; the retrieved passages' sentences are embedded when a question needs them), one "
        "after the other in the same run. Speed-up: chunks/s against the separate row.",
        "",
        "| corpus | sentence_encoding | chunks | MB of text | model load (s) | seconds | "
        "chunks/s | speed-up | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    base: dict[str, float] = {}
    for r in rows:
        base.setdefault(r.name, r.chunks_per_s)
        speed = r.chunks_per_s / base[r.name] if base[r.name] else 0.0
        lines.append(
            f"| {r.name} | {r.encoding} | {r.chunks} | {r.megabytes:.2f} | {r.load_s:.1f} | "
            f"{r.seconds:.1f} | {r.chunks_per_s:.1f} | {speed:.2f}x | {r.peak_rss_mb:.0f} |"
        )
    stages = list(dict.fromkeys(k for r in rows for k in r.stages))
    lines += [
        "",
        "Where the seconds went (s per stage; parse of NorQuAD = building its documents "
        "from the JSON):",
        "",
        "| corpus | sentence_encoding | " + " | ".join(stages) + " |",
        "|---|---|" + "---|" * len(stages),
    ]
    for r in rows:
        cells = [f"{r.stages[k]:.2f}" if k in r.stages else "-" for k in stages]
        lines.append(f"| {r.name} | {r.encoding} | " + " | ".join(cells) + " |")
    if agreement:
        lines += [
            "",
            f"Sentence vectors made on demand against those stored by the separate ingest, "
            f"same sentences ({agreement['sentences']:.0f} of them): cosine mean "
            f"{agreement['mean']:.6f}, min {agreement['min']:.6f}.",
        ]
    return [*lines, ""]


def _write(
    out_dir: Path,
    rows: list[IngestRow],
    agreement: dict[str, float],
    lat: list[dict[str, Any]],
    cold_ask: float,
    cold_app: float,
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        "# helse-qa benchmark",
        "",
        f"Produced by `helse-qa bench` on {time.strftime('%Y-%m-%d')}: {os.cpu_count()} CPU "
        f"cores, Python {platform.python_version()}, {platform.machine()}. A benchmark, not a "
        "test: figures vary with machine load. Synthetic sizes are copies of the real chunks "
        "of the corpus and NorQuAD with their cached vectors (slightly perturbed), so their "
        "insert and query costs are real and their embedding cost is the one measured on the "
        "real corpora.",
        "",
    ]
    lines += _ingest_section(rows, agreement)
    lines += [
        "",
        "## Warm query latency (ms, 50 questions, k = 5)",
        "",
        "| chunks | store | insert (s) | retrieval p50 | p95 | retrieval + answer p50 | p95 | "
        "plain llama-index p50 | p95 | ratio helse-qa/plain (p50, retrieval) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in lat:
        insert = f"{row['insert_s']:.1f}" if row.get("insert_s") else "-"
        plain = (
            (
                f"{row['plain_p50']:.1f} | {row['plain_p95']:.1f} | "
                f"{row['retrieve_p50'] / row['plain_p50']:.2f}"
            )
            if "plain_p50" in row
            else "- | - | -"
        )
        lines.append(
            f"| {row['size']} | {row['store']} | {insert} | {row['retrieve_p50']:.1f} | "
            f"{row['retrieve_p95']:.1f} | {row['ask_p50']:.1f} | {row['ask_p95']:.1f} | "
            f"{plain} |"
        )
    lines += [
        "",
        "## Cold start (index built)",
        "",
        f'- `helse-qa ask "..."` in a fresh process: {cold_ask:.2f} s',
        f"- `helse-qa serve` until its first answer through gradio_client: {cold_app:.1f} s",
        "",
        "![latency per size](bench.png)",
        "",
    ]
    (out_dir / "bench.md").write_text("\n".join(lines), encoding="utf-8")
    (out_dir / "bench.json").write_text(
        json.dumps(
            {
                "ingest": [r.__dict__ for r in rows],
                "on_demand_agreement": agreement,
                "latency": lat,
                "cold_ask_s": cold_ask,
                "cold_app_s": cold_app,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    _plot(out_dir / "bench.png", lat)
    return out_dir / "bench.md"


def _plot(path: Path, lat: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for store in ("embedded", "server"):
        rows = sorted((r for r in lat if r["store"] == store), key=lambda r: r["size"])
        if rows:
            ax.plot(
                [r["size"] for r in rows],
                [r["ask_p50"] for r in rows],
                marker="o",
                label=f"helse-qa retrieval + answer ({store})",
            )
    plain = sorted((r for r in lat if "plain_p50" in r), key=lambda r: r["size"])
    if plain:
        ax.plot(
            [r["size"] for r in plain],
            [r["plain_p50"] for r in plain],
            marker="s",
            label="plain llama-index retrieval",
        )
    ax.set_xscale("log")
    ax.set_xlabel("chunks in the index")
    ax.set_ylabel("warm p50 latency (ms)")
    ax.set_title("Query latency by index size")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
