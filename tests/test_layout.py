"""The walls between the folders (issue #24), read from the import statements of every module.

- pipelines/ (the rooms) imports the kit, components and stores, never the shell (service/) and never another room;
- kit/ imports neither the shell nor any room (it is the bottom floor the others share);
- components/ and stores/ import only the kit beside Haystack and libraries;
- no module changes `sys.path` to import (tests and tools import installed packages);
- every store folder holds its profile, `stores/<name>/<name>.yml`.
"""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROJECT = ("service", "kit", "components", "stores", "scripts", "pipelines")
ROOMS = sorted(p.name for p in (REPO / "pipelines").iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def _modules(folder: str) -> list[Path]:
    return sorted(p for p in (REPO / folder).rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> set[str]:
    """The top-level names of the project this module imports (absolute imports; rooms import their own files
    relatively, which Hayhooks resolves inside the room)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & {*PROJECT, *ROOMS}


@pytest.mark.parametrize(("folder", "allowed"), [
    ("pipelines", {"kit", "components", "stores"}),
    ("kit", {"kit"}),
    ("components", {"kit", "components"}),
    ("stores", {"kit", "stores"}),
])
def test_each_floor_imports_only_what_is_below_it(folder, allowed):
    wrong = {str(p.relative_to(REPO)): sorted(_imports(p) - allowed) for p in _modules(folder) if _imports(p) - allowed}
    assert not wrong, f"{folder}/ may import only {sorted(allowed)}: {wrong}"


def test_no_module_changes_the_import_path():
    changed = [str(p.relative_to(REPO)) for folder in (*PROJECT, "tests") for p in _modules(folder)
               if p.name != "test_layout.py" and "sys.path" in p.read_text(encoding="utf-8")]
    assert not changed, f"sys.path changed in {changed}: import the installed packages instead"


def test_every_store_is_a_folder_with_its_profile():
    from kit.loader import STORES, stores_dir

    folders = sorted(p.name for p in stores_dir().iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    assert folders == sorted(STORES)
    assert all((stores_dir() / name / f"{name}.yml").is_file() for name in folders)
    assert not list(stores_dir().glob("*.yml")), "a store profile outside its folder"


def test_every_room_has_its_tests():
    assert all(any((REPO / "tests" / "pipelines" / room).glob("test_*.py")) for room in ROOMS), ROOMS
