"""What a reader of the chat takes away from one answer: right, wrong, hedged or declined.

- ``right``: given as the answer, and it holds what was asked: a fact question's first
  quote holds an answer fact (the first thing a user reads and pastes); a list holds at
  least half its items; an overview covers at least half its points.
- ``wrong``: given as the answer without that, or any answer given to a question the
  documents do not answer. A wrong answer with a real citation looks checked: it is the
  outcome the gate keeps down (``wrong_rate``).
- ``hedged``: shown as "not sure" with the closest passages (``Answer.kind == "unsure"``).
- ``declined``: no answer (an abstention, or a near miss that says what the documents do
  not give).

The rates over a set: ``right_rate``, ``wrong_rate``, ``hedged_rate``, ``declined_rate``
(they add up to 1), and ``given_precision``, the share of answers given as answers that are
right.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

OUTCOMES = ("right", "wrong", "hedged", "declined")
RATES = (*(f"{o}_rate" for o in OUTCOMES), "given_precision")
HEDGED_KINDS = frozenset({"unsure"})
SHARE_NEEDED = 0.5  # a list's items, an overview's points


def classify(
    *,
    answerable: bool,
    question_type: str,
    kind: str,
    abstained: bool,
    first_quote: str | None,
    answer_text: str,
    found: Callable[[str], Sequence[bool]],
) -> str:
    """The outcome of one answer. ``found(text)`` says, per answer fact of the question,
    whether ``text`` holds it."""
    if kind in HEDGED_KINDS:
        return "hedged"
    if abstained:
        return "declined"
    if not answerable:
        return "wrong"
    if question_type in ("list", "overview"):
        flags = list(found(answer_text))
        share = sum(flags) / len(flags) if flags else 0.0
        return "right" if share >= SHARE_NEEDED else "wrong"
    if first_quote is None:
        return "wrong"
    return "right" if any(found(first_quote)) else "wrong"


def rates(outcomes: Sequence[str]) -> dict[str, float]:
    """The share of each outcome, and the precision of the answers given as answers."""
    unknown = set(outcomes) - set(OUTCOMES)
    if unknown:
        raise ValueError(f"unknown outcome(s) {sorted(unknown)} - expected one of {OUTCOMES}")
    n = len(outcomes)
    out = {f"{o}_rate": (outcomes.count(o) / n if n else math.nan) for o in OUTCOMES}
    given = outcomes.count("right") + outcomes.count("wrong")
    out["given_precision"] = outcomes.count("right") / given if given else math.nan
    return out
