"""Loading the YAML pipelines: where they live, which store variant is chosen, and their declared interface."""

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


def store_variant() -> str:
    """`PRESSQA_STORE`: `inmemory` (default, embedded) or the suffix of alternative YAML files, e.g. `elasticsearch`."""
    return os.environ.get("PRESSQA_STORE", "inmemory").strip().lower() or "inmemory"


def pipeline_file(folder: str, name: str) -> Path:
    """`pipelines/<folder>/<name>.yml`, or `<name>.<variant>.yml` when that store variant is chosen and has one."""
    base = pipelines_dir() / folder
    variant = store_variant()
    if variant != "inmemory" and (base / f"{name}.{variant}.yml").exists():
        return base / f"{name}.{variant}.yml"
    return base / f"{name}.yml"


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


def load_pipeline(folder: str, name: str) -> DeclaredPipeline:
    """Deserialize `pipeline_file(folder, name)`, with stage timing on every component (see service.timings)."""
    text = pipeline_file(folder, name).read_text(encoding="utf-8")
    spec = yaml.safe_load(text)
    pipeline = instrument(Pipeline.loads(text, allowed_modules=ALLOWED_MODULES))
    inputs = {k: v if isinstance(v, list) else [v] for k, v in (spec.get("inputs") or {}).items()}
    return DeclaredPipeline(pipeline=pipeline, inputs=inputs, outputs=dict(spec.get("outputs") or {}))
