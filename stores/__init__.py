"""The document stores, one folder each: its profile YAML (`<name>/<name>.yml`, merged into the pipelines by the
loader when `PRESSQA_STORE=<name>`) and the code it needs. Adding a store is adding a folder (and its tests)."""
