"""`--compare previous.json`: the metrics that got worse than in an earlier run (e.g. the previous release's).

A metric that lost more than one question's worth against the previous run (the per-question values, matched
by id, summed: a drop > REGRESSION_QUESTIONS) is flagged as a REGRESSION, per question type and overall,
naming the questions that got worse.

    for flag in regressions(items, scores, json.loads(Path("eval-before.json").read_text())):
        print(flag["type"], flag["metric"], flag["questions_lost"], flag["worse"])
"""

from __future__ import annotations

from typing import Any

from .metrics import ALL_METRICS

# Higher is better for every metric but these; counts and lengths are not compared for regressions.
LOWER_IS_BETTER = {"wrong_refusal"}
NOT_COMPARED = {"answer_words", "prompt_tokens", "unsupported_citations"}
REGRESSION_QUESTIONS = 1.0


def regressions(
    items: list[dict[str, Any]], scores: list[dict[str, float | None]], previous: dict[str, Any]
) -> list[dict[str, Any]]:
    """Metrics that lost more than REGRESSION_QUESTIONS questions' worth against `previous`, overall and per type.

    Questions are matched by id; a metric's loss is the sum, over the questions both runs scored, of how
    much each got worse minus how much each got better (so 1.0 = one question flipped from right to wrong).
    """
    before = {q["id"]: (q.get("ours") or {}).get("metrics") or {} for q in previous.get("questions", [])}
    groups = {"all": list(range(len(items)))}
    for index, item in enumerate(items):
        groups.setdefault(item["type"], []).append(index)
    flagged = []
    for group, indices in groups.items():
        for name in ALL_METRICS:
            if name in NOT_COMPARED:
                continue
            loss, worse = 0.0, []
            for i in indices:
                old, new = before.get(items[i]["id"], {}).get(name), scores[i].get(name)
                if old is None or new is None:
                    continue
                change = (old - new) if name not in LOWER_IS_BETTER else (new - old)
                loss += change
                if change > 0:
                    worse.append(items[i]["id"])
            if loss > REGRESSION_QUESTIONS:
                flagged.append({"type": group, "metric": name, "questions_lost": round(loss, 2), "worse": worse})
    return flagged
