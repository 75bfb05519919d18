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
from starlette.types import ASGIApp

from teller.http.middleware import PathHeaders

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


# Added to every answer of the shipped pages' file server.
PAGE_HEADERS = [
    (b"content-security-policy", PAGE_POLICY.encode()),
    (b"cache-control", b"no-cache"),
]


def page_files(directory: Path, *, shipped: bool) -> ASGIApp:
    """The file server of a page folder (index.html at "/"); with the page policy if the
    folder is one teller ships."""
    files = StaticFiles(directory=directory, html=True)
    return PathHeaders(files, paths=None, headers=PAGE_HEADERS) if shipped else files
