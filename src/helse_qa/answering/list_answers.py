"""List answers: a lead-in quoted with its items, a chart with its figures, a label with
its paragraphs (issue 26), and the list questions that read a lead-in with its items
(:func:`promote_list`) or name a label or a chart (:func:`promote_named`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from helse_qa.answering.heuristic import (
    all_named,
    asks_growth,
    caption_weight,
    chart_named,
    names_label,
    rows_named,
)
from helse_qa.answering.scored import (
    ScoredSentence,
    Selection,
    antecedent,
    figure_lines,
    label_paragraphs,
    leads_list,
    row_caption_of,
)
from helse_qa.messages import say
from helse_qa.text.analysis import Analyzer
from helse_qa.text.listing import (
    announced,
    asks_breakdown,
    is_item_text,
    is_list_question,
    item_run,
    items_after,
    line_spans,
    prose_run,
)
from helse_qa.text.numbers import FIGURE, YEAR
from helse_qa.types import Hit, SentenceRecord

_LIST_ITEMS = 8  # item paragraphs always quoted after a lead-in ...
_LIST_WORDS = 120  # ... and more while the items stay within this many words (a table of
# twelve short names is quoted whole; eight long item paragraphs are enough)
_ITEM_WORDS = 14  # an item line is short ...
# A list answer says how many items there are when its lead-in announces a number, and
# which part it quotes when the list is longer than it shows.
LIST_COUNT = {"nb": "{n} punkter:", "en": "{n} items:"}
LIST_FIRST = {"nb": "De første {shown} av {n} punktene:", "en": "The first {shown} of {n} items:"}


def promote_named(
    question: str, scored: Sequence[ScoredSentence], analyzer: Analyzer, look: int = 10
) -> list[ScoredSentence]:
    """A question that names a point of a report by its label ("Hva foreslår rapporten
    under punktet om endrede incentivordninger?") is answered by the label with its
    paragraphs; one that asks how a chart's figure divides by the chart; one that asks for
    one figure of a chart ("What share of the exports came from pharmaceuticals?") by that
    row, shown with its caption (:func:`_chart_answer`). The first such label, chart or
    row among the ``look`` best sentences goes first."""
    if not scored:
        return list(scored)
    concepts = analyzer.query_concepts(question)
    for s in scored[:look]:
        lead: ScoredSentence | None = None
        if label_paragraphs(s):
            lead = s if all_named(s.text, concepts, analyzer) else None
        elif (figures := figure_lines(s)) and chart_named(
            s.text, s.hit.chunk.text, figures, concepts, analyzer
        ):
            lead = _chart_answer(question, s, scored, concepts, analyzer)
        if lead is not None:
            first = replace(lead, probability=max(lead.probability, scored[0].probability))
            return [first, *(t for t in scored if t is not lead)]
    return list(scored)


def _chart_answer(
    question: str,
    caption: ScoredSentence,
    best: Sequence[ScoredSentence],
    concepts: Sequence[frozenset[str]],
    analyzer: Analyzer,
) -> ScoredSentence | None:
    """What answers a question that names a chart (its ``caption``) and a label of it: the
    whole chart when it asks how the figure divides or names several rows; the one row it
    names ("Legemidler: 34%"), quoted on its own and shown with its caption (issue 37); or
    nothing when the chart does not answer it: a change asked of a chart of levels, another
    year's chart, or a figure a prose sentence scored above the caption gives already ("Ser man på
    helseindustrien isolert, omsatte den for 57 milliarder kroner i 2017" for the
    industry's turnover, not the sector chart's "Helseindustri: 57 mrd")."""
    if asks_breakdown(question):
        return caption
    if asks_growth(question) and not asks_growth(caption.text):
        return None
    asked, shown = set(YEAR.findall(question)), set(YEAR.findall(caption.text))
    if asked and shown and not asked & shown:
        return None  # the near-miss rules say which year the documents give
    chunk = caption.hit.chunk
    rows = rows_named(chunk.text, figure_lines(caption), concepts, analyzer)
    if len(rows) != 1:
        return caption
    row = chunk.text[slice(*rows[0])]
    for s in best[: best.index(caption)]:  # the sentences scored above the caption
        prose = not (figure_lines(s) or row_caption_of(s) or is_item_line(s.text))
        if not prose or not FIGURE.search(s.text):
            continue
        # (a thing named in brackets is an example, not what the figure is of: "Hele 54
        # prosent av bedriftene i helseindustrien (legemidler, medtech osv.) …")
        if names_label(row, analyzer.query_concepts(re.sub(r"\([^)]*\)", " ", s.text)), analyzer):
            return None
    start, end = (chunk.start + a for a in rows[0])
    for s in best:
        if s.record.chunk_id == chunk.chunk_id and (s.record.start, s.record.end) == (start, end):
            return s
    return None


def promote_list(
    question: str,
    scored: Sequence[ScoredSentence],
    vectors: dict[str, np.ndarray],
    query_vector: np.ndarray,
    embed: Callable[[list[str]], np.ndarray],
    analyzer: Analyzer,
    look: int = 10,
) -> list[ScoredSentence]:
    """A list question reads a lead-in with its items: a lead-in among the ``look`` best
    sentences whose text with its items is closer to the question (e5) than the best
    sentence alone goes first ("Intervjuguiden hadde fokus på følgende hovedtema:" with
    its seven topics, for "Which topics were the actors asked about?"). Of the charts a
    breakdown question could read, the one whose caption names most of its words comes
    first ("How is the 2017 turnover split up …?": "Helseindustrien – omsettning 2017",
    not the exports chart the scorer put higher)."""
    if not scored or not is_list_question(question) or scored[0].record.sentence_id not in vectors:
        return list(scored)
    q = np.asarray(query_vector, dtype=np.float32)
    leads = []
    breakdown = asks_breakdown(question)
    for s in scored[:look]:
        chunk = s.hit.chunk
        figures = figure_lines(s) if breakdown else []
        if figures:
            items = "\n".join(chunk.text[a:b] for a, b in figures)
        else:
            items = items_after(chunk.text, s.record.end - chunk.start)
        if items and (figures or s.text.rstrip().endswith(":")):
            leads.append((s, f"{s.text}\n{items}"))
    if not leads:
        return list(scored)
    best = _closeness(scored[0], vectors, q)
    # a lead-in is as close as its own words ("Følgende aktører intervjuet:" for "Who
    # were interviewed?") or its words with its items (the topics for "Which topics …?")
    closeness = np.maximum(
        embed([text for _, text in leads]) @ q,
        [float(vectors.get(s.record.sentence_id, q * 0) @ q) for s, _ in leads],
    )
    # the closest test is a gate; among the lead-ins that pass it the scorer's order holds
    closer = [i for i, c in enumerate(closeness) if float(c) > best]
    charts = [i for i, (s, _) in enumerate(leads) if figure_lines(s)]
    if breakdown and charts:
        # how a figure divides is a chart's to say: the one whose caption the question
        # names most strongly (caption_weight), those past the gate first, then the
        # scorer's order; a prose sentence ranked above it gives a total, not the parts
        concepts = analyzer.query_concepts(question)
        charts.sort(key=lambda j: j not in closer)
        named = [caption_weight(leads[j][0].text, concepts, analyzer) for j in charts]
        # ... and a chart whose caption it does not name is no answer (the exports chart
        # for "How is the R&D spending split between public and private money?")
        if max(named) > 0:
            closer = [charts[named.index(max(named))]]
        else:
            closer = [j for j in closer if j not in charts]
    if not closer:
        return list(scored)
    i = closer[0]
    lead = replace(leads[i][0], probability=max(leads[i][0].probability, scored[0].probability))
    return [lead, *(s for s in scored if s is not leads[i][0])]


def _closeness(s: ScoredSentence, vectors: dict[str, np.ndarray], q: np.ndarray) -> float:
    """How close a sentence is to the question (e5), read as it is quoted: a sentence that
    leans on the one before it ("Dette har vi vist i næringer som olje og gass …") is as
    close as that one, when it is the closer (:func:`with_antecedent`)."""
    close = float(vectors[s.record.sentence_id] @ q)
    start = antecedent(s)
    before = None if start is None else vectors.get(f"{s.record.chunk_id}@{start}")
    return close if before is None else max(close, float(before @ q))


def with_items(
    chosen: Sequence[ScoredSentence], following: Sequence[Hit] = ()
) -> list[ScoredSentence]:
    """A quoted lead-in ("… har to store fordeler:") never stands without its items."""
    out: list[ScoredSentence] = []
    for s in chosen:
        if s is not chosen[0] and label_paragraphs(s):
            continue  # a label ("Flere kliniske studier og mer produksjon") as a runner-up:
            # alone a heading, with its paragraphs padding
        items = list_items(s, following) if leads_list(s) else []
        if items or len(s.text.split()) >= 4 or s is chosen[0]:
            out += [s, *capped(items)]
    return out


def list_selection(
    leads: Sequence[ScoredSentence], following: Sequence[Hit] = (), language: str = "en"
) -> Selection | None:
    """The first lead-in among ``leads`` that ends in ':' and has item lines, quoted with
    its items (as many as :func:`capped` keeps); None when none has. The answer says how many items
    there are when the lead-in announces a number ("to store fordeler") or when not all
    of them are quoted."""
    for lead in leads:
        if leads_list(lead):
            items = list_items(lead, following)
            wanted = announced(lead.text)
            if items and wanted not in (None, len(items)):
                continue  # "to store fordeler" and six lines: not its items
            if items:
                shown = capped(items)
                if len(shown) < len(items):
                    line = say(LIST_FIRST, language).format(shown=len(shown), n=len(items))
                elif wanted is not None:
                    line = say(LIST_COUNT, language).format(n=len(items))
                else:
                    line = ""
                return Selection([lead, *shown], "list", line)
    return None


def capped(items: Sequence[ScoredSentence], at_least: int = _LIST_ITEMS) -> list[ScoredSentence]:
    """The items a list answer quotes: the first ``at_least``, and after them more while
    all quoted items together stay within ``_LIST_WORDS`` words."""
    shown: list[ScoredSentence] = []
    n_words = 0
    for item in items:
        n_words += len(item.text.split())
        if len(shown) >= at_least and n_words > _LIST_WORDS:
            break
        shown.append(item)
    return shown


def is_item_line(text: str) -> bool:
    """An item line (the best sentence may be one item of a list)."""
    return is_item_text(text, _ITEM_WORDS)


def list_items(lead: ScoredSentence, following: Sequence[Hit] = ()) -> list[ScoredSentence]:
    """The items of a lead-in, as the parser left them (a list the PDF text detached is
    put back at parse time, :mod:`helse_qa.ingest.lists`): the item paragraphs right after
    it, or the short item lines of the one paragraph right after it, continued at the
    start of the document's next passage when the list runs past the end of this one.
    Never a block further away: a lead-in whose items are not there gets none."""
    hit = lead.hit
    figures = figure_lines(lead)
    if figures:  # a chart's caption: the figure lines of its one paragraph
        return [_item(hit, lead.rank, *span) for span in figures]
    nxt = next(
        (
            h
            for h in following
            if h.chunk.doc_id == hit.chunk.doc_id and h.chunk.ordinal == hit.chunk.ordinal + 1
        ),
        None,
    )
    paragraphs = label_paragraphs(lead)
    if paragraphs:  # a label: its paragraphs (on into the next passage), within the cap
        found = [(hit, span) for span in paragraphs]
        if nxt is not None and paragraphs[-1][1] == len(hit.chunk.text.rstrip()):
            more, _ = prose_run(nxt.chunk.text, 0, nxt.chunk.section)
            found += [(nxt, span) for span in more]
        return capped([_item(where, lead.rank, *span) for where, span in found], at_least=1)
    rest = hit.chunk.text[lead.record.end - hit.chunk.start :]
    if rest.strip() and not rest.startswith("\n\n"):
        return []  # the lead-in does not end its paragraph
    items: list[ScoredSentence] = []
    for candidate, after in ((hit, lead.record.end), (nxt, nxt.chunk.start if nxt else 0)):
        if candidate is None:
            break
        chunk = candidate.chunk
        # a heading of the passage ends the list
        spans, stopper = item_run(chunk.text, after - chunk.start, chunk.section)
        items += [_item(candidate, lead.rank, *span) for span in spans]
        if stopper is not None:
            if not items:  # one paragraph of short item lines ("Legemidler: 26 mrd")
                items = [_item(candidate, lead.rank, *s) for s in line_spans(chunk.text, *stopper)]
            break
    if len(items) == 1:  # one paragraph of short lines, then the passage ends
        only, chunk = items[0], items[0].hit.chunk
        spans = line_spans(
            chunk.text, only.record.start - chunk.start, only.record.end - chunk.start
        )
        items = [_item(only.hit, lead.rank, *span) for span in spans]
    return items if len(items) >= 2 else []


def _item(hit: Hit, rank: int, start: int, end: int) -> ScoredSentence:
    """An item at ``start:end`` of its passage's text, as a quotable sentence."""
    chunk = hit.chunk
    record = SentenceRecord(chunk.chunk_id, chunk.doc_id, chunk.start + start, chunk.start + end)
    return ScoredSentence(record, record.text_in(chunk), hit, rank, 0.0)
