"""Quality evaluation of the running service through its REST API, beside a naive baseline.

The command is `python scripts/evaluate.py …`; scripts, tests and the notebook import this package as
`scripts.evaluation`. Read in this order:

- metrics.py: what is scored and how (file@1, hit@k, passage@k, MRR, files@10, key facts, citations,
  refusals): pure functions over normalised chunks and answers, plus `score` for one system's replies.
- service_client.py: how the service's replies are obtained (`POST /search/run`, `POST /ask/run`).
- baseline.py: the naive baseline (scripts/baseline/*.yml), built and queried in this process.
- report.py: aggregates per question type, the terminal tables, timings, the JSON record per question.
- regressions.py: `--compare previous.json`: metrics that lost more than one question's worth.
- cli.py: the command line and `main`, which runs the above in that order.
"""

import os

# The baseline's embedder loads from the local Hugging Face cache (scripts/install_model.py), never the hub;
# set before any submodule imports Haystack.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
