"""Issue 15 candidates for a faster ingest, measured side by side in one run (a benchmark,
not a test: the figures move with machine load).

    .venv/bin/python scripts/ingest_candidates.py [--contexts 40] [--out FILE.md]

Each candidate embeds the same NorQuAD contexts (first 180 words each, "passage: " prompt)
and their sentences, as ingest does, and is compared with the current path
(sentence-transformers, torch fp32, every chunk and every sentence encoded on its own):

- ``onnx-fp32`` / ``onnx-int8``: the converted model exported to ONNX (torch.onnx, needs the
  ``onnx`` package: skipped when it is missing) run by onnxruntime, int8 by dynamic
  quantisation. Sentences are still encoded on their own.
- ``pooled``: one encoder pass per chunk; each sentence vector is the mean of the chunk's
  token states over the sentence's tokens (no second pass for sentences).

Reported per candidate: texts per second (chunks + sentences), speed-up over the current path,
and the cosine agreement of chunk and sentence vectors with the current ones.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from helse_qa import offline
from helse_qa.config import Settings
from helse_qa.models.embedding import resolve_model
from helse_qa.text.sentences import sentence_spans

log = logging.getLogger("ingest_candidates")
NORQUAD = Path("../shared/benchmarks/norquad/validation_dataset_flattened.json")
PROMPT = "passage: "


def contexts(path: Path, n: int) -> list[str]:
    seen: list[str] = []
    for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
        for paragraph in article["paragraphs"]:
            text = " ".join(paragraph["context"].split()[:180])
            if text not in seen:
                seen.append(text)
    return seen[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contexts", type=int, default=40)
    parser.add_argument("--norquad", type=Path, default=NORQUAD)
    parser.add_argument("--out", type=Path, default=Path("eval/results/ingest-candidates.md"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    offline.apply()
    import torch
    from sentence_transformers import SentenceTransformer

    location = resolve_model(Settings()).location
    model = SentenceTransformer(location, device="cpu", local_files_only=True)
    tok = model.tokenizer
    chunks = contexts(args.norquad, args.contexts)
    sentences = [[c[a:b] for a, b in sentence_spans(c)] for c in chunks]
    flat = [s for group in sentences for s in group]
    texts = len(chunks) + len(flat)

    def encode(items: list[str]) -> np.ndarray:
        return np.asarray(
            model.encode([PROMPT + t for t in items], batch_size=32, normalize_embeddings=True)
        )

    def current() -> tuple[np.ndarray, np.ndarray]:
        return encode(chunks), encode(flat)

    def pooled() -> tuple[np.ndarray, np.ndarray]:
        chunk_vecs, sent_vecs = [], []
        for i in range(0, len(chunks), 32):
            batch = [PROMPT + c for c in chunks[i : i + 32]]
            enc = tok(
                batch,
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=512,
                return_offsets_mapping=True,
            )
            offsets = enc.pop("offset_mapping")
            with torch.inference_mode():
                states = model[0].auto_model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).float()
            pooled_chunks = (states * mask).sum(1) / mask.sum(1)
            chunk_vecs.append(torch.nn.functional.normalize(pooled_chunks, dim=-1).numpy())
            for j, chunk in enumerate(chunks[i : i + 32]):
                o = offsets[j]
                for a, b in sentence_spans(chunk):
                    a, b = a + len(PROMPT), b + len(PROMPT)
                    sel = ((o[:, 0] >= a) & (o[:, 1] <= b) & (o[:, 1] > o[:, 0])).nonzero()
                    v = states[j, sel.flatten()].mean(0) if len(sel) else pooled_chunks[j]
                    sent_vecs.append(torch.nn.functional.normalize(v, dim=-1).numpy())
        return np.vstack(chunk_vecs), np.vstack(sent_vecs)

    candidates: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {"pooled": pooled}
    notes: list[str] = []
    try:
        import onnx  # noqa: F401 - torch.onnx.export needs it
        import onnxruntime as ort

        folder = Path(tempfile.mkdtemp(prefix="helse-qa-onnx-"))
        fp32 = folder / "model.onnx"

        class Wrapped(torch.nn.Module):
            def __init__(self, inner: torch.nn.Module) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
                return self.inner(input_ids=ids, attention_mask=mask).last_hidden_state

        sample = tok(["passage: a", "passage: b c"], return_tensors="pt", padding=True)
        axes = {k: {0: "b", 1: "s"} for k in ("ids", "mask", "states")}
        torch.onnx.export(
            Wrapped(model[0].auto_model.eval()),
            (sample["input_ids"], sample["attention_mask"]),
            str(fp32),
            input_names=["ids", "mask"],
            output_names=["states"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
        from onnxruntime.quantization import QuantType, quantize_dynamic

        int8 = folder / "model-int8.onnx"
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()

        def onnx_path(path: Path) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

            def run(items: list[str]) -> np.ndarray:
                order = sorted(range(len(items)), key=lambda i: len(items[i]))
                out = np.zeros((len(items), model.get_embedding_dimension()), np.float32)
                for s in range(0, len(order), 32):
                    idx = order[s : s + 32]
                    enc = tok(
                        [PROMPT + items[i] for i in idx],
                        return_tensors="np",
                        padding=True,
                        truncation=True,
                        max_length=512,
                    )
                    ids, mask = enc["input_ids"].astype(np.int64), enc["attention_mask"]
                    h = session.run(None, {"ids": ids, "mask": mask.astype(np.int64)})[0]
                    m = mask[..., None].astype(np.float32)
                    v = (h * m).sum(1) / m.sum(1)
                    out[idx] = v / np.linalg.norm(v, axis=1, keepdims=True)
                return out

            return lambda: (run(chunks), run(flat))

        candidates["onnx-fp32"] = onnx_path(fp32)
        candidates["onnx-int8"] = onnx_path(int8)
    except ImportError as exc:
        notes.append(f"ONNX candidates skipped: {exc} (pip install onnx)")

    rows = []
    for name, run in candidates.items():
        t0 = time.perf_counter()
        ref_c, ref_s = current()
        t_ref = time.perf_counter() - t0
        t0 = time.perf_counter()
        got_c, got_s = run()
        t_new = time.perf_counter() - t0
        cos_c, cos_s = (ref_c * got_c).sum(1), (ref_s * got_s).sum(1)
        log.info("%s: %.1fs vs %.1fs", name, t_new, t_ref)
        rows.append(
            f"| {name} | {texts / t_ref:.1f} | {texts / t_new:.1f} | {t_ref / t_new:.2f} | "
            f"{cos_c.min():.4f} | {cos_s.mean():.3f} / {cos_s.min():.3f} |"
        )
    lines = [
        "# Faster ingest: candidates (issue 15)",
        "",
        f"`scripts/ingest_candidates.py --contexts {args.contexts}`, {time.strftime('%Y-%m-%d')}: "
        f"{len(chunks)} NorQuAD contexts (first 180 words) and their {len(flat)} sentences, "
        "each candidate timed right after the current path on the same texts.",
        "",
        "| candidate | current texts/s | candidate texts/s | speed-up | chunk cos min | "
        "sentence cos mean / min |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        *notes,
    ]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(args.out)


if __name__ == "__main__":
    main()
