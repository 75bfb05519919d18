"""The pages teller ships: the buyer's page (public server) and the admin dashboard (admin).

Both are plain files (HTML, ES modules, CSS, JSON strings), served as they are: no build step.
They are served with a strict Content-Security-Policy (only teller's own scripts, styles,
images and API; no inline code, no other site), and with `Cache-Control: no-cache` so a
browser checks for a newer page after an upgrade (answers are 304 while nothing changed).

A page of the operator's own (`web.static_dir`) is served without that policy: it may need
inline code or other sites, which are the operator's choice.
"""

from __future__ import annotations

from pathlib import Path

from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WEB_DIR = Path(__file__).resolve().parent / "web"
ADMIN_WEB_DIR = Path(__file__).resolve().parent / "admin_web"

PAGE_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)


class PolicyHeaders:
    """Adds the page policy and no-cache to every answer of the wrapped file server."""

    def __init__(self, app: ASGIApp, policy: str = PAGE_POLICY) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", policy.encode()),
            (b"cache-control", b"no-cache"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name for name, _ in headers}
                headers.extend(h for h in self.headers if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def page_files(directory: Path, *, shipped: bool) -> ASGIApp:
    """The file server of a page folder (index.html at "/"); with the page policy if the
    folder is one teller ships."""
    files = StaticFiles(directory=directory, html=True)
    return PolicyHeaders(files) if shipped else files
