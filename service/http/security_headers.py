"""Response headers that a browser enforces: the page's Content-Security-Policy (with frame-ancestors, which the
page's own <meta> tag cannot set), no framing, no MIME sniffing, no referrer.

    app.add_middleware(SecurityHeaders)
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The page runs only its own script and styles, whatever text a release contains, and no other site may frame
# it (clickjacking). The same policy as the page's <meta> tag, plus frame-ancestors.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_PAGE_PATHS = ("/", "/static/")
_EVERY_RESPONSE = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeaders:
    """Adds the headers above to every HTTP response; the CSP goes on the page and its static files only
    (Hayhooks' /docs loads Swagger UI from a CDN, which the page's policy would block)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        is_page = path == "/" or path.startswith(_PAGE_PATHS[1])
        extra = _EVERY_RESPONSE + ([(b"content-security-policy", PAGE_CSP.encode())] if is_page else [])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []), *(h for h in extra if h[0] not in present)]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
