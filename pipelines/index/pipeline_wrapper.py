"""The index room: POST /index/run (releases posted as text) and POST /index/files (multipart uploads) through
index.yml, and, once the service is up, the corpus folder's missing or changed releases (indexing.py); GET
/releases and /releases/{file_path}, the indexed releases rebuilt from their chunks (releases.py).
Both index routes need the index token, checked with the body limit before the body is read (service.http.gate).

Both reply `{"result": {…, "releases": [{"release", "result": added|replaced|unchanged|rejected, "reason"}]}}`: 200
when every release was written, 207 when some were rejected (their text cleaned to nothing), 422 when all were:
nothing replies 200 for a write that did not happen."""

from typing import Any

from fastapi import APIRouter, File, HTTPException, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from kit.queries import excerpt
from kit.room import Room
from stores.inmemory.index_file import IndexNotSavedError

from . import workers
from .indexing import REJECTED_EMPTY, Indexer, without_paths
from .releases import get_release, list_releases
from .uploads import MAX_REQUEST_BYTES, ReleaseText, check_batch, check_name


class PipelineWrapper(Room):
    def setup(self) -> None:
        self.indexer = Indexer()
        self.pipeline = self.indexer.pipeline.pipeline
        self.document_store = self.indexer.document_store  # what /releases and /ready read
        # served beside /index/run by the app shell (kit.room.Room.routes)
        self.routes = APIRouter(tags=["service"])
        self.routes.add_api_route("/index/files", self.index_files, methods=["POST"])
        self.routes.add_api_route("/releases", self.releases, methods=["GET"])
        self.routes.add_api_route("/releases/{file_path}", self.release, methods=["GET"])

    def run_api(self, texts: list[ReleaseText]) -> JSONResponse:
        """
        Index (or re-index) releases given as text; a release's earlier chunks are replaced.

        :param texts: Releases as {"name": "255.txt", "content": "..."}.
        :returns: `{"result": …}`: files, chunks written and removed, documents in the store, and per release
            what happened (`added`, `replaced`, `unchanged`, `rejected` with the reason); 207 when some were
            rejected.
        """
        texts = [ReleaseText.model_validate(t) for t in texts]  # Hayhooks hands over the validated body as dicts
        # "surrogatepass": an unpaired surrogate (a valid JSON escape) becomes bytes that are not UTF-8,
        # which check_batch refuses with 422 instead of the encoder failing with 500
        releases = check_batch([(t.name, t.content.encode("utf-8", "surrogatepass")) for t in texts])
        return self._index(releases, "REST")

    async def index_files(self, files: list[UploadFile] = File(...)) -> JSONResponse:
        """Index uploaded .txt releases (multipart `files`); needs the index token. Replies as /index/run does."""
        items = [(upload.filename or "", await upload.read(MAX_REQUEST_BYTES + 1)) for upload in files]
        releases = check_batch(items)
        return await run_in_threadpool(self._index, releases, "upload")

    def _index(self, releases: list[tuple[str, str]], label: str) -> JSONResponse:
        try:
            status = self.indexer.index(self.indexer.texts_to_sources(releases), label=label)
        except IndexNotSavedError as error:
            # 507 when the disk is full (503 otherwise): the index, on disk and in memory, is unchanged
            raise HTTPException(status_code=507 if error.errno in (28, 122) else 503,  # ENOSPC, EDQUOT
                                detail=f"{error.strerror} Nothing was indexed; the index is unchanged.") from error
        if status.files_rejected == len(releases):
            names = ", ".join(r["release"] for r in status.releases[:10]) + (", …" if len(releases) > 10 else "")
            raise HTTPException(status_code=422, detail=f"Nothing was indexed: {names}: {REJECTED_EMPTY}.")
        result = {
            "files": status.files_done,
            "chunks_written": status.chunks_written,
            "chunks_removed": status.chunks_removed,
            "documents_in_store": self.document_store.count_documents(),
            "releases": status.releases,
        }
        return JSONResponse({"result": result}, status_code=207 if status.files_rejected else 200)

    def releases(self) -> dict:
        """Every indexed release: file name, title, year, number of chunks."""
        return {"releases": list_releases(self.document_store)}

    def release(self, file_path: str) -> dict:
        """One release's full (cleaned) text and meta."""
        found = get_release(self.document_store, check_name(file_path))
        if found is None:
            return JSONResponse(status_code=404, content={"detail": f"No release named {excerpt(file_path)!r} is indexed."})
        return found

    def after_deploy(self) -> None:
        """Called by the app shell once every pipeline is deployed: index what the corpus folder adds."""
        self.indexer.index_corpus_at_start()

    def readiness(self) -> dict[str, Any]:
        """This room's part of /ready: documents, index version, problems and completeness, indexing progress;
        no folder of the server (a problem names its file only)."""
        store = self.document_store
        indexing = self.indexer.status.as_json()
        if not indexing["running"]:
            indexing = workers.indexing_elsewhere() or indexing
        problems = [without_paths(problem) for problem in getattr(store, "problems", [])]
        index: dict[str, Any] = {"version": getattr(store, "version", None), "problems": problems}
        index.update(self.indexer.completeness())
        return {"documents": store.count_documents(), "index": index, "store": type(store).__name__, "indexing": indexing}
