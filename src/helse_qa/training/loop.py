"""The training loop: fixed seed, fixed schedule, checkpoints, resume.

Each step reads ``questions_per_step`` question groups (the answer sentence, negatives from
its passage, SweQUAD distractor sentences first, and the nearest sentences of the most
similar other passages) plus the near-miss pairs made from them. The loss is chosen by the
recipe: ``listwise`` (softmax over a group, which alone gives no absolute probability, so a
pointwise term is always added for calibration), ``pointwise`` (binary cross-entropy only),
plus the answer-span loss on the positives.

The schedule (which questions each step reads) is fixed by the seed before training starts,
and dropout is seeded per step, so a run resumed from a checkpoint continues exactly as an
uninterrupted run would.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from helse_qa.models.reader import PASSAGE_PREFIX, build_network, pair_text
from helse_qa.training.data import Dataset, Group, NearestPassages, make_group, name_pool

log = logging.getLogger(__name__)

# The share of each source in a step's questions (Norwegian first: it is the corpus's
# language; the others teach cross-lingual reading and hard negatives).
MIXTURE = {"norquad": 0.4, "swequad": 0.15, "squad": 0.2, "xquad-cross": 0.25}


@dataclass(frozen=True)
class Recipe:
    name: str
    layers: int = 12
    loss: str = "listwise"  # listwise (+ pointwise term) | pointwise
    context: str = "prev"  # prev | none
    steps: int = 1200
    questions_per_step: int = 4
    group_size: int = 8
    max_length: int = 96
    lr: float = 4e-5
    head_lr: float = 1e-3
    warmup: int = 30
    seed: int = 20261203
    checkpoint_every: int = 50

    def key(self) -> str:
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:10]


CANDIDATES = {
    "ce12-list-ctx": Recipe("ce12-list-ctx"),
    "ce12-point-ctx": Recipe("ce12-point-ctx", loss="pointwise"),
    "ce6-list-ctx": Recipe("ce6-list-ctx", layers=6),
    "ce12-list-sent": Recipe("ce12-list-sent", context="none"),
}
CHOSEN = "ce12-list-ctx"


def schedule(train: Dataset, recipe: Recipe) -> list[int]:
    """Indices into ``train.answerable()``: ``steps * questions_per_step`` of them, drawn
    by source according to MIXTURE, each source shuffled once and cycled."""
    rng = random.Random(recipe.seed)
    questions = train.answerable()
    by_source: dict[str, list[int]] = {}
    for i, q in enumerate(questions):
        by_source.setdefault(q.source, []).append(i)
    for idx in by_source.values():
        rng.shuffle(idx)
    sources = [s for s in MIXTURE if s in by_source]
    weights = [MIXTURE[s] for s in sources]
    pos = dict.fromkeys(sources, 0)
    out = []
    for _ in range(recipe.steps * recipe.questions_per_step):
        s = rng.choices(sources, weights)[0]
        out.append(by_source[s][pos[s] % len(by_source[s])])
        pos[s] += 1
    return out


def encode(tokenizer: Any, pairs: Sequence[Any], context: str, max_length: int) -> Any:
    texts = [pair_text(p.question, p.sentence, context) for p in pairs]
    return tokenizer(
        [a for a, _ in texts],
        [b for _, b in texts],
        truncation="only_second",
        max_length=max_length,
        padding=True,
        return_tensors="pt",
        return_offsets_mapping=True,
    )


def span_targets(enc: Any, pairs: Sequence[Any]) -> list[tuple[int, int] | None]:
    """Token indices of each positive's answer phrase (None when cut off or not given)."""
    out: list[tuple[int, int] | None] = []
    prefix = len(PASSAGE_PREFIX)
    for i, p in enumerate(pairs):
        if p.label < 0.5 or p.answer is None:
            out.append(None)
            continue
        a, b = p.answer[0] + prefix, p.answer[1] + prefix
        seq = enc.sequence_ids(i)
        offs = enc["offset_mapping"][i].tolist()
        toks = [t for t, sid in enumerate(seq) if sid == 1 and offs[t][1] > a and offs[t][0] < b]
        out.append((toks[0], toks[-1]) if toks else None)
    return out


class Trainer:
    def __init__(
        self,
        recipe: Recipe,
        model_dir: Path,
        workdir: Path,
        train: Dataset,
        threads: int = 2,
    ) -> None:
        import torch
        from transformers import AutoTokenizer

        torch.set_num_threads(threads)
        torch.manual_seed(recipe.seed)
        self.recipe = recipe
        self.workdir = workdir
        self.train = train
        self.questions = train.answerable()
        self.order = schedule(train, recipe)
        self.nearest = NearestPassages(train.passages)
        self.names = name_pool(train)
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.net = build_network(model_dir, recipe.layers)
        self.net.train()
        head = [p for n, p in self.net.named_parameters() if n.startswith(("head.", "span."))]
        body = [
            p
            for n, p in self.net.named_parameters()
            if p.requires_grad and not n.startswith(("head.", "span."))
        ]
        self.optimizer = torch.optim.AdamW(
            [{"params": body, "lr": recipe.lr}, {"params": head, "lr": recipe.head_lr}],
            weight_decay=0.01,
        )
        self.base_lrs = [recipe.lr, recipe.head_lr]
        self.step = 0
        self.losses: list[float] = []
        self.seconds = 0.0

    # -- checkpoints --------------------------------------------------------------------
    @property
    def checkpoint(self) -> Path:
        return self.workdir / f"{self.recipe.name}-{self.recipe.key()}.pt"

    def save(self) -> None:
        import torch

        state = {
            "recipe": asdict(self.recipe),
            "step": self.step,
            "losses": self.losses,
            "seconds": self.seconds,
            "params": {
                n: p.detach().clone() for n, p in self.net.named_parameters() if p.requires_grad
            },
            "optimizer": self.optimizer.state_dict(),
        }
        self.workdir.mkdir(parents=True, exist_ok=True)
        tmp = self.checkpoint.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.checkpoint)

    def resume(self) -> bool:
        import torch

        if not self.checkpoint.is_file():
            return False
        try:
            state = torch.load(self.checkpoint, map_location="cpu", weights_only=False)
        except Exception as exc:  # a checkpoint cut off by a kill: start over
            log.warning("checkpoint %s unreadable (%s); starting from step 0", self.checkpoint, exc)
            return False
        params = dict(self.net.named_parameters())
        with torch.no_grad():
            for n, v in state["params"].items():
                params[n].copy_(v)
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        self.losses = list(state["losses"])
        self.seconds = float(state.get("seconds", 0.0))
        log.info("resumed %s at step %d", self.checkpoint.name, self.step)
        return True

    # -- one step -----------------------------------------------------------------------
    def groups(self, step: int) -> list[Group]:
        r = self.recipe
        rng = random.Random(f"{r.seed}:{step}")
        out = []
        for i in self.order[step * r.questions_per_step : (step + 1) * r.questions_per_step]:
            q = self.questions[i]
            names = self.names.get(self.train.passages[q.pid].language, [])
            g = make_group(q, self.train, self.nearest, rng, names, size=r.group_size)
            if g is not None:
                out.append(g)
        return out

    def lr_factor(self, step: int) -> float:
        r = self.recipe
        if step < r.warmup:
            return (step + 1) / r.warmup
        return max(0.0, (r.steps - step) / max(1, r.steps - r.warmup))

    def train_step(self) -> float:
        import torch
        import torch.nn.functional as F

        r = self.recipe
        groups = self.groups(self.step)
        pairs = [p for g in groups for p in g.pairs] + [p for g in groups for p in g.extra]
        enc = encode(self.tokenizer, pairs, r.context, r.max_length)
        torch.manual_seed(r.seed + self.step)
        logit, start, end = self.net(enc["input_ids"], enc["attention_mask"])
        labels = torch.tensor([p.label for p in pairs])
        loss = F.binary_cross_entropy_with_logits(logit, labels)
        if r.loss == "listwise":
            at, parts = 0, []
            for g in groups:
                n = len(g.pairs)
                parts.append(F.cross_entropy(logit[at : at + n].unsqueeze(0), torch.tensor([0])))
                at += n
            loss = loss + torch.stack(parts).mean()
        spans = span_targets(enc, pairs)
        span_terms = []
        for i, target in enumerate(spans):
            if target is None:
                continue
            allowed = torch.tensor([sid == 1 for sid in enc.sequence_ids(i)])
            s = start[i].masked_fill(~allowed, -1e4)
            e = end[i].masked_fill(~allowed, -1e4)
            span_terms.append(
                F.cross_entropy(s.unsqueeze(0), torch.tensor([target[0]]))
                + F.cross_entropy(e.unsqueeze(0), torch.tensor([target[1]]))
            )
        if span_terms:
            loss = loss + 0.25 * torch.stack(span_terms).mean()
        factor = self.lr_factor(self.step)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = base * factor
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in self.net.parameters() if p.requires_grad], 1.0)
        self.optimizer.step()
        self.step += 1
        return float(loss.detach())

    def run(self, on_checkpoint: Callable[[Trainer], None] | None = None) -> None:
        r = self.recipe
        self.resume()
        self.net.train()
        started = time.perf_counter()
        base_seconds = self.seconds
        while self.step < r.steps:
            self.losses.append(self.train_step())
            self.seconds = base_seconds + time.perf_counter() - started
            if self.step % 10 == 0:
                recent = self.losses[-10:]
                log.info(
                    "%s step %d/%d loss %.3f (%.1f s/step)",
                    r.name,
                    self.step,
                    r.steps,
                    sum(recent) / len(recent),
                    self.seconds / max(1, self.step),
                )
            if self.step % r.checkpoint_every == 0 or self.step == r.steps:
                self.save()
                if on_checkpoint is not None:
                    on_checkpoint(self)
        self.net.eval()
