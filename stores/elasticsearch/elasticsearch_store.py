"""Elasticsearch store and retrievers whose connection comes from the environment, not from the YAML.

Haystack YAML has no environment interpolation, and `ElasticsearchDocumentStore` takes `hosts` only as a
literal, so a committed pipeline would have to name one cluster (and, with basic auth, carry its
password). Here `hosts` is a Secret read from an environment variable at load time. The integration's
retrievers deserialize their store as exactly `ElasticsearchDocumentStore` (a subclass is rejected), so
they are subclassed too, changing only that step (stores/env_store_retriever.py).
"""

import uuid
from typing import Any

from haystack import component
from haystack.utils import Secret
from haystack_integrations.components.retrievers.elasticsearch import (
    ElasticsearchBM25Retriever,
    ElasticsearchEmbeddingRetriever,
)
from haystack_integrations.document_stores.elasticsearch import ElasticsearchDocumentStore

from stores.env_store_retriever import EnvStoreRetriever


class EnvElasticsearchDocumentStore(ElasticsearchDocumentStore):
    """
    `ElasticsearchDocumentStore` connected through environment variables.

    - `hosts`: a Secret, by default `ELASTICSEARCH_URL`: one URL or several, comma-separated. A URL may
      carry basic-auth credentials (`https://user:password@es01:9200`), so the value is never serialized.
      API keys use the parent's `api_key` / `api_key_id` secrets.
    - `ca_certs`: a Secret naming the CA certificate file of an HTTPS cluster with a private CA, by default
      `ELASTICSEARCH_CA_CERTS`; unset means the client's default CA bundle.
    - `return_embedding`: False leaves the stored vectors out of every search reply (`_source_excludes`),
      as the in-memory store's option does: nothing downstream reads them, and 384 floats per chunk
      would otherwise be sent, parsed and copied for each of the ~60 chunks a query retrieves.
    - Searches of one store instance go to the same shard copies (a per-instance `preference`): chunks
      that tie on score, as every chunk of a `filter_documents` call does, are ordered by Lucene's internal
      ids, which can differ between a primary and its replicas, so paging with from/size across copies could
      return a chunk twice and miss another.

    Everything else (index, mapping, similarity, the client's keyword arguments) is the parent's.
    """

    def __init__(
        self,
        *,
        hosts: Secret = Secret.from_env_var("ELASTICSEARCH_URL"),
        ca_certs: Secret | None = Secret.from_env_var("ELASTICSEARCH_CA_CERTS", strict=False),
        return_embedding: bool = True,
        **kwargs: Any,
    ) -> None:
        """
        :param hosts: Secret holding the node URL(s), comma-separated. Resolved now: a strict secret whose
            variable is unset fails the pipeline's loading, not its first search.
        :param ca_certs: Secret holding the path of a CA certificate file, or None.
        :param return_embedding: Whether retrieved documents carry their stored embedding.
        :param kwargs: Passed to `ElasticsearchDocumentStore` (index, api_key, embedding_similarity_function…).
        """
        urls = [url.strip() for url in (hosts.resolve_value() or "").split(",") if url.strip()]
        ca_file = ca_certs.resolve_value() if ca_certs is not None else None
        if ca_file:
            kwargs["ca_certs"] = ca_file
        super().__init__(hosts=urls or None, **kwargs)
        self.hosts_secret = hosts
        self.ca_certs_secret = ca_certs
        self.return_embedding = return_embedding
        self._preference = uuid.uuid4().hex

    def to_dict(self) -> dict[str, Any]:
        """Serialize with the secrets' variable names, never the resolved URLs or CA path."""
        data = super().to_dict()
        params = data["init_parameters"]
        params["hosts"] = self.hosts_secret.to_dict()
        params["ca_certs"] = self.ca_certs_secret.to_dict() if self.ca_certs_secret is not None else None
        params["return_embedding"] = self.return_embedding
        return data

    def _search_options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        kwargs.setdefault("preference", self._preference)
        if not self.return_embedding:
            kwargs.setdefault("source_excludes", ["embedding"])
        return kwargs

    def _search_documents(self, **kwargs: Any) -> list:
        return super()._search_documents(**self._search_options(kwargs))

    async def _search_documents_async(self, **kwargs: Any) -> list:
        return await super()._search_documents_async(**self._search_options(kwargs))


@component
class EnvElasticsearchBM25Retriever(EnvStoreRetriever, ElasticsearchBM25Retriever):
    """`ElasticsearchBM25Retriever` over an `EnvElasticsearchDocumentStore`."""

    store_class = EnvElasticsearchDocumentStore


@component
class EnvElasticsearchEmbeddingRetriever(EnvStoreRetriever, ElasticsearchEmbeddingRetriever):
    """`ElasticsearchEmbeddingRetriever` over an `EnvElasticsearchDocumentStore`."""

    store_class = EnvElasticsearchDocumentStore
