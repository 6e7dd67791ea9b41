"""The citation check of LLM answers (answering/verify.py), function by function, on small
real passages: fast and exact, so that one-line mutations of the checks fail a test
(`make mutation` runs these against every mutant of verify.py)."""

from __future__ import annotations

import numpy as np
import pytest

from helse_qa.answering.verify import (
    best_quote,
    check_sentence,
    split_claims,
    strip_invalid_markers,
)
from helse_qa.config import Settings
from helse_qa.text.analysis import Analyzer
from helse_qa.text.sentences import sentence_spans
from helse_qa.types import Chunk, Hit

EXPORT = (
    "Eksportinntektene for helseindustrien var 23,6 milliarder kroner i 2017. "
    "Veksten kom fra legemidler og medisinsk utstyr."
)
CLUSTER = (
    "Norway Health Tech and Oslo Cancer Cluster merge on 1 January 2025. "
    "The merged cluster will have about 370 members."
)


def _hit(text: str, n: int, offset: int = 0) -> Hit:
    chunk = Chunk(f"d:{n}", "d", "Rapport", "nb", text, offset, offset + len(text), 1, (), n)
    return Hit(chunk, 1.0)


HITS = [_hit(EXPORT, 0), _hit(CLUSTER, 1, 500)]
SETTINGS = Settings()


def _check(sentence: str, vector=None, passage_vectors=None):
    return check_sentence(sentence, HITS, Analyzer(), vector, passage_vectors or {}, SETTINGS)


@pytest.mark.parametrize(
    ("text", "n", "cleaned", "removed"),
    [
        ("Svaret [1][3].", 2, "Svaret [1].", [3]),
        ("Svaret [2].", 2, "Svaret [2].", []),  # the last passage is a valid marker
        ("Svaret [0] er klart.", 2, "Svaret er klart.", [0]),
        ("Svaret [1, 4; 2].", 2, "Svaret [1][2].", [4]),
        ("Svaret  [5] .", 2, "Svaret.", [5]),
    ],
)
def test_markers_that_point_to_no_passage_are_removed(text, n, cleaned, removed):
    assert strip_invalid_markers(text, n) == (cleaned, removed)


def test_markers_after_the_full_stop_join_their_sentence():
    claims = split_claims("Eksporten var 23,6 milliarder. [1] Klyngen får 370 medlemmer. [2]")
    assert claims == ["Eksporten var 23,6 milliarder. [1]", "Klyngen får 370 medlemmer. [2]"]
    assert split_claims("Bare en setning [1].") == ["Bare en setning [1]."]
    assert split_claims("") == []


def test_a_sentence_without_a_marker_is_unsupported():
    check = _check("Eksportinntektene var 23,6 milliarder kroner i 2017.")
    assert (check.supported, check.reason, check.markers) == (False, "no citation", ())


def test_a_sentence_is_supported_by_the_passage_it_cites():
    check = _check("Eksportinntektene for helseindustrien var 23,6 milliarder kroner i 2017 [1].")
    assert check.supported and check.reason == "supported by [1]"
    assert check.lexical >= SETTINGS.support_lexical
    wrong = _check("Eksportinntektene for helseindustrien var 23,6 milliarder kroner i 2017 [2].")
    assert not wrong.supported


def test_a_number_the_passage_does_not_give_makes_it_unsupported():
    check = _check("Eksportinntektene for helseindustrien var 24,1 milliarder kroner i 2017 [1].")
    assert not check.supported and check.reason == "number 24,1 not in passage [1]"
    two = _check("Eksportinntektene for helseindustrien var 24,1 milliarder kroner i 2019 [1].")
    assert two.reason == "numbers 2019, 24,1 not in passage [1]"


def test_any_cited_passage_can_support_and_a_wrong_number_is_reported_first():
    both = _check("The merged cluster will have about 370 members [1][2].")
    assert both.supported and both.reason == "supported by [2]"
    assert both.markers == (1, 2)
    wrong = _check("The merged cluster will have about 390 members [2][1].")
    assert not wrong.supported and wrong.reason == "number 390 not in passage [2]"


def test_too_little_overlap_is_unsupported_unless_the_embedding_is_close():
    claim = "Aktørene ønsker bedre rammevilkår for kliniske studier [1]."
    check = _check(claim)
    assert not check.supported and check.reason == "not supported by the cited passages"
    assert check.lexical < SETTINGS.support_lexical and check.cosine == 0.0
    v = np.array([1.0, 0.0])
    close = {"d:0": np.array([SETTINGS.support_cosine, 0.0])}
    near = _check(claim, v, close)
    assert near.supported and near.cosine == pytest.approx(SETTINGS.support_cosine)
    far = {"d:0": np.array([SETTINGS.support_cosine - 0.01, 0.0])}
    assert not _check(claim, v, far).supported


def test_the_unsupported_verdict_names_the_closest_passage():
    claim = "Veksten i klyngen kom fra roboter, satellitter, drivstoff og romfart"
    one, two = _check(claim + " [1]."), _check(claim + " [2].")
    assert not one.supported and not two.supported and one.lexical > two.lexical
    for markers in ("[2][1]", "[1][2]"):
        check = _check(f"{claim} {markers}.")
        assert not check.supported
        assert check.lexical == one.lexical


def test_the_quote_is_the_passage_sentence_closest_to_the_claim():
    hit = HITS[1]
    spans = list(sentence_spans(hit.chunk.text, hit.chunk.start))
    assert len(spans) == 2
    second = best_quote("It will have 370 members [2].", hit, spans, Analyzer())
    assert second == spans[1]
    first = best_quote("The clusters merge in January [2].", hit, spans, Analyzer())
    assert first == spans[0]
    # nothing shared: the first sentence, not a later one
    assert best_quote("Helt annet tema [2].", hit, spans, Analyzer()) == spans[0]
    # no spans given: the passage's own sentences, in document offsets
    assert best_quote("It will have 370 members [2].", hit, [], Analyzer()) == spans[1]
    start, end = spans[1]
    assert CLUSTER[start - 500 : end - 500].startswith("The merged cluster")
