"""The stream guard stops a language model's answer that loops, echoes its prompt, cites
nothing, runs on or runs late, and keeps the text before the problem (issue 16)."""

from __future__ import annotations

import threading
import time

import pytest

from helse_qa.answering.guard import (
    DEADLINE,
    ECHO,
    NO_CITATIONS,
    REPETITION,
    TOO_LONG,
    StreamGuard,
    guarded,
)

LOOP = (
    'Answer: Lena Nymo Helli is the CEO [1]. <passages> <passage id="1"> Question: Who is '
    "the CEO of Norway Health Tech? [/INST] Answer: Lena Nymo Helli"
)


def _feed(guard: StreamGuard, text: str) -> str | None:
    for word in text.split(" "):
        if guard.feed(word + " "):
            break
    return guard.stopped


def test_a_good_cited_answer_streams_to_the_end():
    guard = StreamGuard()
    text = (
        "The export revenues were 23,6 milliarder kroner in 2017 [1]. The cluster will have "
        "370 members [2]. Both figures come from the 2018 report [1]."
    )
    assert _feed(guard, text) is None
    assert guard.kept == text


def test_the_prompt_echoed_back_stops_at_the_marker():
    guard = StreamGuard()
    assert _feed(guard, LOOP) == ECHO
    assert guard.kept == "Answer: Lena Nymo Helli is the CEO [1]."


@pytest.mark.parametrize("marker", ["Question:", "<start_of_turn>", "<|im_end|>", "[/INST]"])
def test_each_template_marker_is_an_echo(marker):
    guard = StreamGuard()
    assert _feed(guard, f"It has 370 members [1]. {marker} more") == ECHO
    assert guard.kept == "It has 370 members [1]."


def test_the_rules_echoed_back_are_an_echo():
    rules = "You answer questions about documents on the Norwegian health industry.\n\nRules:"
    guard = StreamGuard(echo_of=rules)
    said = "It has 370 members [1]. You answer questions about documents on the Norwegian"
    assert _feed(guard, said) == ECHO
    assert guard.kept == "It has 370 members [1]."
    # a passage's own words are not rules: quoting them is what an answer does
    guard = StreamGuard(echo_of=rules)
    quote = "The cluster will represent 370 members in the health industry [1]."
    assert _feed(guard, quote) is None


def test_a_repeated_sentence_stops_before_the_repeat():
    guard = StreamGuard()
    sentence = "The merged cluster will have about 370 members [1]."
    assert _feed(guard, f"{sentence} {sentence} {sentence}") == REPETITION
    assert guard.kept == sentence


def test_a_looping_phrase_without_sentence_ends_is_repetition():
    guard = StreamGuard()
    loop = "the members of the cluster and the partners of the cluster " * 6
    assert _feed(guard, "It grows [1], " + loop) == REPETITION
    # kept: the text up to where the loop starts over
    assert guard.kept == "It grows [1], the members of the cluster and the partners of the cluster"


def test_sentences_without_any_citation_stop_after_three():
    guard = StreamGuard()
    two = "Health is important. Norway invests in it."
    assert _feed(guard, two) is None
    assert _feed(guard, " Many firms export abroad. Growth continues.") == NO_CITATIONS


def test_output_past_the_bound_is_too_long():
    guard = StreamGuard(max_chars=200)
    words = " ".join(f"word{i}" for i in range(200))  # no sentence end, no repeats
    assert _feed(guard, "[1] " + words) == TOO_LONG
    assert len(guard.kept) <= 200


def test_the_deadline_holds_while_the_server_sends_nothing():
    release = threading.Event()

    def stalled():
        yield "The cluster "
        release.wait(10)  # a server that stops sending mid-answer
        yield "has 370 members [1]."

    guard = StreamGuard(deadline=0.5)
    started = time.monotonic()
    got = list(guarded(stalled(), guard, poll=0.05))
    took = time.monotonic() - started
    release.set()
    assert guard.stopped == DEADLINE and got == ["The cluster "]
    assert took < 2.0


def test_guarded_passes_errors_and_ends_cleanly():
    def failing():
        yield "a"
        raise RuntimeError("connection reset")

    guard = StreamGuard()
    with pytest.raises(RuntimeError, match="connection reset"):
        list(guarded(failing(), guard))
    guard = StreamGuard()
    assert list(guarded(iter(["It has ", "370 members [1]."]), guard)) == [
        "It has ",
        "370 members [1].",
    ]
    assert guard.stopped is None


def test_guarded_stops_reading_an_endless_stream():
    pulled = []

    def endless():
        i = 0
        while True:
            i += 1
            pulled.append(i)
            yield "again and again and again and again [1]. "

    guard = StreamGuard()
    got = list(guarded(endless(), guard, poll=0.05))
    assert guard.stopped == REPETITION and len(got) <= 2
    time.sleep(0.3)
    before = len(pulled)
    time.sleep(0.3)
    assert len(pulled) == before  # the reader thread has let go of the stream
