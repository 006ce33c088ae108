"""Custom Haystack components of the press-release Q&A service: only what Haystack lacks.

Each module holds one component (or the document store); the YAML files in `pipelines/` wire them.
"""
