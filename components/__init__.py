"""Custom Haystack components of the press-release Q&A service: only what Haystack lacks.

Each module holds one `@component` class; the YAML files in `pipelines/` wire them. Their helpers live in `kit/`,
the document stores in `stores/`.
"""
