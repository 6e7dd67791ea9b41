"""The question before anything is retrieved: cleaned and checked, and, when it leans on
the conversation ("Og hva var tallet i 2022?"), the retrieval query built from its turns."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from helse_qa.errors import ConfigError, QuestionError
from helse_qa.types import RETRIEVAL_MODES

Turn = Mapping[str, str]  # {"role": "user" | "assistant", "content": "..."}

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_FOLLOW_UP_START = re.compile(
    r"^(og|and|men|but|hva med|what about|how about|enn|also|også|then|så|samme)\b", re.I
)
_ANAPHORA = re.compile(
    r"\b(den andre|det andre|de andre|the other|denne|dette|disse|dem|they|them|it|its|that|"
    r"those|these|this one|hun|han|he|she|his|her|der|there)\b",
    re.I,
)


def clean_question(question: object, max_chars: int) -> str:
    """The question, cleaned of control characters; refused if empty or too long."""
    text = _CONTROL.sub(" ", question).strip() if isinstance(question, str) else ""
    if not text:
        raise QuestionError("the question is empty - type a question")
    if len(text) > max_chars:
        raise QuestionError(
            f"the question is {len(text)} characters long; the limit is {max_chars} - shorten it"
        )
    return text


def check_retrieval(retrieval: str) -> None:
    if retrieval not in RETRIEVAL_MODES:
        raise ConfigError(
            f"unknown retrieval mode {retrieval!r} - use one of {', '.join(RETRIEVAL_MODES)} "
            "(the answer mode, extractive or llm, is the setting answer_mode)"
        )


def looks_like_follow_up(question: str) -> bool:
    """A question that leans on the conversation: starts with 'and ...', or is short and
    points back with a pronoun ('And the other cluster?', 'Hvem leder den?')."""
    q = question.strip()
    return bool(_FOLLOW_UP_START.match(q)) or (len(q.split()) <= 8 and bool(_ANAPHORA.search(q)))


# "What does the report say about option taxation?", "Hva sier artikkelen om
# klyngenes internasjonale aktivitet?": the frame names the request, the rest the topic.
_SOURCE = (
    r"(?:the\s+|this\s+|that\s+)?(?:report|article|news\s+article|document|documents|text|"
    r"study|pre-project|it|they|authors?|actors|informants|interviewees)"
)
_TOPIC_FRAMES = (
    re.compile(
        rf"^\W*what\s+(?:does|do|did)\s+{_SOURCE}\s+(?:say|write|state|mention)\s+"
        r"(?:about|on|regarding|concerning)\s+(?P<topic>.+)$",
        re.I,
    ),
    re.compile(
        r"^\W*what\s+is\s+(?:said|written|stated)\s+(?:about|on|regarding)\s+(?P<topic>.+)$",
        re.I,
    ),
    re.compile(
        r"^\W*hva\s+(?:sier|skriver|forteller)\s+(?:rapporten|artikkelen|nyhetsartikkelen|"
        r"dokumentet|dokumentene|teksten|studien|forprosjektet|de|aktørene|informantene)\s+"
        r"(?:om|angående|vedrørende)\s+(?P<topic>.+)$",
        re.I,
    ),
    re.compile(r"^\W*hva\s+står\s+det\s+(?:om|angående)\s+(?P<topic>.+)$", re.I),
)
_WHERE = re.compile(
    r"\s+(?:in|i)\s+(?:the\s+)?(?:report|article|documents?|rapporten|artikkelen|"
    r"dokumentet|dokumentene)\s*$",
    re.I,
)


def topic_of(question: str) -> str | None:
    """The topic of a question that asks what a document says about it ("What does the
    report say about the procurement regime?" -> "procurement regime"), else None. The
    frame's words match every passage of a report ("Rapporten ser på …") and none of the
    topic's: retrieval searches for the topic alone (issue 37)."""
    text = question.strip()
    for frame in _TOPIC_FRAMES:
        m = frame.match(text)
        if m:
            topic = _WHERE.sub("", m.group("topic").strip().rstrip("?.! ")).strip()
            topic = re.sub(r"^(?:the|a|an)\s+", "", topic, flags=re.I)
            return topic if len(topic) > 1 else None
    return None


def retrieval_query(question: str, history: Sequence[Turn], turns: int) -> str:
    """The text retrieval uses: a follow-up question is prefixed by the ``turns`` most
    recent user turns; a question about what a document says about a topic is its topic
    (:func:`topic_of`)."""
    if not history or not looks_like_follow_up(question):
        return topic_of(question) or question
    earlier = [
        t.get("content", "") for t in history if t.get("role") == "user" and t.get("content")
    ]
    recent = earlier[-turns:] if turns else []
    return " ".join([*recent, question]).strip()
