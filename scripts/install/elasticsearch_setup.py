"""Apply the press-releases index template to an Elasticsearch cluster; optionally create the index and
change the replica count of the live index.

The Haystack store creates its index with a mapping only, so shards and replicas come from this
template (docker/elasticsearch/index-template.json), which also carries the full field mapping.
Every step is idempotent.

  python scripts/elasticsearch_setup.py --dry-run                       print the requests, send nothing
  python scripts/elasticsearch_setup.py --create-index                  template (3 shards, 1 replica) + index
  python scripts/elasticsearch_setup.py --replicas 2 --live             2 replicas, also on the live index

The cluster: --url or ELASTICSEARCH_URL (comma-separated URLs; `https://user:password@host:9200` for
basic auth), ELASTICSEARCH_API_KEY for an API key instead, ELASTICSEARCH_CA_CERTS for a private CA.
"""

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

TEMPLATE_FILE = Path(__file__).resolve().parents[2] / "docker" / "elasticsearch" / "index-template.json"
DEFAULT_INDEX = "press-releases"
JSON_HEADERS = {"accept": "application/json", "content-type": "application/json"}


@dataclass
class Request:
    method: str
    path: str
    body: dict[str, Any] | None = None
    note: str = ""

    def describe(self) -> str:
        """The request as Kibana's Dev Tools console would take it."""
        head = f"{self.method} {self.path}" + (f"    # {self.note}" if self.note else "")
        return head + ("\n" + json.dumps(self.body, indent=2) if self.body is not None else "")


def load_template(path: Path = TEMPLATE_FILE) -> dict[str, Any]:
    """The index template as committed (the body of PUT _index_template/…)."""
    return json.loads(path.read_text(encoding="utf-8"))


def template_for(index: str, shards: int, replicas: int, path: Path = TEMPLATE_FILE) -> dict[str, Any]:
    """The template body for indices named `<index>*` with the given shard and replica counts."""
    body = load_template(path)
    settings = body["template"]["settings"]["index"]
    settings["number_of_shards"] = shards
    settings["number_of_replicas"] = replicas
    body["index_patterns"] = [f"{index}*"]
    # A template for another name (a test, a re-index target) overlaps press-releases*; Elasticsearch
    # rejects overlapping templates of equal priority, so the longer (more specific) prefix ranks higher.
    body["priority"] += len(index) - len(DEFAULT_INDEX)
    return body


def plan(index: str, shards: int, replicas: int, create_index: bool, live: bool) -> list[Request]:
    """The requests that make the cluster match these settings, in order."""
    requests = [Request("PUT", f"/_index_template/{index}", template_for(index, shards, replicas))]
    if create_index:
        requests.append(
            Request(
                "PUT", f"/{index}", None, "skipped if the index exists; settings and mapping come from the template"
            )
        )
    if live:
        requests.append(
            Request(
                "PUT",
                f"/{index}/_settings",
                {"index": {"number_of_replicas": replicas}},
                "replicas only: shards are fixed at creation",
            )
        )
    return requests


def redact(urls: str) -> str:
    """The URLs without their passwords, for printing."""
    parts = []
    for url in urls.split(","):
        split = urlsplit(url.strip())
        if split.password:
            split = split._replace(
                netloc=f"{split.username}:***@{split.hostname}" + (f":{split.port}" if split.port else "")
            )
        parts.append(urlunsplit(split))
    return ",".join(parts)


def connect(urls: str):
    """An Elasticsearch client for `urls`, with the API key and CA file from the environment, if set."""
    from elasticsearch import Elasticsearch

    options: dict[str, Any] = {}
    if api_key := os.environ.get("ELASTICSEARCH_API_KEY"):
        options["api_key"] = api_key
    if ca_certs := os.environ.get("ELASTICSEARCH_CA_CERTS"):
        options["ca_certs"] = ca_certs
    return Elasticsearch([u.strip() for u in urls.split(",") if u.strip()], **options)


def send(client, requests: list[Request], shards: int) -> None:
    """Send `requests`; index creation only if the index is missing."""
    for request in requests:
        index = request.path.strip("/").split("/")[0]
        if request.method == "PUT" and request.path == f"/{index}" and client.indices.exists(index=index):
            current = client.indices.get_settings(index=index)[index]["settings"]["index"]["number_of_shards"]
            note = (
                ""
                if int(current) == shards
                else f"; it has {current} shards, not {shards}: only a re-index changes that"
            )
            print(f"{request.method} {request.path}: exists, left as it is{note}")
            continue
        response = client.perform_request(request.method, request.path, headers=JSON_HEADERS, body=request.body)
        print(f"{request.method} {request.path}: {response.meta.status} {json.dumps(response.body)}")


def main(argv: list[str] | None = None) -> int:
    defaults = load_template()["template"]["settings"]["index"]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument(
        "--url",
        default=os.environ.get("ELASTICSEARCH_URL", "http://localhost:9200"),
        help="cluster URL(s), comma-separated (default: ELASTICSEARCH_URL or http://localhost:9200)",
    )
    parser.add_argument(
        "--index", default=DEFAULT_INDEX, help=f"index name; the template covers <index>* (default {DEFAULT_INDEX})"
    )
    parser.add_argument(
        "--shards",
        type=int,
        default=defaults["number_of_shards"],
        help="primary shards of new indices (default %(default)s); fixed once an index exists",
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=defaults["number_of_replicas"],
        help="copies of each shard (default %(default)s); 0 on a single node",
    )
    parser.add_argument("--create-index", action="store_true", help="also create the index if it does not exist")
    parser.add_argument("--live", action="store_true", help="also set --replicas on the existing index")
    parser.add_argument("--dry-run", action="store_true", help="print the requests, send nothing")
    args = parser.parse_args(argv)
    if args.shards < 1 or args.replicas < 0:
        parser.error("--shards must be at least 1 and --replicas at least 0")

    requests = plan(args.index, args.shards, args.replicas, args.create_index, args.live)
    if args.dry_run:
        print(f"# dry run: would send to {redact(args.url)}")
        print("\n\n".join(r.describe() for r in requests))
        return 0
    from elasticsearch import ApiError, TransportError

    client = connect(args.url)
    try:
        send(client, requests, args.shards)
    except (ApiError, TransportError) as error:
        print(f"elasticsearch_setup: {redact(args.url)}: {error}", file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
