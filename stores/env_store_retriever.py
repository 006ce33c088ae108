"""What the cluster stores' retrievers change (stores/elasticsearch/elasticsearch_store.py, stores/opensearch/opensearch_store.py).

The integrations' retrievers deserialize their store as exactly the integration's class, so a store
connected through the environment (a subclass) would be rejected: this mixin deserializes it as
`store_class` instead, and exposes the store as `document_store`, as the in-memory retrievers do.

    @component
    class EnvOpenSearchBM25Retriever(EnvStoreRetriever, OpenSearchBM25Retriever):
        store_class = EnvOpenSearchDocumentStore
"""

from typing import Any

from haystack import default_from_dict
from haystack.document_stores.types import FilterPolicy


class EnvStoreRetriever:
    """Mixin for an integration's retriever over a store subclass (`store_class`)."""

    store_class: type
    _document_store: Any

    @property
    def document_store(self) -> Any:
        """The store this retriever reads."""
        return self._document_store

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        """Deserialize the retriever; its `document_store` is a `store_class`."""
        params = data["init_parameters"]
        params["document_store"] = cls.store_class.from_dict(params["document_store"])
        if policy := params.get("filter_policy"):
            params["filter_policy"] = FilterPolicy.from_str(policy)
        return default_from_dict(cls, data)
