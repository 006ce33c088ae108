"""`pressqa-train`: fits the evidence model (kit/evidence.py) that EvidenceRanker, AnswerabilityCheck and
ExtractiveAnswerer read, from questions with gold answers, over the index search.yml serves.

Read in this order:
- examples.py: each question's candidates as search.yml retrieves them (up to its `period` step), their answer
  units and features, and the labels (a unit holds a key fact; a chunk holds a gold quote; a question is
  answerable).
- fitting.py: the stacked fit (units -> chunks -> answers -> answerability), k-fold figures by question type, and
  the final fit on all questions.
- cli.py: the command line.

Text is never a training input: the models weigh a few numeric features per sentence or chunk, so the development
questions may fit them under k-fold (the figures to trust are the out-of-fold ones).
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
