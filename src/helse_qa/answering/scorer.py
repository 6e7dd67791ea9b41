"""The learned answer-sentence scorer: P(this sentence answers the question), numpy only.

Trained by ``scripts/train_answer_model.py`` on NorQuAD and XQuAD only (never on the gold
set); the weights ship beside this module (``answer_model.npz``, about 14 KB).

    scorer = AnswerScorer("answer_model.npz")
    probs = scorer.score(question, [(sentence, passage, s_vec, p_vec), ...], q_vec, "nb")
    best = int(probs.argmax()); answer = probs[best] >= scorer.threshold

Vectors: q_vec = e5 "query: " + question; s_vec = "passage: " + sentence; p_vec =
"passage: " + embedding_text(chunk) (title/section line, newline, chunk text); all
L2-normalised (the vectors helse-qa already stores). Pass all sentences of all retrieved
chunks of one question in one call (sentences of a chunk in reading order): several
features are relative to that candidate set.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from helse_qa.answering import scorer_features as F
from helse_qa.errors import ConfigError

DEFAULT_MODEL = Path(__file__).with_name("answer_model.npz")


class AnswerScorer:
    def __init__(self, path: str | Path = DEFAULT_MODEL) -> None:
        if not Path(path).is_file():
            raise ConfigError(
                f"answer model {path} not found - unset answer_model (HELSE_QA_ANSWER_MODEL) "
                "to use the shipped one, or write it with scripts/train_answer_model.py"
            )
        with np.load(path, allow_pickle=False) as z:
            self.version = str(z["version"])
            self.features_version = str(z["features_version"])
            self.model_type = str(z["model_type"])
            self.with_product = bool(z["with_product"])
            self.feature_names = [str(n) for n in z["feature_names"]]
            self.mean = z["mean"].astype(np.float64)
            self.std = z["std"].astype(np.float64)
            self.threshold = float(z["threshold"])
            self._p = {
                k: z[k].astype(np.float64) for k in ("w", "b", "W1", "b1", "w2", "b2") if k in z
            }
        if self.features_version != F.FEATURES_VERSION:
            raise ValueError(
                f"answer model wants features {self.features_version}, code has "
                f"{F.FEATURES_VERSION} - retrain with scripts/train_answer_model.py"
            )
        expected = list(F.FEATURE_NAMES) + (
            [f"q_x_s_{j}" for j in range(F.EMBED_DIM)] if self.with_product else []
        )
        if self.feature_names != expected:
            raise ValueError("answer model feature names do not match scorer_features")

    def _forward(self, X: np.ndarray) -> np.ndarray:
        Z = (X - self.mean) / self.std
        if self.model_type == "logreg":
            z = Z @ self._p["w"] + float(self._p["b"])
        else:
            H = np.tanh(Z @ self._p["W1"] + self._p["b1"])
            z = H @ self._p["w2"] + float(self._p["b2"].ravel()[0])
        return 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))

    def score(
        self,
        question: str,
        candidates: Sequence[tuple[str, str, np.ndarray, np.ndarray]],
        q_vec: np.ndarray,
        language: str,
        passage_languages: Sequence[str | None] | None = None,
    ) -> np.ndarray:
        """P(sentence answers the question) for each ``(sentence, passage, s_vec, p_vec)``."""
        if not candidates:
            return np.zeros(0)
        X = F.batch_features(
            question, candidates, q_vec, language, passage_languages, with_product=self.with_product
        )
        return self._forward(X)

    def should_answer(self, probabilities: np.ndarray) -> bool:
        """False means abstain: even the best candidate is below the trained threshold."""
        return bool(len(probabilities)) and float(np.max(probabilities)) >= self.threshold
