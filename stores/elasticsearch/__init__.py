"""Elasticsearch: Haystack's Elasticsearch store and retrievers, with the connection from the environment."""
