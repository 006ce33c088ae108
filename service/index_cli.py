"""`pressqa-index FOLDER` (also `python -m service.index_cli FOLDER`): the index room's command line,
pipelines/index/cli.py, loaded as Hayhooks loads the room, after the process settings (kit/process.py) that
must precede Haystack's import."""

import sys


def main(argv: list[str] | None = None) -> int:
    from kit import process

    process.apply_environment_defaults()  # offline model, no telemetry: before Haystack is imported
    from kit.loader import room_module

    return room_module("index", "cli").main(argv)


if __name__ == "__main__":
    sys.exit(main())
