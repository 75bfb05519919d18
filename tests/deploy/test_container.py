"""deploy/Containerfile: teller's image, built with Podman on a Debian base made here from
Debian's packages (no registry is reachable), run as README "In a container" says, and
used from the host: a bind and a dummy deposit paid and done, the container stopped, the schema
migrated in a second container on the same volume, started again with its data intact.

Skipped, with the reason, where Podman cannot run (no podman, not root); failed instead in CI.
Both images stay in Podman's storage for later runs (tests/deploy/podman.py: a change to src/
alone then reinstalls teller alone); the container and its volume are removed. `make test`
starts making the images at its start (tests/deploy/prepare_image.py) and runs this file last
(tests/conftest.py), so that the other files run meanwhile.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.deploy.podman import Podman, PodmanError, podman_here, teller_image

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CONTAINER_CONFIG = ROOT / "deploy" / "container.toml"
# The ports teller listens on in the container, by what serves there.
PORTS = {"public": 7071, "admin": 7711, "dummy": 4121}
BUYER = "2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXcQW"
DEPOSIT_TX = "c0" * 32
T = TypeVar("T")


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Podman:
    return podman_here(tmp_path_factory.mktemp("podman"))


@pytest.fixture(scope="module")
def image(podman: Podman, tmp_path_factory: pytest.TempPathFactory) -> str:
    return teller_image(podman, tmp_path_factory.mktemp("image"))


def wait_for(condition: Callable[[], T | None], what: str, seconds: float = 60) -> T:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Container:
    """One teller container, as the README runs it: its volume, its mounted config, the three
    ports published on the host's loopback only (a free port each, read from podman)."""

    def __init__(self, podman: Podman, image: str, config: Path) -> None:
        self.podman = podman
        self.image = image
        self.name = f"teller-test-{uuid.uuid4().hex[:12]}"
        self.volume = f"{self.name}-data"
        self.config = config
        self.urls: dict[str, str] = {}

    def run(self) -> None:
        self.podman("volume", "create", self.volume)
        publish = [arg for port in PORTS.values() for arg in ("-p", f"127.0.0.1::{port}")]
        self.podman(
            "run", "--detach", "--name", self.name, *publish,
            "-v", f"{self.config}:/etc/teller/config.toml:ro",
            "-v", f"{self.volume}:/data",
            self.image,
        )  # fmt: skip
        self.wait_ready()

    def wait_ready(self) -> None:
        """Wait until the public API answers on its published port (read again after every
        start: podman may publish on other host ports after a restart)."""
        for server, port in PORTS.items():
            host_port = self.podman("port", self.name, f"{port}/tcp").strip()
            assert host_port.startswith("127.0.0.1:"), host_port  # loopback only
            self.urls[server] = f"http://{host_port}"

        def answers() -> bool:
            if (
                self.podman("inspect", "--format", "{{.State.Running}}", self.name).strip()
                != "true"
            ):
                raise AssertionError(f"the container stopped:\n{self.logs()}")
            try:
                return httpx.get(f"{self.urls['public']}/api/config").status_code == 200
            except httpx.TransportError:
                return False

        wait_for(answers, "teller to answer in the container")

    def logs(self) -> str:
        """What teller wrote to its standard output and error (teller logs to stderr)."""
        return self.podman("logs", self.name, stderr=True)

    def exec(self, *command: str) -> str:
        return self.podman("exec", self.name, *command)

    def admin_headers(self) -> dict[str, str]:
        """The admin token teller made at its first start, read from the data volume."""
        token = self.exec("cat", "/data/admin_token").strip()
        return {"Authorization": f"Bearer {token}"}

    def get(self, server: str, path: str, **kwargs: Any) -> Any:
        response = httpx.get(f"{self.urls[server]}{path}", **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, server: str, path: str, **kwargs: Any) -> httpx.Response:
        response = httpx.post(f"{self.urls[server]}{path}", **kwargs)
        assert response.status_code == 200, response.text
        return response

    def statuses(self) -> list[dict[str, Any]]:
        return list(self.get("public", "/api/status", params={"skyaddr": BUYER})["statuses"])

    def remove(self) -> None:
        for command in (
            ("rm", "--force", "--time", "0", self.name),
            ("volume", "rm", "--force", self.volume),
        ):
            with contextlib.suppress(PodmanError):  # never made: the test failed before
                self.podman(*command)


@pytest.fixture
def container(podman: Podman, image: str, tmp_path: Path) -> Iterator[Container]:
    # The README's config for the container, mounted as the operator mounts theirs; with a
    # rate of its own, to see that the mounted file is the one teller reads.
    config = tmp_path / "config.toml"
    text = CONTAINER_CONFIG.read_text(encoding="utf-8")
    assert 'sky_btc_exchange_rate = "500"' in text
    config.write_text(
        text.replace('sky_btc_exchange_rate = "500"', 'sky_btc_exchange_rate = "400"')
    )
    config.chmod(0o644)
    made = Container(podman, image, config)
    try:
        yield made
    finally:
        made.remove()


def test_teller_in_its_container_keeps_its_data_across_a_restart(container: Container) -> None:
    c = container
    c.run()
    assert c.exec("id", "-u").strip() == "10001"  # not root
    assert "teller ready" in c.logs()  # its log, as `docker logs` shows it
    assert c.get("public", "/api/config")["deposits"]["btc"]["exact_exchange_rate"] == "400"

    address = c.post("public", "/api/bind", json={"skyaddr": BUYER, "coin_type": "BTC"}).json()
    form = {"coin": "BTC", "addr": address["deposit_address"], "value": "12345678",
            "height": "1", "tx": DEPOSIT_TX, "n": "0"}  # fmt: skip
    c.post("dummy", "/dummy/scanner/deposit", data=form)
    [payout] = wait_for(lambda: c.get("dummy", "/dummy/sender/broadcasts"), "the payout")
    assert payout["outputs"] == [{"address": BUYER, "coins": "49.382000"}]  # 0.12345678 × 400
    c.post("dummy", "/dummy/sender/confirm", data={"txid": payout["txid"]})
    wait_for(lambda: c.statuses()[0]["status"] == "done", "the deposit done")
    done = c.statuses()
    headers = c.admin_headers()
    deposits = c.get("admin", "/api/deposits", headers=headers)["deposits"]
    assert [(d["deposit_id"], d["status"]) for d in deposits] == [(f"{DEPOSIT_TX}:0", "done")]
    assert httpx.get(f"{c.urls['admin']}/api/deposits").status_code == 401  # token needed

    c.podman("stop", c.name)  # SIGTERM: teller, process 1 there, stops cleanly
    assert c.podman("inspect", "--format", "{{.State.ExitCode}}", c.name).strip() == "0"
    # An upgrade's step, README "In a container": the schema migrated by a second
    # container on the volume while teller is stopped (here: already up to date).
    mounts = ["-v", f"{c.config}:/etc/teller/config.toml:ro", "-v", f"{c.volume}:/data"]
    migrated = c.podman("run", "--rm", *mounts, c.image, "db", "migrate")
    assert "database schema is up to date" in migrated
    c.podman("start", c.name)
    c.wait_ready()

    assert c.statuses() == done
    assert c.get("dummy", "/dummy/sender/broadcasts") == [payout | {"confirmed": True}]
    assert c.get("admin", "/api/deposits", headers=headers)["deposits"] == deposits
    address_again = c.post(
        "public", "/api/bind", json={"skyaddr": BUYER, "coin_type": "BTC"}
    ).json()
    assert address_again["deposit_address"] != address["deposit_address"]  # the first is taken
    assert len(c.statuses()) == 2
