"""Podman for tests/deploy/test_container.py: how it runs on these machines, and the Debian base
image the test builds teller's image on, since no registry can be reached here.

How Podman runs here (Debian 12, as root): a containers.conf with `default_ulimits = []`
(without it: "setrlimit RLIMIT_NOFILE: Operation not permitted"), `--cgroup-manager=cgroupfs
--runtime runc` (crun fails: "cgroups in hybrid mode not supported"), and `--network host` for
builds. The base image: `debootstrap --variant=minbase bookworm`, then `podman import`; it is
kept in Podman's storage under BASE_IMAGE and reused by later runs (a minute or two saved).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.peers import PODMAN_HINT, require_peer

BASE_IMAGE = "localhost/teller-test-base:bookworm-minbase"
CONTAINERS_CONF = "# written by tests/deploy/podman.py\n[containers]\ndefault_ulimits = []\n"
# Where pip inside a build finds the CAs the host trusts (a TLS-intercepting proxy's, on these
# machines): PIP_CERT if the host's pip uses one, else Debian's system bundle.
HOST_CA_BUNDLES = (os.environ.get("PIP_CERT", ""), "/etc/ssl/certs/ca-certificates.crt")


class PodmanError(RuntimeError):
    """A podman command failed: its command line, exit status and output."""


@dataclass(frozen=True)
class Podman:
    """The podman command with the options it needs here."""

    executable: str
    conf: Path

    def __call__(self, *args: str, timeout: float = 120.0, stderr: bool = False) -> str:
        """Run `podman ARGS`; its standard output (and error, with `stderr`), or PodmanError
        with everything it said."""
        command = [self.executable, "--cgroup-manager=cgroupfs", "--runtime", "runc", *args]
        env = os.environ | {"CONTAINERS_CONF": str(self.conf)}
        result = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
        if result.returncode != 0:
            said = (result.stdout + result.stderr).strip()[-4000:]
            raise PodmanError(f"{' '.join(command)}: exit status {result.returncode}\n{said}")
        return result.stdout + (result.stderr if stderr else "")

    def image_id(self, name: str) -> str | None:
        """The ID of the image named `name`; None if there is none."""
        if not self.exists("image", name):
            return None
        return self("image", "inspect", "--format", "{{.Id}}", name).strip()

    def exists(self, kind: str, name: str) -> bool:
        """Whether an image or container (`kind`) named `name` is in Podman's storage."""
        try:
            self(kind, "exists", name)
        except PodmanError:
            return False
        return True


def podman_here(workdir: Path) -> Podman:
    """Podman, checked to run containers here; else the test is skipped (failed in CI) with
    the reason and how to install it."""
    executable = shutil.which("podman")
    if executable is None:
        require_peer("podman", PODMAN_HINT)
    if os.geteuid() != 0:
        require_peer(
            "podman as root", "run the tests as root", why="debootstrap and rootful podman"
        )
    conf = workdir / "containers.conf"
    conf.write_text(CONTAINERS_CONF, encoding="utf-8")
    podman = Podman(executable, conf)
    try:
        podman("info", "--format", "{{.Host.OCIRuntime.Name}}")
    except PodmanError as error:
        require_peer("podman", PODMAN_HINT, why=f"it cannot run here: {error}")
    return podman


def debian_base_image(podman: Podman, workdir: Path) -> str:
    """BASE_IMAGE, made from Debian's packages unless Podman's storage holds it already, and
    checked to run a container."""
    if not podman.exists("image", BASE_IMAGE):
        debootstrap = shutil.which("debootstrap")
        if debootstrap is None:
            require_peer("debootstrap", PODMAN_HINT, why=f"builds {BASE_IMAGE}")
        rootfs = workdir / "rootfs"
        result = subprocess.run(
            [debootstrap, "--variant=minbase", "bookworm", str(rootfs)],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if result.returncode != 0:
            said = (result.stdout + result.stderr).strip()[-2000:]
            require_peer("Debian's package mirror", "check the network", why=f"debootstrap: {said}")
        tarball = workdir / "rootfs.tar"  # GNU tar: device nodes, owners and modes as they are
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True)
        shutil.rmtree(rootfs)
        podman("import", str(tarball), BASE_IMAGE, timeout=300)
        tarball.unlink()
    try:
        podman("run", "--rm", "--network", "none", BASE_IMAGE, "true")
    except PodmanError as error:
        require_peer("podman", PODMAN_HINT, why=f"it cannot run a container here: {error}")
    return BASE_IMAGE


def host_ca_bundle() -> Path | None:
    """The CA bundle the host's pip trusts, for pip inside a build (None: the image's own)."""
    for name in HOST_CA_BUNDLES:
        if name and Path(name).is_file():
            return Path(name)
    return None
