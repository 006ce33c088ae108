"""Which Host and Origin a request may carry: the defence against DNS rebinding and against other sites' pages.

DNS rebinding: a page on evil.example points its name at 127.0.0.1, and the victim's browser sends the page's
requests to a service on the victim's machine, with `Host: evil.example` (before: accepted, and with no read token
set, reads are open; MCP's transport spec asks servers to validate Origin for this reason). A rebinding attack
needs a DNS name, so every IP literal is allowed as Host, and so are `localhost` (with its subdomains), this
machine's own names and the names listed in PRESSQA_ALLOWED_HOSTS (`*`: any, for a proxy that checks Host itself).

Origin: a browser names the page that sends a request. It must be this service's own page (the same host name as
`Host`; ports may differ behind a proxy that drops them from Host) or an origin of PRESSQA_CORS_ORIGINS. Clients
other than browsers send no Origin and are not concerned.

    policy = HostPolicy.from_environment()
    policy.refusal(headers)   # a Refusal (400 or 403) or None
"""

import ipaddress
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from service.http.auth import Refusal

ALLOWED_HOSTS_ENV = "PRESSQA_ALLOWED_HOSTS"
CORS_ORIGINS_ENV = "PRESSQA_CORS_ORIGINS"


def _comma_list(name: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


def cors_origins() -> list[str]:
    """Origins allowed to call the API from a browser page of theirs (PRESSQA_CORS_ORIGINS, comma-separated)."""
    return _comma_list(CORS_ORIGINS_ENV)


def host_name(host: str) -> str:
    """The name or address of a Host header value or URL authority, without port, brackets or a final dot."""
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:1416
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class HostPolicy:
    """The Host names and the browser origins the service answers."""

    names: frozenset[str]
    any_host: bool
    origins: frozenset[str]

    @classmethod
    def from_environment(cls) -> "HostPolicy":
        listed = {host_name(name) for name in _comma_list(ALLOWED_HOSTS_ENV)}
        own = {host_name(socket.gethostname()), host_name(socket.getfqdn())}
        return cls(names=frozenset({"localhost", *own, *listed} - {"*", ""}), any_host="*" in listed,
                   origins=frozenset(origin.rstrip("/").lower() for origin in cors_origins()))

    def host_allowed(self, host: str) -> bool:
        name = host_name(host)
        return self.any_host or _is_ip(name) or name in self.names or name.endswith(".localhost")

    def origin_allowed(self, origin: str, host: str) -> bool:
        origin = origin.strip().rstrip("/").lower()
        if origin in self.origins:
            return True
        authority = urlsplit(origin).netloc
        return bool(authority) and host_name(authority) == host_name(host)

    def refusal(self, headers: Mapping[str, str]) -> Refusal | None:
        """400 for a Host the service does not answer to, 403 for a browser page of another origin; else None."""
        host = headers.get("host") or ""
        if not self.host_allowed(host):
            return Refusal(400, f"This service does not answer to the host name {host_name(host)[:80]!r}: add it to "
                                f"{ALLOWED_HOSTS_ENV} on the server if it is one of its names.")
        origin = headers.get("origin")
        if origin is not None and not self.origin_allowed(origin, host):
            return Refusal(403, f"Requests from pages of {origin[:80]!r} are not accepted: the service's own page, "
                                f"or an origin listed in {CORS_ORIGINS_ENV}, may call it.")
        return None
