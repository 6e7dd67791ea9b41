"""Choosing what to quote with the reader (``answer_scorer = "reader"``).

passages -> candidate sentences -> a cheap pre-filter (the heuristic's best few) -> the
reader's P(answers the question) for each -> abstain, a near miss, a fact or a list:

- **abstain** when the best P is below the reader's threshold (calibrated on held-out
  external data to answer 90% of answerable questions);
- **a near miss by year** ("The documents give the figure for 2017, not 2022") only when
  the asked year is in none of the retrieved passages *and* the reader says a sentence
  answers the question with the year taken out; otherwise the assistant abstains;
- **a second sentence** only when the reader says it answers too (P above the threshold and
  close to the best) and it adds words the first does not have;
- **lists**: a chosen lead-in ending in ':' brings its item lines (as before).

No question-pattern rule (how many, which countries, names, nationalities) is applied:
the reader reads question and sentence together.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from helse_qa.answering.extractive import NEAR_MISS
from helse_qa.answering.list_answers import list_selection, with_items
from helse_qa.answering.scored import ScoredSentence, Selection, same_content
from helse_qa.messages import say
from helse_qa.models.reader import Reader
from helse_qa.text.analysis import STOPWORDS, words
from helse_qa.text.listing import is_list_question
from helse_qa.text.numbers import YEAR, YEAR_DIGITS
from helse_qa.types import Hit, SentenceInContext

# "i 2019", "in 2019", "for 2019", "(2019)": the year and the word that ties it in.
_YEAR_PHRASE = re.compile(
    r"\s*\b(?:i|in|for|fra|from|år|year|during|under|per)?\s*\(?" + YEAR_DIGITS + r"\)?",
    re.IGNORECASE,
)
SECOND_SHARE = 0.8  # a second quote needs at least this share of the best one's P
NEW_WORDS = 3  # ... and this many content words the quotes before it do not have


def in_context(s: ScoredSentence, by_chunk: dict[str, list[ScoredSentence]]) -> SentenceInContext:
    """The sentence as the reader was trained to see it: the heading of its passage (or
    the document title) and the sentence before it in the passage."""
    chunk = s.hit.chunk
    heading = chunk.section[-1] if chunk.section else chunk.title
    previous = ""
    for other in by_chunk.get(chunk.chunk_id, []):
        if other.record.end <= s.record.start:
            previous = other.text
    return SentenceInContext(s.text, previous, heading)


def read(
    question: str,
    prefiltered: Sequence[ScoredSentence],
    every: Sequence[ScoredSentence],
    reader: Reader,
) -> list[ScoredSentence]:
    """The pre-filtered sentences with the reader's P as their probability, best first.
    ``every`` holds all sentences of the passages (for the sentence before each)."""
    by_chunk: dict[str, list[ScoredSentence]] = {}
    for s in sorted(every, key=lambda s: s.record.start):
        by_chunk.setdefault(s.record.chunk_id, []).append(s)
    scores = reader.score(question, [in_context(s, by_chunk) for s in prefiltered])
    out = [
        replace(s, probability=r.p_answer, span=r.span if r.span_p >= _span_floor(reader) else None)
        for s, r in zip(prefiltered, scores, strict=True)
    ]
    out.sort(key=lambda s: (-s.probability, s.rank, s.record.start))
    return out


def _span_floor(reader: Reader) -> float:
    return float(getattr(reader, "span_threshold", 1.0))


def without_years(question: str) -> str:
    """The question with its years (and the word that ties each in) taken out."""
    return re.sub(r"\s+([?.!,])", r"\1", " ".join(_YEAR_PHRASE.sub(" ", question).split()))


def choose(
    question: str,
    scored: Sequence[ScoredSentence],
    threshold: float,
    language: str,
    reader: Reader,
    every: Sequence[ScoredSentence],
    most: int = 2,
    following: Sequence[Hit] = (),
) -> Selection:
    """Decide what to quote from reader-scored sentences (best first)."""
    if not scored:
        return Selection(kind="abstain")
    asked = list(dict.fromkeys(YEAR.findall(question)))
    passages = {s.hit.chunk.chunk_id: s.hit.chunk.text for s in scored}
    if asked and not any(y in text for text in passages.values() for y in asked):
        return _near_miss(question, asked, scored, threshold, language, reader, every)
    best = scored[0]
    if best.probability < threshold:
        return Selection(kind="abstain")
    leads = [best]
    if is_list_question(question):
        leads += [s for s in scored[1:3] if s.probability >= threshold]
    as_list = list_selection(leads, following, language)
    if as_list is not None:
        return as_list
    chosen = [best]
    floor = max(threshold, SECOND_SHARE * best.probability)
    for s in scored[1:]:
        if len(chosen) >= most:
            break
        if s.probability >= floor and adds_fact(s.text, [c.text for c in chosen]):
            chosen.append(s)
    return Selection(with_items(chosen, following), "fact")


def adds_fact(text: str, before: Sequence[str]) -> bool:
    """Not a near-duplicate of a quote before it, and with content words of its own."""
    if any(same_content(text, b) for b in before):
        return False
    seen = {w for b in before for w in words(b)}
    new = {w for w in words(text) if w not in STOPWORDS and w not in seen and len(w) > 2}
    return len(new) >= NEW_WORDS


def _near_miss(
    question: str,
    asked: list[str],
    scored: Sequence[ScoredSentence],
    threshold: float,
    language: str,
    reader: Reader,
    every: Sequence[ScoredSentence],
) -> Selection:
    """The asked year is in no retrieved passage: say what the documents give instead, but
    only when the reader says that sentence answers the question with the year taken out
    and the sentence names another year."""
    rescored = read(without_years(question), scored, every, reader)
    for s in rescored:
        if s.probability < threshold:
            break
        found = [y for y in dict.fromkeys(YEAR.findall(s.text)) if y not in asked]
        if found:
            line = say(NEAR_MISS, language).format(found=" / ".join(found), asked=" / ".join(asked))
            return Selection([s], "near_miss", line)
    return Selection(kind="abstain")
