"""`make test`'s head start for tests/deploy/test_container.py: the Debian base image and
teller's image, made in the background while the rest of the suite runs (a few minutes on a
fresh machine, seconds once they exist). The test runs last (tests/conftest.py) and finds them
made, or waits for them on the lock (tests/deploy/podman.py).

`python -m tests.deploy.prepare_image`, from the repository's root. It never fails: whatever
goes wrong is the test's to report (with how to install Podman, or the build's error).
"""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

import pytest

from tests.deploy.podman import podman_here, teller_image


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(f"stopped by signal {signum}")  # subprocess.run kills the running command


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="teller-image-") as workdir:
        try:
            image = teller_image(podman_here(Path(workdir)), Path(workdir))
        except (Exception, pytest.skip.Exception, pytest.fail.Exception) as error:
            print(f"prepare_image: not made, the test will say why: {error}", file=sys.stderr)
            return 0
    print(f"prepare_image: {image} made in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
