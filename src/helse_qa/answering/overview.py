"""Overview answers (issue 26): when a question asks for one, and what it quotes.

- **When**: only a genuine request for a summary of a document, a chapter or the
  collection ("Summarise …", "Oppsummer …", "main findings"); "recommend" or "conclusion"
  only when no topic is named; a focused question is answered like any other
  (:func:`is_overview_question`, measured in ``eval/results/overview-intent.md``).
- **What**: the asked scope (the document the filter allows or the question names, the
  chapter it names by number or by a heading word, or every document, each its own
  titled block); self-contained sentences (one that leans on the sentence before it is
  quoted with that one) scored by centrality, relevance, figures and paragraph openings;
  the document's own labelled conclusion, then one point per section and page in turn,
  no near-duplicates, at most six, in reading order (:func:`overview`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from helse_qa.answering.scored import (
    ScoredSentence,
    overlaps,
    same_content,
    states_figure,
    with_antecedent,
)
from helse_qa.text.analysis import STOPWORDS, words
from helse_qa.text.listing import is_item_text, starts_paragraph, under_lead_in
from helse_qa.text.sentences import self_contained
from helse_qa.types import Hit

OVERVIEW_SENTENCES = 6
COLLECTION_SENTENCES = 3  # per document in an overview of the whole collection


# An overview is the answer only to a genuine request for a summary (issue 26): a summary
# word asks for one whatever follows ("Oppsummer artikkelen om sammenslåingen": the article
# is the scope); "recommend" or "conclusions" asks for one only when no topic is named
# ("What does the report recommend?"), never when one is ("... regarding public
# procurement?": that question is answered like any other). Measured on our own labelled
# questions: eval/results/overview-intent.md (how to rerun: docs/experiments/scripts.md).
_SUMMARY = re.compile(
    r"\b(summari[sz]e\w*|summary|sum up|overview|oppsummer\w*|sammendrag\w*|sammenfatt\w*|"
    r"oversikt\w*|main (findings|points|messages)|key (findings|points|messages)|"
    r"hovedfunn\w*|hovedpunkt\w*|hovedpoeng\w*|hovedbudskap\w*)\b",
    re.IGNORECASE,
)


# "…, kort oppsummert?" / "In summary, …": a summary word as an adverb asks for an
# overview only when no topic is named ("Kort oppsummert, hva sier rapporten?"), not in
# "Hvilket utfordringsbilde står norsk helseindustri overfor, kort oppsummert?".
_IN_SUMMARY = re.compile(
    r"\b(kort oppsummert|oppsummert|kort fortalt|i korte trekk|in summary|in short|in brief|"
    r"to sum up|summed up|briefly)\b",
    re.IGNORECASE,
)
_WHAT_IT_SAYS = re.compile(
    r"\b(anbefal\w*|recommend\w*|konklu\w*|conclu\w*|findings?|funn\w*)\b", re.IGNORECASE
)


# Words that name the request or its scope, not a topic of its own.
_SCOPE_WORDS = frozenset(
    """
    report reports rapport rapporten rapportens article artikkel artikkelen news nyhet
    nyhetsartikkel nyhetsartikkelen document documents dokument dokumentet dokumentene
    chapter kapittel kapitlet kapitel section del pre-project forprosjekt forprosjektet
    project prosjekt prosjektet study studien collection samlingen all alle main key hoved
    viktigste most important give gi me meg make makes made lag can could kan du you please
    tell fortell what hva which hvilke hvilken hvilket does do did gjør gjøre er is are was
    were the of i in og and bør should norge norway norsk norske norwegian say says sier
    handler about om
    """.split()
)
# ... and their compounds ("forprosjektrapporten", "nyhetsartikkelen").
_SCOPE_COMPOUND = re.compile(r"(rapport|artikkel|dokument|kapit+el)\w*$")


def focus_words(question: str) -> list[str]:
    """The words of a question that name a topic: not function words, not the request
    ("recommend", "oppsummer") and not its scope ("the report", "chapter 4")."""
    text = _WHAT_IT_SAYS.sub(" ", _SUMMARY.sub(" ", _IN_SUMMARY.sub(" ", question)))
    return [
        w
        for w in (re.sub(r"['’]s$", "", w) for w in words(text))
        if w not in STOPWORDS
        and w not in _SCOPE_WORDS
        and not _SCOPE_COMPOUND.search(w)
        and not w.isdigit()
        and len(w) > 1
    ]


_ARTICLE = re.compile(r"\b(article|artikkel\w*|news|nyhet\w*)\b", re.I)
_REPORT = re.compile(r"\b(report|rapport\w*|forprosjekt\w*|pre-project)\b", re.I)


# Question words -> the headings of the sections an overview should keep to.
_FOCUS = (
    (
        re.compile(r"\b(recommend\w*|anbefal\w*|should|bør|what should|hva bør)\b", re.I),
        re.compile(r"\b(bør|anbefal\w*|innspill|should|recommend\w*)\b", re.I),
    ),
    (
        re.compile(r"\b(findings?|funn\w*|hovedfunn\w*)\b", re.I),
        re.compile(r"\b(hovedfunn|funn|findings?)\b", re.I),
    ),
    (
        re.compile(r"\b(figures?|numbers?|facts?|tall|fakta|nøkkeltall)\b", re.I),
        re.compile(r"\b(fakta|facts?|figures?|tall)\b", re.I),
    ),
    (  # "what is the report about?": its introduction and the chapter about the report
        re.compile(r"\b(about\s*[?.!]|handler\b.{0,60}\bom\b|går\b.{0,60}\but på)", re.I),
        re.compile(r"\b(innledning|introduction|om rapporten|about)\b", re.I),
    ),
    (  # a conclusion may be a label over its paragraph ("Konklusjon:")
        re.compile(r"\b(konklu\w*|conclu\w*)\b", re.I),
        re.compile(r"\b(konklusjon\w*|conclusions?)\b", re.I),
    ),
)


def is_overview_question(question: str) -> bool:
    """A request for a summary of a document, a chapter or the collection (see _SUMMARY)."""
    if _SUMMARY.search(_IN_SUMMARY.sub(" ", question)):
        return True
    asks = _WHAT_IT_SAYS.search(question) or _IN_SUMMARY.search(question)
    return bool(asks) and not focus_words(question)


# "chapter 4", "kapittel 6", "section 4.2", "delkapittel 4.1": the overview keeps to it.
_CHAPTER_NUMBER = re.compile(
    r"\b(?:chapter|kapittel|kapitlet|kap\.?|section|delkapittel|del|avsnitt)\s+"
    r"(\d{1,2}(?:\.\d{1,2})?)\b",
    re.IGNORECASE,
)
_COLLECTION = re.compile(
    r"\b(all (the )?documents|the documents|the collection|dokumentene|alle dokument\w*|"
    r"samlingen)\b",
    re.IGNORECASE,
)


# A sentence that says what the informants were asked ("Informantene ble utfordret på
# hvilke grep Norge bør gjøre …") frames a chapter; it reports no finding. "Når aktørene
# blir spurt om …, svarer de at …" answers, and is kept (the asking is not its main clause).
_FRAMING = re.compile(
    r"^\w+ (ble|blir|er blitt|was|were|have been) (\w+ )?"
    r"(utfordret|spurt|bedt|asked|challenged)\b",
    re.IGNORECASE,
)


# "dette"/"this" as the subject of a verb inside a sentence ("Et bredt flertall mener dette
# nå er mulig") points back as much as a "Dette" that opens it: an overview, whose quotes
# stand alone, leaves such a sentence out (an answer quotes it with the one before it).
_POINTS_BACK = re.compile(
    r"\b(dette|this) (nå |now )?(er|var|har|kan|vil|blir|betyr|is|was|has|can|will|means)\b",
    re.IGNORECASE,
)


# Labels with which a document marks its own conclusion or summary.
_CONCLUDES = re.compile(
    r"^(konklusjon\w*|conclusions?|oppsummering|sammendrag|summary|in summary)\b", re.I
)


def _list_item(s: ScoredSentence) -> bool:
    """An item of a list (a paragraph of item text after its lead-in, maybe after other
    items): it means something only under its lead-in ("Avklare hvilke aktører som
    ønsker å delta …"). A headline after a photo caption is no item."""
    chunk = s.hit.chunk
    at = s.record.start - chunk.start
    return at > 0 and is_item_text(s.text) and under_lead_in(chunk.text, at)


def _opens_paragraph(s: ScoredSentence) -> bool:
    """A paragraph's first sentence (its topic sentence)."""
    return starts_paragraph(s.hit.chunk.text, s.record.start - s.hit.chunk.start)


def _label(s: ScoredSentence) -> str:
    """The label over the paragraph ``s`` opens ("Konklusjon:"), or ""."""
    chunk = s.hit.chunk
    at = s.record.start - chunk.start
    if not starts_paragraph(chunk.text, at):
        return ""
    before = chunk.text[:at].rstrip()
    line = before[before.rfind("\n\n") + 2 :] if "\n\n" in before else before
    return line if line.endswith(":") and len(line.split()) <= 3 else ""


# "hele rapporten", "the whole report": the scope is the document, whatever topic follows
# (often the report's own title: "... av hele rapporten om strategisk posisjonering").
_WHOLE = re.compile(r"\b(hele|whole|entire|full)\b", re.IGNORECASE)


def _same_stem(a: str, b: str) -> bool:
    """'posisjoneres' ~ 'posisjoneringsprosjektet', 'sterk' ~ 'sterke': the first seven
    letters agree (or all of a shorter word of at least five)."""
    n = min(7, len(a), len(b))
    return n >= 5 and a[:n] == b[:n]


def named_sections(question: str, sections: Sequence[tuple[str, ...]]) -> set[tuple[str, ...]]:
    """The sections whose headings name the question's topic ("hva rapporten sier om
    hvordan norsk helseindustri bør posisjoneres" -> "6 Innspill til posisjoneringsprosjektet"):
    each topic word counts by how few headings hold it (a word in most headings, like
    "helseindustri", tells none apart), and the best-matching sections win. Empty when
    the question names a chapter by number, asks for the whole document, or no heading
    holds a topic word."""
    if _CHAPTER_NUMBER.search(question) or _WHOLE.search(question):
        return set()
    topic = focus_words(question)
    headings = sorted({h for section in sections for h in section})
    if not topic or len(headings) < 2:
        return set()
    holds = {t: {h for h in headings if any(_same_stem(t, w) for w in words(h))} for t in topic}
    weight = {t: float(np.log(len(headings) / len(hs))) for t, hs in holds.items() if hs}
    if not weight:
        return set()
    score = {
        section: sum(w for t, w in weight.items() if holds[t] & set(section))
        for section in set(sections)
    }
    best = max(score.values())
    return {section for section, v in score.items() if v == best} if best > 0 else set()


def is_collection_request(question: str) -> bool:
    """'Summarise the documents': one short block per document."""
    return bool(_COLLECTION.search(question))


def in_scope(question: str, section: Sequence[str]) -> bool:
    """Whether a sentence under ``section`` belongs to the chapter the question names
    (every sentence does when it names none)."""
    numbers = _CHAPTER_NUMBER.findall(question)
    return not numbers or any(heading.split(" ", 1)[0] == n for n in numbers for heading in section)


def _unit(vector: np.ndarray) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float32)
    return v / (float(np.linalg.norm(v)) or 1.0)


def scored_scope(
    question: str,
    sentences: Sequence[ScoredSentence],
    vectors: dict[str, np.ndarray],
    query_vector: np.ndarray,
) -> tuple[list[ScoredSentence], np.ndarray, np.ndarray]:
    """The sentences an overview may quote, their scores and their unit vectors (rows).

    A sentence that leans on the one before it in its paragraph ("Resultatet er få
    kliniske studier …") is quoted from that one on (:func:`with_antecedent`) and read as
    the mean of both; one that leans on nothing it can be quoted with is left out."""
    candidates: list[tuple[ScoredSentence, np.ndarray]] = []
    for s in sentences:
        if s.record.sentence_id not in vectors:
            continue
        vector = _unit(vectors[s.record.sentence_id])
        if not self_contained(s.text):
            widened = with_antecedent(s)
            if (
                widened is s
                or not self_contained(widened.text)
                or widened.record.sentence_id not in vectors
            ):
                continue
            vector = (vector + _unit(vectors[widened.record.sentence_id])) / 2
            s = widened
        candidates.append((s, vector))
    pairs = [
        (s, v)
        for s, v in candidates
        if len(s.text.split()) >= 8
        and not s.text.rstrip().endswith(":")
        and not _FRAMING.match(s.text)
        and not _POINTS_BACK.search(s.text)
        and not _list_item(s)
        and not (is_item_text(s.text) and s.hit.chunk.ordinal > 0)  # a headline only first
        and in_scope(question, s.hit.chunk.section)
    ]
    if not pairs:
        return [], np.zeros(0), np.zeros((0, 0))
    focus = [h for pattern, h in _FOCUS if pattern.search(question)]
    focused = [
        (s, v)
        for s, v in pairs
        if any(f.search(" ".join([*s.hit.chunk.section, _label(s)])) for f in focus)
    ]
    pairs = focused or pairs
    named = named_sections(question, [s.hit.chunk.section for s, _ in pairs])
    pairs = [(s, v) for s, v in pairs if s.hit.chunk.section in named] or pairs
    scope = [s for s, _ in pairs]
    # rows are unit vectors, or the mean of two for a quote of two sentences (not
    # renormalised: its closeness to the rest is the mean of theirs, not the blend's)
    matrix = np.stack([v for _, v in pairs]).astype(np.float32)
    centrality = (matrix @ matrix.T).mean(axis=1)
    q = np.asarray(query_vector, dtype=np.float32)
    relevance = matrix @ (q / (np.linalg.norm(q) or 1.0))

    def z(values: np.ndarray) -> np.ndarray:
        return (values - values.mean()) / (values.std() or 1.0)

    score = z(centrality) + 0.5 * z(relevance)
    score += np.array([0.5 * states_figure(s.text) for s in scope])
    score += np.array([0.3 * _opens_paragraph(s) for s in scope])
    return scope, score, matrix


def overview(
    question: str,
    sentences: Sequence[ScoredSentence],
    vectors: dict[str, np.ndarray],
    query_vector: np.ndarray,
    most: int = OVERVIEW_SENTENCES,
) -> list[ScoredSentence]:
    """An extractive overview of one document, or of the chapter the question names.

    Every self-contained sentence of the scope is scored by salience (centrality: how
    close it is to the rest of the scope, LexRank style, over the e5 sentence vectors),
    relevance to the request (the question vector; the sections whose headings match a
    request for recommendations, findings, figures or what the document is about, or name
    the question's topic), a figure over a vague statement, and a paragraph's opening
    sentence (its topic sentence) (:func:`scored_scope`). Then coverage: the paragraph the
    document labels its conclusion, when the scope holds one; then the best sentence of
    each section (on each page) in turn, the best sections first, no near-duplicates, at
    most ``most``, quoted in reading order.

    ``vectors`` maps a sentence id to its vector.
    """
    scope, score, matrix = scored_scope(question, sentences, vectors, query_vector)
    if not scope:
        return []
    # a topic is a section on one page: a long chapter gets one point per page
    sections: dict[tuple[str, ...], list[tuple[float, int]]] = {}
    for i, s in enumerate(scope):
        key = (*s.hit.chunk.section, str(s.hit.chunk.page))
        sections.setdefault(key, []).append((float(score[i]), i))
    queues = sorted((sorted(v, reverse=True) for v in sections.values()), reverse=True)
    # the document's own conclusion (a paragraph it labels "Konklusjon:" / "Summary:") is
    # a point of any overview whose scope holds it: the author has marked it as the gist
    chosen = [i for i, s in enumerate(scope) if _CONCLUDES.search(_label(s))][:1]
    for queue in queues:
        queue[:] = [item for item in queue if item[1] not in chosen]

    def fits(i: int) -> bool:
        return not any(
            same_content(scope[i].text, scope[j].text)
            or overlaps(scope[i], scope[j])
            or float(matrix[i] @ matrix[j]) > 0.95
            for j in chosen
        )

    while len(chosen) < most and any(queues):
        for queue in queues:  # one per section per round, the best sections first
            while queue and len(chosen) < most:
                _, i = queue.pop(0)
                if fits(i):
                    chosen.append(i)
                    break
    return sorted((scope[i] for i in chosen), key=lambda s: (s.hit.chunk.doc_id, s.record.start))


def overview_document(
    question: str,
    hits: Sequence[Hit],
    doc_ids: Sequence[str] | None,
    kinds: dict[str, str],
) -> str:
    """The document an overview is about: the only one the filter allows, the one the
    question names by its kind (article / report, from the catalog), else the document
    of the best passage."""
    if doc_ids and len(doc_ids) == 1:
        return doc_ids[0]
    named = named_document(question, doc_ids, kinds)
    if named:
        return named
    allowed = [d for d in kinds if not doc_ids or d in doc_ids]
    return hits[0].chunk.doc_id if hits else (allowed[0] if allowed else "")


def named_document(question: str, doc_ids: Sequence[str] | None, kinds: dict[str, str]) -> str:
    """The one document the question names by its kind ("the article", "rapporten": the
    catalog's ``kind``), among those the filter allows; "" when it names none, or a kind
    that several documents share."""
    allowed = [d for d in kinds if not doc_ids or d in doc_ids]
    for pattern, kind in ((_ARTICLE, "article"), (_REPORT, "report")):
        if pattern.search(question):
            named = [d for d in allowed if kind in kinds[d].lower()]
            if len(named) == 1:
                return named[0]
    return ""
