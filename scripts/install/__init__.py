"""What installing needs and checks: the embedding model (ONNX export), the dependencies' licences, the
Elasticsearch index template."""
