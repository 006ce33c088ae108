"""The HTTP service around the pipelines: page, release endpoints and the index command line."""
