"""`python scripts/elasticsearch_setup.py …`: the Elasticsearch index template (shards, replicas, mapping). The code is scripts/install/elasticsearch_setup.py."""

import sys

from scripts.install.elasticsearch_setup import main

if __name__ == "__main__":
    sys.exit(main())
