"""Loading the YAML pipelines: where they live, the store profile merged into them, and their declared interface."""

import copy
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from haystack import Pipeline

from service.timings import instrument

# Custom components in YAML must be allowed explicitly (Haystack 3 deserializes only allowlisted modules).
ALLOWED_MODULES = ["haystack.*", "haystack_integrations.*", "components.*"]
REPO_ROOT = Path(__file__).resolve().parent.parent


def pipelines_dir() -> Path:
    """The served pipelines folder: HAYHOOKS_PIPELINES_DIR if set, else the repository's `pipelines/`."""
    return Path(os.environ.get("HAYHOOKS_PIPELINES_DIR") or REPO_ROOT / "pipelines").resolve()


STORES = ("inmemory", "elasticsearch", "opensearch")


def store_variant() -> str:
    """`PRESSQA_STORE`: `inmemory` (default, embedded), `elasticsearch` or `opensearch`."""
    variant = os.environ.get("PRESSQA_STORE", "inmemory").strip().lower() or "inmemory"
    if variant not in STORES:
        raise ValueError(f"PRESSQA_STORE={variant!r}: choose one of {', '.join(STORES)}")
    return variant


def stores_dir() -> Path:
    """The store profiles: PRESSQA_STORES_DIR if set, else the repository's `stores/`.

    Outside `pipelines/`: Hayhooks deploys every folder and YAML file of its pipelines folder.
    """
    return Path(os.environ.get("PRESSQA_STORES_DIR") or REPO_ROOT / "stores").resolve()


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
    """The pipeline's YAML as a dict with the store profile (`stores/<store>.yml`) merged in.

    A profile's `<folder>:` section names components of that pipeline; for each, `type` is set and
    `init_parameters` are merged over the pipeline's. Pipelines without a section are returned as written.
    """
    spec = yaml.safe_load(pipeline_file(folder, name).read_text(encoding="utf-8"))
    profile = yaml.safe_load((stores_dir() / f"{store or store_variant()}.yml").read_text(encoding="utf-8"))
    for component, change in (profile.get(folder) or {}).items():
        if component not in spec["components"]:
            raise ValueError(f"store profile {store or store_variant()}: {folder}.yml has no component {component!r}")
        spec["components"][component] = _merge(spec["components"][component], copy.deepcopy(change))
    return spec


@dataclass
class DeclaredPipeline:
    """A pipeline with the `inputs:`/`outputs:` its YAML declares (the same keys Hayhooks reads).

    Callers pass and receive those names only, so a YAML can rename or swap components (e.g. for
    Elasticsearch retrievers) without a change of Python.
    """

    pipeline: Pipeline
    inputs: dict[str, list[str]]
    outputs: dict[str, str]

    def run(self, **values: Any) -> dict[str, Any]:
        """Run with declared input names; return the declared outputs."""
        return self._outputs(self.pipeline.run(self._data(values), include_outputs_from=self._sources()))

    async def run_async(self, **values: Any) -> dict[str, Any]:
        """`run` on the event loop: components with `run_async` (the OpenAI generator) are awaited, so a
        cancelled task ends their request."""
        return self._outputs(await self.pipeline.run_async(self._data(values), include_outputs_from=self._sources()))

    def _data(self, values: dict[str, Any]) -> dict[str, dict[str, Any]]:
        data: dict[str, dict[str, Any]] = defaultdict(dict)
        for name, value in values.items():
            for target in self.inputs[name]:
                component, socket = target.split(".", 1)
                data[component][socket] = value
        return dict(data)

    def _sources(self) -> set[str]:
        return {target.split(".", 1)[0] for target in self.outputs.values()}

    def _outputs(self, result: dict[str, Any]) -> dict[str, Any]:
        return {name: result[target.split(".", 1)[0]][target.split(".", 1)[1]] for name, target in self.outputs.items()}


def spec_yaml(spec: dict[str, Any]) -> str:
    """A merged spec as YAML for `Pipeline.loads`, components in their written order."""
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)


def load_pipeline(folder: str, name: str) -> DeclaredPipeline:
    """Deserialize `pipeline_spec(folder, name)`, with stage timing on every component (see service.timings)."""
    spec = pipeline_spec(folder, name)
    pipeline = instrument(Pipeline.loads(spec_yaml(spec), allowed_modules=ALLOWED_MODULES))
    inputs = {k: v if isinstance(v, list) else [v] for k, v in (spec.get("inputs") or {}).items()}
    return DeclaredPipeline(pipeline=pipeline, inputs=inputs, outputs=dict(spec.get("outputs") or {}))
