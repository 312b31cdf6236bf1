"""Engine adapters: one protocol over OpenSearch and Elasticsearch."""
