"""Validate a gold file (default eval/gold.jsonl) against the gold-set rules (stdlib only).

    python -m helse_qa.evaluation.check_gold [--gold eval/answers.jsonl] [--no-minimums]

Checks, per line:

* valid JSON object with exactly the keys id, question, answerable, evidence, answer_facts
  (and optionally history and type), with the right types; ids unique;
* type, when present, is one of fact | list | overview | near_miss | follow_up | off_topic,
  and agrees with the item (follow_up <=> history; near_miss/off_topic only for
  unanswerable items; fact/list/overview only for answerable ones);
* history (follow-ups): a non-empty list of {"role", "content"} turns, user first,
  alternating, ending with an assistant turn;
* answerable items have 1-3 evidence snippets and 1-3 answer facts; unanswerable items
  have neither;
* every evidence snippet (whitespace collapsed) occurs verbatim in the whitespace-collapsed
  raw text of a document in documents/, at a place that does not cross a line-end
  hyphenation ("helse-\\nindustriens"), stays inside one sentence (heuristic) and is
  3-12 words long;
* every answer fact (or at least one alternative of a list entry) occurs case-insensitively
  in the collapsed raw text of a document without crossing a line-end hyphenation.

Optionally (--chunks index/gen-*/chunks.jsonl) every snippet must also sit inside a single
indexed passage, and every fact inside a passage's text.

Prints counts and exits 1 on any violation, including a count below the set's minimums.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from helse_qa.evaluation.args import module_parser, path_arg

REQUIRED_KEYS = {"id", "question", "answerable", "evidence", "answer_facts"}
OPTIONAL_KEYS = {"history", "type"}
ITEM_TYPES = ("fact", "list", "overview", "near_miss", "follow_up", "off_topic")
MIN_WORDS, MAX_WORDS = 3, 12
MAX_EVIDENCE, MAX_FACTS = 3, 3

MINIMUMS = {
    "total": 90,
    "unanswerable": 18,
    "follow-ups": 10,
    "English about a Norwegian document": 25,
    "Norwegian about an English document": 6,
    "cross-document": 4,
}

_WS = re.compile(r"\s+")
_LINE_END_HYPHEN = re.compile(r"-[ \t]*\r?\n")
# Sentence end inside a snippet: ". B", "! B", "? B" (an abbreviation like "ca. 30",
# "osv.) har" or "Spes. underleverandører" is not followed by a capital letter).
_SENTENCE_BREAK = re.compile(r"[.!?][»”\"')]?\s+[A-ZÆØÅ«“\"]")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")

_WORD = re.compile(r"[a-zæøåé]+")
_NB_STOP = (
    "og i er det som på for med til av at en et den de ikke har var vil kan om fra hva "
    "hvem hvor hvordan hvorfor hvilke hvilken hvilket når ble blir også skal må bør seg "
    "sin sitt sine eller men så der her dette disse mer mye mange andre etter mellom "
    "norsk norske norge jeg vi hun han ett hvis samt altså kom nevnes ifølge hvilket "
    "stor store andel"
)
_EN_STOP = (
    "the and of to in is are was were be been it that this these those for with on as by "
    "at from or an not what who where when why how which whose do does did has have had "
    "will would can could should about into than then there their they its our we you he "
    "she his her them after over under between other any much many according"
)
_NB_WORDS = frozenset(_NB_STOP.split())
_EN_WORDS = frozenset(_EN_STOP.split())


def question_language(text: str) -> str:
    """'nb' or 'en': Norwegian letters are strong evidence, otherwise stop words decide."""
    lowered = text.lower()
    words = _WORD.findall(lowered)
    nb = sum(w in _NB_WORDS for w in words) + 2 * sum(ch in "æøå" for ch in lowered)
    en = sum(w in _EN_WORDS for w in words)
    return "nb" if nb > en else "en"


def collapse(text: str) -> str:
    return _WS.sub(" ", text).strip()


@dataclass
class Doc:
    """A document's raw text, collapsed, with a map back to raw offsets."""

    name: str
    doc_id: str
    language: str
    raw: str
    flat: str = ""
    flat_lower: str = ""
    to_raw: list[int] = field(default_factory=list)
    hyphen_breaks: set[int] = field(default_factory=set)  # flat offsets of "-" before "\n"
    joined_lower: str = ""  # lower-cased, collapsed, with line-end hyphenations re-joined

    def __post_init__(self) -> None:
        out: list[str] = []
        to_raw: list[int] = []
        i, n = 0, len(self.raw)
        while i < n and self.raw[i].isspace():
            i += 1
        while i < n:
            if self.raw[i].isspace():
                j = i
                while j < n and self.raw[j].isspace():
                    j += 1
                if j < n:  # drop trailing whitespace
                    out.append(" ")
                    to_raw.append(i)
                i = j
            else:
                out.append(self.raw[i])
                to_raw.append(i)
                i += 1
        self.flat = "".join(out)
        self.flat_lower = self.flat.lower()
        self.to_raw = to_raw
        if len(self.flat_lower) != len(self.flat):
            raise SystemExit(f"{self.name}: lower-casing changes the text length")
        raw_breaks = {m.start() for m in _LINE_END_HYPHEN.finditer(self.raw)}
        self.hyphen_breaks = {k for k, r in enumerate(to_raw) if r in raw_breaks}
        self.joined_lower = collapse(re.sub(r"-[ \t]*\r?\n[ \t]*", "", self.raw)).lower()

    def occurrences(self, needle: str, ignore_case: bool) -> list[int]:
        hay = self.flat_lower if ignore_case else self.flat
        if ignore_case:
            needle = needle.lower()
        starts, k = [], hay.find(needle)
        while k != -1:
            starts.append(k)
            k = hay.find(needle, k + 1)
        return starts

    def crosses_hyphenation(self, start: int, length: int) -> bool:
        return any(start <= h < start + length for h in self.hyphen_breaks)

    def raw_span(self, start: int, length: int) -> str:
        return self.raw[self.to_raw[start] : self.to_raw[start + length - 1] + 1]


def load_documents(folder: Path) -> list[Doc]:
    catalog: dict[str, dict[str, object]] = {}
    cat_path = folder / "catalog.toml"
    if cat_path.is_file():
        data = tomllib.loads(cat_path.read_text(encoding="utf-8"))
        catalog = {str(d["file"]): d for d in data.get("document", [])}
    docs = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in (".txt", ".md") or path.name.lower() == "readme.md":
            continue
        raw = path.read_text(encoding="utf-8-sig")
        entry = catalog.get(path.name, {})
        language = str(entry.get("language") or question_language(raw[:5000]))
        docs.append(Doc(path.name, str(entry.get("id", path.stem)), language, raw))
    if not docs:
        raise SystemExit(f"no documents found in {folder}")
    return docs


def load_chunks(path: Path) -> list[str]:
    texts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            texts.append(collapse(json.loads(line)["text"]))
    return texts


class Checker:
    def __init__(self, docs: list[Doc], chunks: list[str] | None) -> None:
        self.docs = docs
        self.chunks = chunks
        self.chunks_lower = [c.lower() for c in chunks] if chunks is not None else None
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def error(self, where: str, msg: str) -> None:
        self.errors.append(f"{where}: {msg}")

    def warn(self, where: str, msg: str) -> None:
        self.warnings.append(f"{where}: {msg}")

    def _not_found(self, where: str, what: str, text: str, hyphen_only: bool, nowhere: str) -> None:
        """Why ``text`` (the ``what``: evidence or an answer fact) is in no document: only
        across a line-end hyphenation, joining a hyphenated word, or ``nowhere``."""
        if hyphen_only:
            self.error(where, f"{what} spans a line-end hyphenation: {text!r}")
        elif any(text.lower() in d.joined_lower for d in self.docs):
            self.error(where, f"{what} joins a word hyphenated across a line end: {text!r}")
        else:
            self.error(where, f"{what} {nowhere}: {text!r}")

    def check_snippet(self, where: str, snippet: str) -> set[str]:
        """Validate one evidence snippet; return the ids of the documents it is found in."""
        s = collapse(snippet)
        found: set[str] = set()
        if not s:
            self.error(where, "empty evidence snippet")
            return found
        words = len(s.split())
        if not MIN_WORDS <= words <= MAX_WORDS:
            self.error(where, f"evidence has {words} words (want {MIN_WORDS}-{MAX_WORDS}): {s!r}")
        if _SENTENCE_BREAK.search(s):
            self.error(where, f"evidence spans a sentence boundary: {s!r}")
        hyphen_only = False
        for doc in self.docs:
            starts = doc.occurrences(s, ignore_case=False)
            clean = [k for k in starts if not doc.crosses_hyphenation(k, len(s))]
            if clean:
                found.add(doc.doc_id)
                if all(_BLANK_LINE.search(doc.raw_span(k, len(s))) for k in clean):
                    self.warn(where, f"evidence crosses a blank line in {doc.name}: {s!r}")
            elif starts:
                hyphen_only = True
        if not found:
            self._not_found(where, "evidence", s, hyphen_only, "not found verbatim in any document")
        elif self.chunks is not None and not any(s in c for c in self.chunks):
            self.error(where, f"evidence is not inside any single indexed passage: {s!r}")
        return found

    def fact_docs(self, where: str, fact: str) -> set[str]:
        """Documents holding the fact cleanly (case-insensitive); errors if none."""
        f = collapse(fact)
        found: set[str] = set()
        if not f:
            self.error(where, "empty answer fact")
            return found
        hyphen_only = False
        for doc in self.docs:
            starts = doc.occurrences(f, ignore_case=True)
            if any(not doc.crosses_hyphenation(k, len(f)) for k in starts):
                found.add(doc.doc_id)
            elif starts:
                hyphen_only = True
        if not found:
            self._not_found(where, "answer fact", f, hyphen_only, "not found in any document")
        elif self.chunks_lower is not None and not any(f.lower() in c for c in self.chunks_lower):
            self.error(where, f"answer fact is not inside any indexed passage: {f!r}")
        return found


def check_history(chk: Checker, where: str, history: object) -> None:
    if not isinstance(history, list) or not history:
        chk.error(where, "history must be a non-empty list of turns")
        return
    for t, turn in enumerate(history):
        w = f"{where} history[{t}]"
        if not isinstance(turn, dict) or set(turn) != {"role", "content"}:
            chk.error(w, "a turn must be exactly {'role': ..., 'content': ...}")
            continue
        want = "user" if t % 2 == 0 else "assistant"
        if turn["role"] != want:
            chk.error(w, f"role should be {want!r} (turns alternate, user first)")
        if not isinstance(turn["content"], str) or not turn["content"].strip():
            chk.error(w, "content must be a non-empty string")
    if isinstance(history[-1], dict) and history[-1].get("role") != "assistant":
        chk.error(where, "history must end with an assistant turn")


def main(argv: list[str] | None = None) -> int:
    ap = module_parser("check_gold", __doc__)
    path_arg(ap, "--gold", "eval/gold.jsonl", "default %(default)s")
    path_arg(ap, "--documents", "documents", "default documents/")
    path_arg(
        ap,
        "--chunks",
        None,
        "optional chunks.jsonl of an index: snippets must also sit inside one passage",
    )
    ap.add_argument(
        "--no-minimums",
        action="store_true",
        help="do not enforce the minimum counts (those of this project's eval/gold.jsonl)",
    )
    args = ap.parse_args(argv)

    docs = load_documents(args.documents)
    doc_lang = {d.doc_id: d.language for d in docs}
    chunks = load_chunks(args.chunks) if args.chunks else None
    chk = Checker(docs, chunks)

    counts: Counter[str] = Counter()
    per_doc: Counter[str] = Counter()
    ids: set[str] = set()
    questions: Counter[tuple[str, str]] = Counter()

    if not args.gold.is_file():
        print(f"gold file not found: {args.gold}", file=sys.stderr)
        return 1
    for n, line in enumerate(args.gold.read_text(encoding="utf-8").splitlines(), start=1):
        where = f"line {n}"
        if not line.strip():
            chk.error(where, "blank line")
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            chk.error(where, f"invalid JSON ({exc})")
            continue
        if not isinstance(item, dict):
            chk.error(where, "not a JSON object")
            continue
        keys = set(item)
        if missing := REQUIRED_KEYS - keys:
            chk.error(where, f"missing keys {sorted(missing)}")
        if extra := keys - REQUIRED_KEYS - OPTIONAL_KEYS:
            chk.error(where, f"unknown keys {sorted(extra)}")
        if missing:
            continue
        item_id, question = item["id"], item["question"]
        where = f"line {n} ({item_id})"
        if not isinstance(item_id, str) or not item_id.strip():
            chk.error(where, "id must be a non-empty string")
        elif item_id in ids:
            chk.error(where, "duplicate id")
        ids.add(str(item_id))
        if not isinstance(question, str) or not question.strip():
            chk.error(where, "question must be a non-empty string")
            continue
        answerable = item["answerable"]
        evidence = item["evidence"]
        facts = item["answer_facts"]
        if not isinstance(answerable, bool):
            chk.error(where, "answerable must be true or false")
            continue
        if not isinstance(evidence, list) or not all(isinstance(e, str) for e in evidence):
            chk.error(where, "evidence must be a list of strings")
            continue
        if not isinstance(facts, list) or not all(
            isinstance(f, str) or (isinstance(f, list) and f and all(isinstance(x, str) for x in f))
            for f in facts
        ):
            chk.error(where, "answer_facts must be a list of strings or non-empty string lists")
            continue
        follow_up = "history" in item
        if "type" in item:
            kind = item["type"]
            if kind not in ITEM_TYPES:
                chk.error(where, f"type must be one of {'|'.join(ITEM_TYPES)}, not {kind!r}")
            else:
                counts[f"type {kind}"] += 1
                if (kind == "follow_up") != follow_up:
                    chk.error(where, "type follow_up is for (and required of) items with history")
                if kind in ("near_miss", "off_topic") and answerable:
                    chk.error(where, f"type {kind} is for unanswerable items")
                if kind in ("fact", "list", "overview") and not answerable:
                    chk.error(where, f"type {kind} is for answerable items")
        if follow_up:
            check_history(chk, where, item["history"])
        history_key = json.dumps(item.get("history", []), ensure_ascii=False)
        questions[(collapse(question).lower(), history_key)] += 1
        if questions[(collapse(question).lower(), history_key)] == 2:
            chk.warn(where, f"question asked twice: {question!r}")

        lang = question_language(question)
        counts["total"] += 1
        counts[f"language {lang}"] += 1
        counts["follow-ups"] += follow_up

        if not answerable:
            counts["unanswerable"] += 1
            if evidence or facts:
                chk.error(where, "unanswerable items must have empty evidence and answer_facts")
            continue
        counts["answerable"] += 1
        if not 1 <= len(evidence) <= MAX_EVIDENCE:
            chk.error(where, f"answerable items need 1-{MAX_EVIDENCE} evidence snippets")
        if not 1 <= len(facts) <= MAX_FACTS:
            chk.error(where, f"answerable items need 1-{MAX_FACTS} answer facts")
        ev_docs: set[str] = set()
        for e, snippet in enumerate(evidence):
            ev_docs |= chk.check_snippet(f"{where} evidence[{e}]", snippet)
        for f, fact in enumerate(facts):
            options = [fact] if isinstance(fact, str) else fact
            w = f"{where} answer_facts[{f}]"
            held = [chk.fact_docs(w, o) for o in options]
            if not any(held):
                continue
            if ev_docs and not any(h & ev_docs for h in held):
                chk.error(w, "fact occurs only in documents none of the evidence comes from")

        for d in ev_docs:
            per_doc[d] += 1
        if len(ev_docs) >= 2:
            counts["cross-document"] += 1
        elif len(ev_docs) == 1:
            doc_language = doc_lang[next(iter(ev_docs))]
            if lang == "en" and doc_language == "nb":
                counts["English about a Norwegian document"] += 1
            if lang == "nb" and doc_language == "en":
                counts["Norwegian about an English document"] += 1

    if not args.no_minimums:
        for name, least in MINIMUMS.items():
            if counts[name] < least:
                chk.errors.append(f"count '{name}' is {counts[name]}, below the minimum {least}")

    print(f"gold file: {args.gold}")
    order = [
        "total",
        "language nb",
        "language en",
        "answerable",
        "unanswerable",
        "follow-ups",
        "English about a Norwegian document",
        "Norwegian about an English document",
        "cross-document",
    ]
    width = max(len(k) for k in order)
    for key in order:
        minimum = MINIMUMS.get(key)
        note = f"  (minimum {minimum})" if minimum else ""
        print(f"  {key:<{width}}  {counts[key]:>4}{note}")
    for kind in ITEM_TYPES:
        if counts[f"type {kind}"]:
            print(f"  {'type ' + kind:<{width}}  {counts['type ' + kind]:>4}")
    for doc in docs:
        print(f"  answerable items with evidence in {doc.doc_id}: {per_doc[doc.doc_id]}")
    for warning in chk.warnings:
        print(f"WARNING {warning}")
    for error in chk.errors:
        print(f"ERROR {error}")
    if chk.errors:
        print(f"FAILED: {len(chk.errors)} violation(s)")
        return 1
    print("OK: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
