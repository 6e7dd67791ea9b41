"""When is an overview the answer? (issue 26, item 1): today's decision against the keyword
list it replaced, on our own labelled questions (`eval/overview_intent.jsonl`: genuine
summary requests and focused questions, Norwegian and English; written for this check,
never used to train anything).

    .venv/bin/python scripts/overview_intent.py [--out eval/results/overview-intent.md]
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import date
from pathlib import Path

from helse_qa.answering.overview import is_overview_question

ROOT = Path(__file__).resolve().parents[1]
# The decision before issue 26: any of these words made a question an overview request.
KEYWORDS = re.compile(
    r"\b(summari[sz]e|summary|sum up|overview|oppsummer\w*|sammendrag|sammenfatt\w*|"
    r"oversikt|main (findings|recommendations|points|conclusions?|messages?)|"
    r"key (findings|points|recommendations|messages)|hovedfunn\w*|hovedpunkt\w*|"
    r"anbefaler|anbefalingene|recommend(s|ations)?|konklusjon\w*|conclusions?)\b",
    re.IGNORECASE,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", type=Path, default=ROOT / "eval" / "overview_intent.jsonl")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "eval" / "results" / "overview-intent.md"
    )
    args = parser.parse_args()
    items = [json.loads(line) for line in args.gold.read_text(encoding="utf-8").splitlines()]
    deciders = {
        "keyword list (before issue 26)": lambda q: bool(KEYWORDS.search(q)),
        "summary word, or recommend/conclude with no topic named (now)": is_overview_question,
    }
    lines = [
        "# When is an overview the answer?",
        "",
        f"`scripts/overview_intent.py` on {date.today().isoformat()}: {len(items)} labelled "
        f"questions of our own (`{args.gold.name}`; "
        f"{sum(i['overview'] for i in items)} summary requests, "
        f"{sum(not i['overview'] for i in items)} focused questions; both languages).",
        "",
        "| decision | accuracy | nb | en | focused taken for overviews | overviews missed |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    wrong_now: list[str] = []
    for name, decide in deciders.items():
        right = {"nb": [0, 0], "en": [0, 0]}
        false_pos = false_neg = 0
        for item in items:
            said = decide(item["question"])
            ok = said == item["overview"]
            right[item["language"]][0] += ok
            right[item["language"]][1] += 1
            false_pos += said and not item["overview"]
            false_neg += item["overview"] and not said
            if not ok and decide is is_overview_question:
                wrong_now.append(item["question"])
        total = sum(r[0] for r in right.values()) / len(items)
        lines.append(
            f"| {name} | {total:.3f} | {right['nb'][0]}/{right['nb'][1]} | "
            f"{right['en'][0]}/{right['en'][1]} | {false_pos} | {false_neg} |"
        )
    lines += [
        "",
        "Still wrong now: " + ("; ".join(wrong_now) if wrong_now else "none") + ".",
        "",
        "The rule was written with these questions in view (the same session wrote both), so "
        "its figure here is optimistic; the keyword list's errors are the fair finding (every "
        "focused 'recommend / conclusion about X' question was taken for a summary request). "
        "Two overview items of eval/answers.jsonl ('Hva anbefaler rapporten at Norge bør "
        "gjøre?', 'Hva er konklusjonen i forprosjektrapporten?') were missed by the first "
        "version of the rule; 'Norge', 'bør gjøre' and compounds of 'rapport' were then "
        "counted as scope, not topic. Later an answers.jsonl list question ('Hvilket "
        "utfordringsbilde står norsk helseindustri overfor, kort oppsummert?') was taken for "
        "a summary request: a summary word used as an adverb ('kort oppsummert', 'in "
        "summary') now asks for an overview only when no topic is named, and the last six "
        "questions of the file were added with that change (so they, too, are optimistic).",
    ]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
