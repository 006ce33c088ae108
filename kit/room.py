"""A room: one served folder of pipelines/ (its YAML, its Hayhooks wrapper, the Python only it needs).

`Room` is Hayhooks' `BasePipelineWrapper` with what the app shell (service/shell.py) serves besides Hayhooks' own
`/<name>/run`, declared instead of looked up: the shell serves whatever the deployed rooms declare, and a room
needs nothing of the shell.

### Usage example

```python
from fastapi import APIRouter

from kit.loader import load_pipeline
from kit.room import Room


class PipelineWrapper(Room):  # pipelines/<name>/pipeline_wrapper.py
    def setup(self) -> None:
        self.pipeline = load_pipeline("<name>", "<name>")
        self.routes = APIRouter(tags=["service"])  # served beside /<name>/run
        self.routes.add_api_route("/<name>/extra", self.extra, methods=["POST"])

    def readiness(self) -> dict:
        return {"<name>": "ready"}
```
"""

from typing import Any

from fastapi import APIRouter
from hayhooks import BasePipelineWrapper

from kit.tools import McpTool


class Room(BasePipelineWrapper):
    """A Hayhooks pipeline wrapper that declares its routes, its part of the readiness view (/ready), its work after
    deploy and its MCP tools. Each has a default that adds nothing."""

    # Routes beside Hayhooks' /<name>/run, set in `setup()`: the shell includes them once every room is deployed.
    routes: APIRouter | None = None

    def readiness(self) -> dict[str, Any]:
        """This room's part of `/ready` (merged into the reply, rooms in name order): no absolute path, no pid."""
        return {}

    def after_deploy(self) -> None:
        """Work that must wait until every room is deployed (e.g. start-up indexing); called once by the shell."""

    def mcp_tools(self) -> list[McpTool]:
        """The MCP tools this room answers at `/mcp`."""
        return []
