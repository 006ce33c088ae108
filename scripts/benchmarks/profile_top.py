"""Top items of a py-spy profile: the share of samples in which each function is on the stack (inclusive).

Reads py-spy's collapsed-stack output (`py-spy record --format raw`), keeps the samples of the request threads
(stacks through the given --root, default Haystack's `Pipeline.run`), and prints, per function, the share of
those samples in which it appears (inclusive) and in which it is the innermost frame (self).

    py-spy record --pid PID --duration 20 --rate 200 --format raw -o profile.txt   # while scripts/bench.py runs
    .venv/bin/python scripts/profile_top.py profile.txt [--root "run (haystack/core/pipeline/pipeline.py"] [--top 25]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]  # frames of our code are shown relative to it

FRAME = re.compile(r"^(?P<function>[^ ]+) \((?P<file>[^:)]+)(?::\d+)?\)$")


def frame_name(frame: str) -> str:
    """`function (path/to/file.py:line)` shortened to `function (package/file.py)`."""
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", str(REPO_ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['function']} ({path})"


def summarise(lines: list[str], root: str) -> tuple[int, Counter, Counter]:
    total, inclusive, self_time = 0, Counter(), Counter()
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if root and not any(root in frame for frame in frames):
            continue
        samples = int(count)
        total += samples
        for name in {frame_name(frame) for frame in frames}:
            inclusive[name] += samples
        self_time[frame_name(frames[-1])] += samples
    return total, inclusive, self_time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--root", default="run (haystack/core/pipeline/pipeline.py",
                        help="only stacks through a frame containing this text ('' for all)")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    total, inclusive, self_time = summarise(args.profile.read_text().splitlines(), args.root)
    if not total:
        print("no samples matched", file=sys.stderr)
        return 1
    print(f"{total} samples through {args.root!r}\n\ninclusive")
    for name, samples in inclusive.most_common(args.top):
        print(f"{100 * samples / total:5.1f} %  {name}")
    print("\nself")
    for name, samples in self_time.most_common(args.top):
        print(f"{100 * samples / total:5.1f} %  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
