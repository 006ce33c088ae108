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

import asyncio
import threading
import uuid
import weakref
from typing import Any

from haystack import Document, component
from haystack.utils import Secret
from haystack_integrations.components.retrievers.opensearch import (
    OpenSearchBM25Retriever,
    OpenSearchEmbeddingRetriever,
)
from haystack_integrations.document_stores.opensearch import OpenSearchDocumentStore

from stores.env_store_retriever import EnvStoreRetriever

# One client per process and connection settings (and, for the async client, per event loop): every store
# instance (each pipeline component deserializes its own) shares it and its kept-alive connections.
_SHARED_LOCK = threading.Lock()
_SYNC_CLIENTS: dict[tuple, Any] = {}
_ASYNC_CLIENTS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, Any]]" = weakref.WeakKeyDictionary()


class EnvOpenSearchDocumentStore(OpenSearchDocumentStore):
    """
    `OpenSearchDocumentStore` connected through environment variables.

    - `hosts`: a Secret, by default `OPENSEARCH_URL`: one URL or several, comma-separated; never serialized.
    - Searches of one store instance go to the same shard copies (a per-instance `preference`): BM25 term
      statistics of a primary and its replica differ slightly (deleted documents are merged away at
      different times), so without it the same question could rank differently from one request to the next.
    - One client per process (issue #23): the parent makes a client, with its own connection pools, per store
      instance, and search.yml alone deserializes three (both retrievers, the question period), the ask
      room three more; here instances with the same connection settings share one client (the async one per
      event loop), so connections are opened once and kept alive for all of them. `close()` leaves it open.

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

    def _connection_key(self) -> tuple:
        hosts = tuple(self._hosts) if isinstance(self._hosts, list) else self._hosts
        return (hosts, repr(self._resolve_http_auth()), self._use_ssl, self._verify_certs, self._timeout, repr(sorted(self._kwargs.items())))

    def _ensure_initialized(self) -> None:
        if self._client is not None:
            return
        key = self._connection_key()
        with _SHARED_LOCK:
            shared = _SYNC_CLIENTS.get(key)
            if shared is None:
                super()._ensure_initialized()  # makes the client, then checks (or creates) the index
                _SYNC_CLIENTS[key] = self._client
                return
            self._client = shared
            self._ensure_index_exists()

    async def _ensure_initialized_async(self) -> None:
        if self._async_client is not None:
            return
        key = self._connection_key()
        clients = _ASYNC_CLIENTS.setdefault(asyncio.get_running_loop(), {})
        shared = clients.get(key)
        if shared is not None:
            self._async_client = shared
            await self._ensure_index_exists_async()
            return
        await super()._ensure_initialized_async()
        shared = clients.setdefault(key, self._async_client)
        if shared is not self._async_client:  # another instance made one meanwhile: use that one
            await self._async_client.close()
            self._async_client = shared

    def close(self) -> None:
        """Let go of the shared client (it stays open for the other instances; `close_shared_clients` ends it)."""
        self._client = None

    async def close_async(self) -> None:
        """Let go of the shared async client (see `close`)."""
        self._async_client = None

    def meta_value_counts(self, fields: list[str]) -> dict[tuple[Any, ...], int]:
        """How many chunks hold each combination of values of these meta fields (None where missing): a
        composite aggregation, paged. /releases and the start-up corpus difference need this, and
        `filter_documents()` would return at most 10,000 chunks (the integration's one request)."""
        self._ensure_initialized()
        assert self._client is not None
        mapping = self._client.indices.get_mapping(index=self._index)
        properties = next(iter(mapping.values()))["mappings"].get("properties", {})
        sources = []
        for name in fields:
            spec = properties.get(name, {})
            keyword = spec.get("type") == "text" and "keyword" in spec.get("fields", {})
            sources.append({name: {"terms": {"field": f"{name}.keyword" if keyword else name, "missing_bucket": True}}})
        counts: dict[tuple[Any, ...], int] = {}
        after = None
        while True:
            composite: dict[str, Any] = {"size": 1000, "sources": sources}
            if after is not None:
                composite["after"] = after
            body = {"size": 0, "aggs": {"groups": {"composite": composite}}}
            groups = self._client.search(index=self._index, body=body, preference=self._preference)["aggregations"]["groups"]
            for bucket in groups["buckets"]:
                counts[tuple(bucket["key"][name] for name in fields)] = bucket["doc_count"]
            after = groups.get("after_key")
            if not groups["buckets"] or after is None:
                return counts

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


def close_shared_clients() -> None:
    """Close every shared client of this process (tools and tests, before they end)."""
    with _SHARED_LOCK:
        for client in _SYNC_CLIENTS.values():
            client.close()
        _SYNC_CLIENTS.clear()
    for loop, clients in list(_ASYNC_CLIENTS.items()):
        if not loop.is_closed():
            for client in clients.values():
                loop.run_until_complete(client.close()) if not loop.is_running() else loop.create_task(client.close())
        clients.clear()
