"""Quality evaluation of the running service through its REST API, with a naive baseline side by side.

For each question of an eval set (see ../shared/eval/README.md) it calls `POST /search/run` (top_k=10)
and `POST /ask/run`, scores retrieval and answers (scripts/evaluation/metrics.py says how), and does the
same for a naive baseline built in this process (scripts/evaluation/baseline.py). With
`--compare previous.json` every table shows now/previous/baseline and a metric that lost more than one
question's worth is flagged as a REGRESSION (scripts/evaluation/regressions.py).

    python scripts/evaluate.py [--limit 5] [--no-baseline] [--out eval-results.json] [--compare previous.json]

The code is the package scripts/evaluation/ (its __init__ maps the modules; import it as `scripts.evaluation`);
this file is only the command.
"""

import sys

from scripts.evaluation.cli import main

if __name__ == "__main__":
    sys.exit(main())
