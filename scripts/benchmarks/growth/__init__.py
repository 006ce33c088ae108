"""The growth benchmark (issue #23): the same service on 1x, 4x and 16x the corpus, embedded and on the cluster.

`corpus.py` makes the larger corpora (the real releases plus rewritten copies), `run.py` indexes and measures
each size and store as resumable steps, `report.py` draws the curves and writes the figures' table.
"""
