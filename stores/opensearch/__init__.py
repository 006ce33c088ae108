"""OpenSearch: Haystack's OpenSearch store and retrievers, with the connection from the environment."""
