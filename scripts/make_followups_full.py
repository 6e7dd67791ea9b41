"""Write eval/followups_full.jsonl: the gold set's follow-up items asked in full, no history.

The follow-up evaluation compares retrieval for the real follow-ups (with their history)
against these written-out questions. Usage: python scripts/make_followups_full.py
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FULL = {
    "fu-001": "Hvor stor andel av eksporten i norsk helseindustri i 2017 kom fra diagnostikk?",
    "fu-002": "Who is the CEO of Norwegian Smart Care Cluster?",
    "fu-003": "Hvem gjennomførte intervjuene i forprosjektet?",
    "fu-004": "Which segment accounted for most of the health industry's turnover in 2017?",
    "fu-005": "When was the cluster merger formally adopted?",
    "fu-006": "Hvorfor er det et problem at det ikke kommer nye lokomotiver i norsk helseindustri?",
    "fu-007": "Which ecosystem in Agder will the merged cluster work with?",
    "fu-008": "Hvor mye utgjør de offentlige FoU-midlene?",
    "fu-009": "What do the informants think is the most important thing to do about the lack of "
    "a commercial culture in Norwegian health industry?",
    "fu-010": "Hva slags aktører er medlemmene i den nye helseklyngen?",
    "fu-011": "Is any other cluster a partner in the clusters' test concept HealthCatalyst?",
    "fu-012": "Hvor mye vokste eksporten i helseindustrien i 2017?",
    "fu-013": "Between which ministries is it most evident that the incentive schemes work "
    "against each other?",
    "fu-014": "Hvor mye av omsetningen i den private helsenæringen i 2017 var selve "
    "helseindustrien?",
    "fu-015": "What services will the merged health cluster offer its members?",
    "fu-016": "What share of exports came from pharmaceuticals in 2017?",
    "fu-017": "Hvem leder Oslo Cancer Cluster?",
    "fu-018": "How much will the merger of the two health clusters cost?",
    "fu-019": "Hva var eksportinntektene i norsk helseindustri i 2022?",
}


def main() -> None:
    out = []
    for line in (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if item.get("history"):
            full = {k: v for k, v in item.items() if k != "history"}
            full["question"] = FULL[item["id"]]
            out.append(json.dumps(full, ensure_ascii=False))
    (ROOT / "eval" / "followups_full.jsonl").write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"{len(out)} items")


if __name__ == "__main__":
    main()
