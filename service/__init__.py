"""The app shell: serves the rooms of pipelines/ behind one gate (tokens, limits), plus /health, /releases, the page, MCP."""
