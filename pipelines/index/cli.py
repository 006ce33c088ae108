"""`pressqa-index FOLDER`: index a folder of press releases locally, with a progress bar.

Writes to the same store the service reads (PRESSQA_DATA_DIR), so a service started afterwards, or
restarted, serves the result. Needs no token: it runs on the machine that holds the data.
"""

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pressqa-index", description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=None,
                        help="folder of .txt releases (default: PRESS_RELEASES_DIR or data/press-releases)")
    parser.add_argument("--batch-size", type=int, default=32, help="files per pipeline run (default 32)")
    args = parser.parse_args(argv)

    from tqdm import tqdm

    from .indexing import Indexer, corpus_dir

    folder = args.folder or corpus_dir()
    files = sorted(folder.glob("*.txt"))
    if not files:
        print(f"pressqa-index: no .txt files in {folder}", file=sys.stderr)
        return 2
    indexer = Indexer(batch_size=args.batch_size)
    with tqdm(total=len(files), unit="file", desc="Indexing") as bar:
        status = indexer.index(files, label=str(folder), on_batch=bar.update)
    print(
        f"Indexed {status.files_done - status.files_rejected} files in {status.seconds:.1f} s: {status.chunks_written} chunks "
        f"written, {status.chunks_removed} outdated removed, {indexer.document_store.count_documents()} in the store."
    )
    for rejected in (r for r in status.releases if r["result"] == "rejected"):
        print(f"pressqa-index: not indexed: {rejected['release']}: {rejected['reason']}", file=sys.stderr)
    return 1 if status.files_rejected else 0

