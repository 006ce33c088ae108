"""Loading the YAML pipelines: where they live, the store profile merged into them, and their declared interface."""

import copy
import importlib
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from fastapi import HTTPException
from fastapi.concurrency import run_in_threadpool
from haystack import Pipeline, SuperComponent
from haystack.core.errors import PipelineRuntimeError
from haystack.core.serialization import DeserializationCallbacks
from haystack.errors import FilterError

from kit.timings import collect_timings, instrument, record

# Custom components in YAML must be allowed explicitly (Haystack 3 deserializes only allowlisted modules).
ALLOWED_MODULES = ["haystack.*", "haystack_integrations.*", "components.*", "stores.*"]
REPO_ROOT = Path(__file__).resolve().parent.parent


def pipelines_dir() -> Path:
    """The served pipelines folder: HAYHOOKS_PIPELINES_DIR if set, else the repository's `pipelines/`."""
    return Path(os.environ.get("HAYHOOKS_PIPELINES_DIR") or REPO_ROOT / "pipelines").resolve()


def stores_dir() -> Path:
    """The stores: PRESSQA_STORES_DIR if set, else the repository's `stores/`, a folder per store holding its
    profile (`<name>/<name>.yml`) beside its code.

    Outside `pipelines/`: Hayhooks deploys every folder and YAML file of its pipelines folder.
    """
    return Path(os.environ.get("PRESSQA_STORES_DIR") or REPO_ROOT / "stores").resolve()


def store_names(folder: Path | None = None) -> tuple[str, ...]:
    """The stores a folder offers: its sub-folders holding a profile (adding a store is adding a folder); the
    default, `inmemory`, first."""
    folder = folder or stores_dir()
    names = {p.parent.name for p in folder.glob("*/*.yml") if p.stem == p.parent.name}
    return tuple(sorted(names, key=lambda name: (name != "inmemory", name)))


STORES = store_names(REPO_ROOT / "stores")


def store_variant() -> str:
    """`PRESSQA_STORE`: `inmemory` (default, embedded) or another folder of `stores_dir()`, e.g. `opensearch`."""
    variant = os.environ.get("PRESSQA_STORE", "inmemory").strip().lower() or "inmemory"
    if variant not in (names := store_names()):
        raise ValueError(f"PRESSQA_STORE={variant!r}: choose one of {', '.join(names)}")
    return variant


# Settings more than one pipeline must share (the embedding model of chunks and questions).
EMBEDDING_PROFILE = REPO_ROOT / "profiles" / "embedding.yml"


def room_module(room: str, module: str) -> ModuleType:
    """`pipelines/<room>/<module>.py` imported as Hayhooks imports a room (its folder as the package `<room>`,
    so the room's relative imports work), for code outside the server: the CLI, scripts, tests, the notebook."""
    if room not in sys.modules:
        from hayhooks.server.utils.module_loader import load_pipeline_module

        load_pipeline_module(room, pipelines_dir() / room)
    return importlib.import_module(f"{room}.{module}")


def pipeline_file(folder: str, name: str) -> Path:
    """`pipelines/<folder>/<name>.yml`."""
    return pipelines_dir() / folder / f"{name}.yml"


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` over `base`, recursively for dictionaries (lists and scalars are replaced)."""
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged


def pipeline_spec(folder: str, name: str, store: str | None = None) -> dict[str, Any]:
    """The pipeline's YAML as a dict with the shared settings (`profiles/embedding.yml`) under it and the store
    profile (`stores/<store>/<store>.yml`) over it.

    A profile's `<folder>:` section names components of that pipeline. The shared settings are defaults a
    pipeline's own override; a store profile sets `type` and merges its `init_parameters` over the pipeline's.
    Pipelines without a section are returned as written.
    """
    spec = yaml.safe_load(pipeline_file(folder, name).read_text(encoding="utf-8"))
    components = spec["components"]
    for component, shared in _profile(EMBEDDING_PROFILE, folder, components).items():
        components[component] = _merge(shared, components[component])
    store = store or store_variant()
    for component, change in _profile(stores_dir() / store / f"{store}.yml", folder, components).items():
        components[component] = _merge(components[component], change)
    return spec


def _profile(path: Path, folder: str, components: dict[str, Any]) -> dict[str, Any]:
    """The `<folder>:` section of a profile; every component it names must be one of `components`."""
    section = copy.deepcopy(yaml.safe_load(path.read_text(encoding="utf-8")).get(folder) or {})
    for component in section:
        if component not in components:
            raise ValueError(f"profile {path}: the {folder} pipeline has no component {component!r}")
    return section


def spec_yaml(spec: dict[str, Any]) -> str:
    """A merged spec as YAML for `Pipeline.loads`, components in their written order."""
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)


def load_pipeline(folder: str, name: str, overrides: Callable[[str, type, dict[str, Any]], None] | None = None) -> SuperComponent:
    """`pipeline_spec(folder, name)` as a SuperComponent: called with the names the YAML's `inputs:` declare, it
    returns those its `outputs:` declare (the keys Hayhooks reads too), so a YAML can rename or swap components
    without a change of Python. Every component's run is timed (see kit.timings).

    :param overrides: Haystack's `component_pre_init` deserialization callback, `(name, class, init_params)`,
        for settings that come from the environment at start (e.g. the LLM's model).
    """
    spec = pipeline_spec(folder, name)
    callbacks = DeserializationCallbacks(component_pre_init=overrides) if overrides else None
    pipeline = instrument(Pipeline.loads(spec_yaml(spec), allowed_modules=ALLOWED_MODULES, callbacks=callbacks))
    inputs = {k: v if isinstance(v, list) else [v] for k, v in (spec.get("inputs") or {}).items()}
    outputs = {target: name for name, target in (spec.get("outputs") or {}).items()}
    return SuperComponent(pipeline=pipeline, input_mapping=inputs, output_mapping=outputs)


def _raised_by_filter_comparison(error: BaseException | None) -> bool:
    """A TypeError from Haystack's filter code comparing a document's value with the filter's: a field kit.queries
    does not know, e.g. '>' between a list and a number."""
    return isinstance(error, TypeError) and any(
        Path(frame.f_code.co_filename).match("haystack/utils/filters.py") for frame, _ in traceback.walk_tb(error.__traceback__)
    )


def run_timed(pipeline: SuperComponent, total_stage: str, **inputs: Any) -> dict[str, Any]:
    """`pipeline.run(**inputs)` with `timings_ms` (each component's ms, and the whole run as `total_stage`).

    Well-formed filters the store cannot apply (a string compared with '>' to a number) answer 422, not 500.
    """
    with collect_timings() as timings, _filter_errors_as_422():
        started = time.perf_counter()
        result = pipeline.run(**inputs)
        record(total_stage, started)
    return {**result, "timings_ms": dict(timings)}


async def run_timed_async(pipeline: SuperComponent, total_stage: str, **inputs: Any) -> dict[str, Any]:
    """`run_timed` for async callers: the pipeline's independent branches at once (`Pipeline.run_async`: search.yml's
    two retrievers wait for the cluster together) where the store profile says that pays (`concurrent_branches`),
    else `run_timed` in a worker thread (one component after the other, as Hayhooks runs a synchronous wrapper)."""
    if not concurrent_branches():
        return await run_in_threadpool(run_timed, pipeline, total_stage, **inputs)
    with collect_timings() as timings, _filter_errors_as_422():
        started = time.perf_counter()
        result = await pipeline.run_async(**inputs)
        record(total_stage, started)
    return {**result, "timings_ms": dict(timings)}


def concurrent_branches(store: str | None = None) -> bool:
    """Whether the store profile (`stores/<store>/<store>.yml`, top-level `concurrent_branches:`) runs a pipeline's
    independent branches at once. Measured per store (docs/scaling.md, "How cost grows"): it pays where the
    retrievers wait on the network (a cluster), and costs where they are a few milliseconds of CPU (the embedded
    store: Haystack's async path moves every component to a thread, and the in-memory store runs each
    retriever's async call on one thread of its own)."""
    store = store or store_variant()
    profile = yaml.safe_load((stores_dir() / store / f"{store}.yml").read_text(encoding="utf-8")) or {}
    return bool(profile.get("concurrent_branches", False))


@contextmanager
def _filter_errors_as_422() -> Iterator[None]:
    try:
        yield
    except PipelineRuntimeError as error:
        if isinstance(error.__cause__, FilterError):
            raise HTTPException(status_code=422, detail=f"Malformed filters: {error.__cause__}") from None
        if _raised_by_filter_comparison(error.__cause__):
            raise HTTPException(status_code=422, detail=(
                f"Malformed filters: a comparison cannot be applied to the values the field holds ({error.__cause__})."
            )) from None
        raise
