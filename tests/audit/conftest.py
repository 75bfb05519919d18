"""Fixtures of the audit tests: the peers the audit asks, borrowed from the tests of each peer
(the Skycoin node simulator, anvil, a running teller, the browser)."""

from __future__ import annotations

from ..http.conftest import _every_teller_stopped, start_teller  # noqa: F401
from ..scanners.conftest import anvil, rig  # noqa: F401
from ..skynode.conftest import make_sim, sim, sky_pipeline  # noqa: F401
from ..web.conftest import browser, launcher, open_page  # noqa: F401
