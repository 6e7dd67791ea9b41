"""Tiny Norwegian/English language detector (stop-word counts): no model, no network."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-zæøåé]+")

_NB = frozenset(
    """og i er det som på for med til av at en et den de ikke har var vil kan om fra
    hva hvem hvor hvordan hvorfor hvilke hvilken når ble blir også skal må bør seg
    sin sitt sine eller men så der her dette disse mer mye mange andre etter over
    under mellom norsk norske norge jeg vi dere hun han ett hvis samt altså""".split()
)
_EN = frozenset(
    """the and of to in is are was were be been it that this these those for with on
    as by at from or an not what who where when why how which whose do does did
    has have had will would can could should about into than then there their they
    its our we you he she his her them which after over under between""".split()
)


def detect_language(text: str, default: str = "en") -> str:
    """Return 'nb' (Norwegian bokmål) or 'en'.

    Norwegian letters (æ, ø, å) count as strong evidence; otherwise stop words decide.
    """
    lowered = text.lower()
    words = _WORD.findall(lowered)
    if not words:
        return default
    nb = sum(w in _NB for w in words) + 2 * sum(ch in "æøå" for ch in lowered)
    en = sum(w in _EN for w in words)
    if nb == en:
        return default
    return "nb" if nb > en else "en"
