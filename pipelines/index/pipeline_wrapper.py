"""POST /index/run: index releases posted as text (pipelines/index/index.yml). Needs the index token
(checked with the body limit before the body is read, by service.gate.RequestGate)."""

from fastapi import HTTPException
from hayhooks import BasePipelineWrapper

from components.index_file import IndexNotSavedError
from service import runtime
from service.uploads import ReleaseText, check_batch


class PipelineWrapper(BasePipelineWrapper):
    def setup(self) -> None:
        self.pipeline = runtime.indexer().pipeline.pipeline

    def run_api(self, texts: list[ReleaseText]) -> dict:
        """
        Index (or re-index) releases given as text; a release's earlier chunks are replaced.

        :param texts: Releases as {"name": "255.txt", "content": "..."}.
        """
        texts = [ReleaseText.model_validate(t) for t in texts]  # Hayhooks hands over the validated body as dicts
        # "surrogatepass": an unpaired surrogate (a valid JSON escape) becomes bytes that are not UTF-8,
        # which check_batch refuses with 422 instead of the encoder failing with 500
        releases = check_batch([(t.name, t.content.encode("utf-8", "surrogatepass")) for t in texts])
        indexer = runtime.indexer()
        try:
            status = indexer.index(indexer.texts_to_sources(releases), label="REST")
        except IndexNotSavedError as error:
            # 507 when the disk is full (503 otherwise): the index, on disk and in memory, is unchanged
            raise HTTPException(status_code=507 if error.errno in (28, 122) else 503,
                                detail=f"{error.strerror} Nothing was indexed; the index is unchanged.") from error
        return {
            "files": status.files_done,
            "chunks_written": status.chunks_written,
            "chunks_removed": status.chunks_removed,
            "documents_in_store": runtime.document_store().count_documents(),
        }
