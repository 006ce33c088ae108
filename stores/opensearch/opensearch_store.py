"""OpenSearch store and retrievers whose connection comes from the environment, not from the YAML.

As for Elasticsearch (see stores/elasticsearch/elasticsearch_store.py): Haystack YAML has no environment
interpolation and `OpenSearchDocumentStore` takes `hosts` only as a literal, so a committed profile would
have to name one cluster. Here `hosts` is a Secret (`OPENSEARCH_URL`, comma-separated URLs) resolved at
load time and serialized by its variable name only; user and password are the parent's own secrets
(`OPENSEARCH_USERNAME` / `OPENSEARCH_PASSWORD`). The integration's retrievers deserialize their store as
exactly `OpenSearchDocumentStore`, so they are subclassed to accept this one, and they expose
`document_store` as the in-memory retrievers do (stores/env_store_retriever.py).

Usage (what stores/opensearch/opensearch.yml declares):

    store = EnvOpenSearchDocumentStore(index="press-releases", embedding_dim=384,
                                       method={"name": "hnsw", "engine": "lucene", "space_type": "innerproduct"})
    retriever = EnvOpenSearchBM25Retriever(document_store=store, top_k=30, fuzziness=0)
"""

import uuid
from typing import Any

from haystack import Document, component
from haystack.utils import Secret
from haystack_integrations.components.retrievers.opensearch import (
    OpenSearchBM25Retriever,
    OpenSearchEmbeddingRetriever,
)
from haystack_integrations.document_stores.opensearch import OpenSearchDocumentStore

from stores.env_store_retriever import EnvStoreRetriever


class EnvOpenSearchDocumentStore(OpenSearchDocumentStore):
    """
    `OpenSearchDocumentStore` connected through environment variables.

    - `hosts`: a Secret, by default `OPENSEARCH_URL`: one URL or several, comma-separated; never serialized.
    - Searches of one store instance go to the same shard copies (a per-instance `preference`): BM25 term
      statistics of a primary and its replica differ slightly (deleted documents are merged away at
      different times), so without it the same question could rank differently from one request to the next.

    Everything else (index, mappings, settings, k-NN method, `return_embedding`, auth) is the parent's.
    """

    def __init__(self, *, hosts: Secret = Secret.from_env_var("OPENSEARCH_URL"), **kwargs: Any) -> None:
        """
        :param hosts: Secret holding the node URL(s), comma-separated. Resolved now: a strict secret whose
            variable is unset fails the pipeline's loading, not its first search.
        :param kwargs: Passed to `OpenSearchDocumentStore` (index, embedding_dim, method, mappings, settings…).
        """
        urls = [url.strip() for url in (hosts.resolve_value() or "").split(",") if url.strip()]
        super().__init__(hosts=urls or None, **kwargs)
        self.hosts_secret = hosts
        self._preference = uuid.uuid4().hex

    def to_dict(self) -> dict[str, Any]:
        """Serialize with the variable name of `hosts`, never the resolved URLs."""
        data = super().to_dict()
        data["init_parameters"]["hosts"] = self.hosts_secret.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EnvOpenSearchDocumentStore":
        """Deserialize; `hosts` is a Secret."""
        params = data.get("init_parameters", {})
        if isinstance(params.get("hosts"), dict):
            params["hosts"] = Secret.from_dict(params["hosts"])
        return super().from_dict(data)

    def _search_documents(self, request_body: dict[str, Any]) -> list[Document]:
        assert self._client is not None
        hits = self._client.search(index=self._index, body=request_body, preference=self._preference)["hits"]["hits"]
        return OpenSearchDocumentStore._deserialize_search_hits(hits)

    async def _search_documents_async(self, request_body: dict[str, Any]) -> list[Document]:
        assert self._async_client is not None
        result = await self._async_client.search(index=self._index, body=request_body, preference=self._preference)
        return OpenSearchDocumentStore._deserialize_search_hits(result["hits"]["hits"])


@component
class EnvOpenSearchBM25Retriever(EnvStoreRetriever, OpenSearchBM25Retriever):
    """`OpenSearchBM25Retriever` over an `EnvOpenSearchDocumentStore`."""

    store_class = EnvOpenSearchDocumentStore


@component
class EnvOpenSearchEmbeddingRetriever(EnvStoreRetriever, OpenSearchEmbeddingRetriever):
    """`OpenSearchEmbeddingRetriever` over an `EnvOpenSearchDocumentStore`."""

    store_class = EnvOpenSearchDocumentStore
