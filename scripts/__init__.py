"""The project's tools, importable as packages: `evaluation` (quality against an eval set), `benchmarks` (speed,
load, memory, the LLM stand-in), `install` (the model, licences, the Elasticsearch template); `measure_common`
is what evaluation and benchmarks share. Each command is a thin file beside them: `python scripts/<name>.py …`."""
