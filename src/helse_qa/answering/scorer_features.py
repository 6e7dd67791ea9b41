"""Features for the learned answer-sentence scorer (numpy + stdlib only).

Self-contained on purpose, so it can be dropped into the package as
``helse_qa/answering/scorer_features.py``. It has no dependency on helse_qa, on a stemmer
or on corpus statistics: word weights (idf) are computed over the candidate set of one
question (the sentences of the retrieved passages), and Norwegian/German compounds and
inflections are matched by shared prefixes and substrings (see ``_word_match``).

Inputs per candidate, all available at answer time:

* ``question``  the question text (no prefix)
* ``sentence``  the candidate sentence, verbatim
* ``passage``   the text of the passage (chunk) the sentence comes from
* ``q_vec``     L2-normalised e5 vector of ``"query: " + question``
* ``s_vec``     L2-normalised e5 vector of ``"passage: " + sentence``
* ``p_vec``     L2-normalised e5 vector of ``"passage: " + embedding_text(chunk)``
* ``language``  the question's language ("nb", "en", "de", ...)
* ``passage_language`` (optional) the passage's language; detected when not given

Several features are relative to the candidate set (rank of a sentence's cosine in its
passage, distance to the best cosine in the set, idf over the set), so score all candidate
sentences of one question together with :func:`batch_features`; :func:`features` is the
single-candidate wrapper (a one-sentence candidate set).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from helse_qa.text.numbers import ANY_FIGURE, ANY_YEAR

FEATURES_VERSION = "scorer-features-1"
EMBED_DIM = 384  # e5-small

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+", re.UNICODE)
_CAP_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)

STOPWORDS = frozenset(
    """
    altså andre at av ble blir bør de den der dere det dette disse eller en er et ett
    etter for fra han har her hun hva hvem hvilke hvilken hvilket hvis hvor hvordan hvorfor i
    ikke jeg kan mange med mellom men mer mye må når og også om over på samt seg sin
    sine sitt skal som så til under var vi vil ble blitt være vært noe noen nå enn hele
    både da alle hadde ha får fikk kalles kalt heter het gjør gjorde mot opp ut inn
    about an and are as at be been by can could did do does for from had has have he her
    his how in into is it its not of on or our over she should than that the their them
    then there these they this those to under was we were what when where which who
    whose why will with would you a all also any may might must shall such whom
    name named called many much one type kind
    der die das den dem des ein eine einer eines einem einen und oder ist sind war waren
    wurde wurden wird werden hat haben hatte im in am an auf aus bei mit nach von vor zu
    zum zur für über unter durch als wie was wer wen wem wessen wo wann warum welche
    welcher welches welchen welchem viele viel nicht auch sich es er sie man
    el la los las un una unos unas y o es son fue fueron del al de en con por para que qué
    cuál cuáles quién quiénes cómo cuándo dónde cuánto cuántos cuántas se su sus lo le
    """.split()
)

# Question types (nb/en/de/es). "how many" is a quantity, not a "how".
_QTYPES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        (
            "when",
            r"\b(when|når|what (year|date|decade|century|month|day)|which (year|date|decade|"
            r"century|month)|hvilket (år|århundre|tiår)|hvilken (dato|måned|dag)|wann|in welchem "
            r"(jahr|jahrhundert|monat)|welche[sm]? (jahr|datum)|cuándo|en qué (año|siglo|fecha))\b",
        ),
        (
            "quantity",
            r"\b(how (many|much|long|large|big|old|far|tall|high|often|wide|deep|heavy)|hvor "
            r"(mange|mye|lang|lenge|stor|store|gammel|gamle|høy|høye|langt|ofte|bred)|wie (viele|"
            r"viel|lange?|groß|alt|hoch|weit|oft)|cuánt[oa]s?|what (percentage|proportion|share|"
            r"amount|number)|hvor stor (andel|del)|antall|number of|anzahl|percent|prosent|"
            r"andel|beløp|amount)\b",
        ),
        ("who", r"\b(who|whom|whose|hvem|wer|wen|wem|wessen|quién|quiénes)\b"),
        (
            "where",
            r"\b(where|wo|woher|wohin|dónde|hvor(?! (mange|mye|lang|lenge|stor|store|gammel|"
            r"gamle|høy|høye|langt|ofte|bred)\b)|hvilket (land|sted)|which (country|city|place))\b",
        ),
        ("why", r"\b(why|hvorfor|warum|weshalb|wieso|por qué)\b"),
        (
            "how",
            r"\b(how(?! (many|much|long|large|big|old|far|tall|high|often|wide|deep|heavy))|"
            r"hvordan|wie(?! (viele|viel|lange?|groß|alt|hoch|weit|oft)\b)|cómo)\b",
        ),
        (
            "what",
            r"\b(what|which|hva|hvilke|hvilken|hvilket|was|welche[rsmn]?|qué|cuál(es)?)\b",
        ),
        (
            "list",
            r"\b(list|nevn|name (the|all|some)|what are|which are|hvilke|welche sind|"
            r"what (types|kinds)|examples)\b",
        ),
    )
)
QTYPE_NAMES = tuple(name for name, _ in _QTYPES)

_MONTH = re.compile(
    r"\b(januar[y]?|februar[y]?|march|mars|märz|april|abril|may|mai|mayo|june?|juni|junio|"
    r"july|juli|julio|august|agosto|september|septiembre|o[ck]tober|octubre|november|"
    r"noviembre|de[cszk]ember|diciembre|enero|febrero|marzo)\b",
    re.IGNORECASE,
)
_CENTURY = re.compile(r"\b(century|århundre|jahrhundert|siglo|\d0s|\d0-tallet)\b", re.I)
_NUMBER_WORD = re.compile(
    r"\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|hundred|thousand|"
    r"million|billion|to|tre|fire|fem|seks|sju|syv|åtte|ni|ti|tolv|tjue|hundre|tusen|"
    r"millioner|milliarder|mrd|mill|zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|"
    r"hundert|tausend|millionen|milliarden|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|"
    r"diez|cien|mil|millones)\b",
    re.IGNORECASE,
)
_PERCENT = re.compile(r"%|\b(percent|per cent|prosent|prozent|por ciento)\b", re.I)

_NB_HINT = frozenset("og ikke det er som på av til med har for en et den av ble fra".split())
_EN_HINT = frozenset("the and of is was are to in that with for by as from".split())
_DE_HINT = frozenset("der die das und ist nicht mit von zu den dem des auf für".split())
_ES_HINT = frozenset("el la los las y es de que en por con para del una".split())


def tokens(text: str) -> list[str]:
    """Lower-cased word and number tokens ("23,6" stays one token)."""
    return _TOKEN.findall(text.lower())


def _norm_number(tok: str) -> str:
    return tok.replace(".", "").replace(",", "") if tok[:1].isdigit() else tok


def detect_language(text: str) -> str:
    """Cheap stop-word vote: 'nb', 'en', 'de' or 'es'."""
    low = text.lower()
    toks = tokens(low)
    votes = {
        "nb": sum(t in _NB_HINT for t in toks) + 2 * sum(ch in "æøå" for ch in low),
        "en": sum(t in _EN_HINT for t in toks),
        "de": sum(t in _DE_HINT for t in toks) + 2 * sum(ch in "äöüß" for ch in low),
        "es": sum(t in _ES_HINT for t in toks) + 2 * sum(ch in "ñ¿¡" for ch in low),
    }
    return max(votes, key=lambda k: (votes[k], k == "en"))


def _base_language(lang: str | None) -> str:
    lang = (lang or "").lower()
    return "nb" if lang.startswith(("nb", "nn", "no")) else lang[:2]


def content_words(question: str) -> list[str]:
    """The question's content words (stop words dropped), unique, in order."""
    words = [_norm_number(w) for w in tokens(question) if w not in STOPWORDS]
    words = [w for w in words if len(w) >= 2 or w.isdigit()]
    return list(dict.fromkeys(words))


@lru_cache(maxsize=1 << 20)
def _word_match(w: str, t: str) -> bool:
    """Light stemming for nb/en/de: inflections share a long prefix ("eksporten" ~
    "eksport", "svinger" ~ "svingkurver"); compounds contain the other word
    ("eksport"/"inntekt" in "eksportinntektene")."""
    if w == t:
        return True
    if w[:1].isdigit() or t[:1].isdigit():
        return False
    lw, lt = len(w), len(t)
    if lw < 4 or lt < 4:
        return False
    if w[:4] == t[:4]:
        short = min(lw, lt)
        cp = 4
        while cp < short and w[cp] == t[cp]:
            cp += 1
        if cp >= short - 3 or cp >= 6:
            return True
    if lw >= 5 and w in t:
        return True
    return lt >= 5 and t in w and t not in STOPWORDS


class _SentIndex:
    """A sentence's tokens, indexed for fast word matching."""

    __slots__ = ("by_prefix", "joined", "long_toks", "toks")

    def __init__(self, sentence: str) -> None:
        self.toks = frozenset(_norm_number(t) for t in tokens(sentence))
        self.joined = " " + " ".join(sorted(self.toks)) + " "
        self.by_prefix: dict[str, list[str]] = {}
        for t in self.toks:
            if len(t) >= 4 and not t[:1].isdigit():
                self.by_prefix.setdefault(t[:4], []).append(t)
        self.long_toks = [
            t for t in self.toks if len(t) >= 5 and t not in STOPWORDS and not t[:1].isdigit()
        ]

    def match(self, w: str) -> bool:
        # Same result as any(_word_match(w, t) for t in toks), faster.
        if w in self.toks:
            return True
        if w[:1].isdigit() or len(w) < 4:
            return False
        if len(w) >= 5 and w in self.joined:
            return True
        for t in self.by_prefix.get(w[:4], ()):
            if _word_match(w, t):
                return True
        return any(t in w for t in self.long_toks)


@lru_cache(maxsize=1 << 16)
def _sentence_index(sentence: str) -> _SentIndex:
    return _SentIndex(sentence)


@lru_cache(maxsize=1 << 16)
def _sentence_bigrams(sentence: str) -> frozenset[tuple[str, str]]:
    toks = [_norm_number(t) for t in tokens(sentence)]
    return frozenset(itertools.pairwise(toks))


def _match_set(words: Sequence[str], sentence: str) -> list[bool]:
    index = _sentence_index(sentence)
    return [index.match(w) for w in words]


def question_types(question: str) -> np.ndarray:
    return np.array([1.0 if p.search(question) else 0.0 for _, p in _QTYPES], dtype=np.float64)


@lru_cache(maxsize=1 << 16)
def _sentence_props(sentence: str) -> dict[str, float]:
    caps = _CAP_TOKEN.findall(sentence)
    # Capitalised words after the first word: names (German nouns too, alas).
    names = sum(1 for w in caps[1:] if w[:1].isupper())
    return {
        "year": 1.0 if ANY_YEAR.search(sentence) else 0.0,
        "date": 1.0
        if (ANY_YEAR.search(sentence) or _MONTH.search(sentence) or _CENTURY.search(sentence))
        else 0.0,
        "number": 1.0 if (ANY_FIGURE.search(sentence) or _NUMBER_WORD.search(sentence)) else 0.0,
        "name": 1.0 if names else 0.0,
        "percent": 1.0 if _PERCENT.search(sentence) else 0.0,
    }


SPROP_NAMES = ("year", "date", "number", "name", "percent")

_BASE_NAMES = [
    "cos_qs",
    "cos_qp",
    "cos_qs_rank_in_passage_inv",
    "cos_qs_minus_best_in_passage",
    "cos_qs_minus_best_in_set",
    "cos_qs_z_in_set",
    "cos_qp_minus_best_in_set",
    "passage_rank_inv",
    "lex_share",
    "lex_share_passage",
    "lex_share_set",
    "lex_share_minus_best_in_set",
    "lex_matched_count",
    "lex_missing_max_idf",
    "lex_missing_max_idf_passage",
    "lex_bigram_share",
    "q_n_content_words",
    "q_has_year",
    "q_year_in_sentence",
    "q_year_in_passage",
    "q_year_mismatch_passage",
    "s_log_words",
    "s_short_no_figure",
    "s_ends_colon",
    "s_position",
    "s_is_first",
    "cross_lingual",
    "xl_x_cos_qs",
    "xl_x_lex_share",
    "xl_x_cos_qp",
]
FEATURE_NAMES: tuple[str, ...] = tuple(
    _BASE_NAMES
    + [f"q_{t}" for t in QTYPE_NAMES]
    + [f"s_{p}" for p in SPROP_NAMES]
    + [f"q_{t}_x_s_{p}" for t in QTYPE_NAMES for p in SPROP_NAMES]
)
N_DENSE = len(FEATURE_NAMES)


def batch_features(
    question: str,
    candidates: Sequence[tuple[str, str, np.ndarray, np.ndarray]],
    q_vec: np.ndarray,
    language: str,
    passage_languages: Sequence[str | None] | None = None,
    with_product: bool = False,
) -> np.ndarray:
    """Feature matrix for all candidate sentences of one question.

    ``candidates``: ``(sentence, passage, s_vec, p_vec)`` per candidate, sentences of the
    same passage in reading order (position features use that order). Returns an array of
    shape ``(n, N_DENSE)``, or ``(n, N_DENSE + 384)`` with ``with_product`` (the
    element-wise product ``q_vec * s_vec`` appended).
    """
    n = len(candidates)
    width = N_DENSE + (len(q_vec) if with_product else 0)
    if n == 0:
        return np.zeros((0, width), dtype=np.float64)
    q = np.asarray(q_vec, dtype=np.float64).ravel()
    S = np.stack([np.asarray(c[2], dtype=np.float64).ravel() for c in candidates])
    P = np.stack([np.asarray(c[3], dtype=np.float64).ravel() for c in candidates])
    cos_s = S @ q
    cos_p = P @ q
    sentences = [c[0] for c in candidates]
    passages = [c[1] for c in candidates]
    q_lang = _base_language(language)

    # Group candidates by passage (same text = same passage).
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(passages):
        groups.setdefault(p, []).append(i)
    rank_in_p = np.zeros(n)
    best_in_p = np.zeros(n)
    position = np.zeros(n)
    is_first = np.zeros(n)
    for idx in groups.values():
        cs = cos_s[idx]
        order = np.argsort(-cs, kind="stable")
        ranks = np.empty(len(idx))
        ranks[order] = np.arange(len(idx))
        for j, i in enumerate(idx):
            rank_in_p[i] = ranks[j]
            best_in_p[i] = cs.max()
            position[i] = j / max(1, len(idx) - 1)
            is_first[i] = 1.0 if j == 0 else 0.0
    passage_cos = {p: float(cos_p[idx[0]]) for p, idx in groups.items()}
    p_order = sorted(passage_cos, key=lambda p: -passage_cos[p])
    p_rank = {p: r for r, p in enumerate(p_order)}
    best_p = max(passage_cos.values())

    # Lexical: idf over the candidate set's distinct sentences.
    words = content_words(question)
    uniq_sent = list(dict.fromkeys(sentences))
    s_match = {s: _match_set(words, s) for s in uniq_sent}
    n_docs = len(uniq_sent)
    df = np.zeros(len(words))
    for s in uniq_sent:
        df += np.array(s_match[s], dtype=np.float64)
    idf = np.log(1.0 + (n_docs + 1) / (df + 0.5)) if words else np.zeros(0)
    total_idf = float(idf.sum())
    max_idf = math.log(1.0 + (n_docs + 1) / 0.5)
    p_match: dict[str, np.ndarray] = {}
    for p, idx in groups.items():
        m = np.zeros(len(words), dtype=bool)
        for i in idx:
            m |= np.array(s_match[sentences[i]], dtype=bool)
        p_match[p] = m
    set_match = np.zeros(len(words), dtype=bool)
    for m in p_match.values():
        set_match |= m
    lex_set = float(idf[set_match].sum() / total_idf) if total_idf else 0.0

    q_toks = [_norm_number(t) for t in tokens(question)]
    bigrams = [
        (a, b) for a, b in itertools.pairwise(q_toks) if not (a in STOPWORDS and b in STOPWORDS)
    ]
    q_years = set(ANY_YEAR.findall(question))
    qt = question_types(question)

    out = np.zeros((n, width), dtype=np.float64)
    lex = np.zeros(n)
    for i, sent in enumerate(sentences):
        m = np.array(s_match[sent], dtype=bool)
        lex[i] = float(idf[m].sum() / total_idf) if total_idf else 0.0
    for i, (sent, pas) in enumerate(zip(sentences, passages, strict=True)):
        m = np.array(s_match[sent], dtype=bool)
        pm = p_match[pas]
        s_bigrams = _sentence_bigrams(sent)
        bigram_share = sum(1 for b in bigrams if b in s_bigrams) / len(bigrams) if bigrams else 0.0
        p_lang = (
            _base_language(passage_languages[i])
            if passage_languages is not None and passage_languages[i]
            else None
        ) or detect_language(pas)
        xl = 1.0 if (q_lang and p_lang != q_lang) else 0.0
        n_words = len(sent.split())
        props = _sentence_props(sent)
        sp = np.array([props[k] for k in SPROP_NAMES])
        has_fig = bool(ANY_FIGURE.search(sent))
        base = [
            cos_s[i],
            cos_p[i],
            1.0 / (1.0 + rank_in_p[i]),
            cos_s[i] - best_in_p[i],
            cos_s[i] - cos_s.max(),
            (cos_s[i] - cos_s.mean()) / (cos_s.std() + 1e-3),
            cos_p[i] - best_p,
            1.0 / (1.0 + p_rank[pas]),
            lex[i],
            float(idf[pm].sum() / total_idf) if total_idf else 0.0,
            lex_set,
            lex[i] - lex.max(),
            float(m.sum()),
            float(idf[~m].max() / max_idf) if (~m).any() else 0.0,
            float(idf[~pm].max() / max_idf) if (~pm).any() else 0.0,
            bigram_share,
            float(len(words)),
            1.0 if q_years else 0.0,
            1.0 if q_years and all(y in sent for y in q_years) else 0.0,
            1.0 if q_years and all(y in pas for y in q_years) else 0.0,
            1.0 if q_years and not all(y in pas for y in q_years) else 0.0,
            math.log1p(n_words),
            1.0 if (n_words < 4 and not has_fig) else 0.0,
            1.0 if sent.rstrip().endswith(":") else 0.0,
            position[i],
            is_first[i],
            xl,
            xl * cos_s[i],
            xl * lex[i],
            xl * cos_p[i],
        ]
        row = np.concatenate([np.array(base), qt, sp, np.outer(qt, sp).ravel()])
        out[i, :N_DENSE] = row
        if with_product:
            out[i, N_DENSE:] = q * S[i]
    return out


def features(
    question: str,
    sentence: str,
    passage: str,
    q_vec: np.ndarray,
    s_vec: np.ndarray,
    p_vec: np.ndarray,
    language: str,
    passage_language: str | None = None,
    with_product: bool = False,
) -> np.ndarray:
    """Features of one candidate scored alone (a one-sentence candidate set); prefer
    :func:`batch_features` over all candidates of a question."""
    return batch_features(
        question,
        [(sentence, passage, s_vec, p_vec)],
        q_vec,
        language,
        [passage_language],
        with_product=with_product,
    )[0]
