"""scripts/bench.py never sends a question twice in a run: the variant generator and the load loop."""

import asyncio
from itertools import islice

import httpx
import pytest
from tqdm import tqdm

from scripts import measure_common
from scripts.benchmarks import bench

DEV_QUESTIONS = [item["question"] for item in measure_common.load_questions(measure_common.DEFAULT_QUESTIONS)]


def test_variants_never_repeat_beyond_all_templates():
    combinations = len(bench.PREFIXES) * len(bench.SUFFIXES)
    count = len(DEV_QUESTIONS) * combinations + 500  # past the templates, into the numbered variants
    texts = list(islice(bench.question_variants(DEV_QUESTIONS), count))
    assert len(set(texts)) == count
    # every variant still carries its eval question verbatim, so it asks the same thing
    assert all(any(question in text for question in DEV_QUESTIONS) for text in texts)


def test_variants_of_duplicate_questions_stay_distinct():
    texts = list(islice(bench.question_variants(["Same?", "Same?"]), 300))
    assert len(set(texts)) == 300


def test_variant_order_is_fixed_so_runs_compare():
    first = list(islice(bench.question_variants(DEV_QUESTIONS), 100))
    assert first == list(islice(bench.question_variants(DEV_QUESTIONS), 100))


def test_no_questions_is_an_error():
    with pytest.raises(ValueError):
        next(bench.question_variants([]))


def test_load_loop_sends_each_question_once():
    """The real closed loop with 10 concurrent clients; the request function records what it was sent."""
    sent: list[str] = []

    async def send(client, question):
        sent.append(question)
        await asyncio.sleep(0)
        return bench.Sample(0.001)

    async def run():
        async with httpx.AsyncClient() as client:
            with tqdm(disable=True) as progress:
                return await bench.run_target(
                    client, send, bench.question_variants(DEV_QUESTIONS), 10, 30.0, 1500, progress
                )

    samples, _ = asyncio.run(run())
    assert len(samples) == 1500 and len(sent) == 1500
    assert len(set(sent)) == len(sent)
