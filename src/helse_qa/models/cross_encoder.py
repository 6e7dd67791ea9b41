"""The cross-encoder answer scorer: e5-small reading (question, sentence) as one pair.

Trained by ``scripts/train_cross_encoder.py`` on NorQuAD and XQuAD only: the first layers
are e5-small's own (frozen in training), the last layers and a linear head on the
mean-pooled output ship beside the answering package (``cross_model.npz``, float16, about
7 MB). It reads the e5-small directory helse-qa already prepares, so it needs no download.

    scorer = CrossEncoder(model_dir)
    probs = scorer.score("Når trer sammenslåingen i kraft?", ["...", "..."])

Torch and transformers are imported on first use only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from helse_qa import offline
from helse_qa.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_WEIGHTS = Path(__file__).parent.parent / "answering" / "cross_model.npz"
_BATCH = 32


class CrossEncoder:
    """P(sentence answers question) for a batch of sentences of one question."""

    def __init__(self, model_dir: str | Path, weights: str | Path = DEFAULT_WEIGHTS) -> None:
        if not Path(weights).is_file():
            raise ConfigError(
                f"cross-encoder weights {weights} not found - write them with "
                "scripts/train_cross_encoder.py, or use answer_scorer='heuristic'"
            )
        offline.apply()
        import torch
        from transformers import AutoModel, AutoTokenizer

        self._torch = torch
        with np.load(weights, allow_pickle=False) as z:
            self.version = str(z["version"])
            self.threshold = float(z["threshold"])
            self.max_length = int(z["max_length"])
            first = int(z["first_trained_layer"])
            arrays = {k: z[k] for k in z.files}
        try:
            self._tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
            model = AutoModel.from_pretrained(
                str(model_dir), attn_implementation="eager", local_files_only=True
            )
        except OSError as exc:
            raise ConfigError(
                f"cannot load the e5-small model from {model_dir} for the cross-encoder ({exc}) "
                "- run `helse-qa models --prepare`"
            ) from exc
        layers = model.encoder.layer
        for j, i in enumerate(range(first, len(layers))):
            state = {
                name[len(f"layer{j}.") :]: torch.from_numpy(arrays[name].astype(np.float32))
                for name in arrays
                if name.startswith(f"layer{j}.")
            }
            layers[i].load_state_dict(state)
        head = torch.nn.Linear(model.config.hidden_size, 1)
        head.load_state_dict(
            {
                "weight": torch.from_numpy(arrays["head.weight"]),
                "bias": torch.from_numpy(arrays["head.bias"]),
            }
        )
        self._model: Any = model.eval()
        self._head: Any = head.eval()
        # torch modules are not documented as safe for concurrent forward passes
        self._lock = threading.Lock()

    def _logits(self, enc: Any) -> Any:
        torch = self._torch
        mask = enc["attention_mask"]
        h = self._model(input_ids=enc["input_ids"], attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1)
        return torch.sigmoid(self._head(pooled).squeeze(-1))

    def score(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        if not sentences:
            return np.zeros(0)
        out = np.zeros(len(sentences))
        order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
        with self._lock, self._torch.inference_mode():
            for start in range(0, len(order), _BATCH):
                idx = order[start : start + _BATCH]
                enc = self._tok(
                    ["query: " + question] * len(idx),
                    ["passage: " + sentences[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                out[idx] = self._logits(enc).numpy()
        return out
