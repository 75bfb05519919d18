"""Podman for tests/deploy/test_container.py: how it runs on these machines, and the Debian base
image the test builds teller's image on, since no registry can be reached here.

How Podman runs here (Debian 12, as root): a containers.conf with `default_ulimits = []`
(without it: "setrlimit RLIMIT_NOFILE: Operation not permitted"), `--cgroup-manager=cgroupfs
--runtime runc` (crun fails: "cgroups in hybrid mode not supported"), and `--network host` for
builds. The base image: `debootstrap --variant=minbase bookworm`, then `podman import`; it is
kept in Podman's storage under BASE_IMAGE and reused by later runs (a minute or two saved).
teller's image is kept too, under a tag of this checkout's own: the next build's cache.

Both are made by the test, or ahead of it by `make test` in the background
(tests/deploy/prepare_image.py), under one lock (LOCK): whichever comes second waits for the
other and finds them made.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.peers import PODMAN_HINT, require_peer

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = "localhost/teller-test-base:bookworm-minbase"
TELLER_IMAGE = f"localhost/teller-test:{hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]}"
LOCK = ROOT / ".tools" / "container-image.lock"
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
        status, said = run_to_the_end([debootstrap, "--variant=minbase", "bookworm", str(rootfs)])
        if status != 0:
            require_peer("Debian's package mirror", "check the network", why=f"debootstrap: {said}")
        tarball = workdir / "rootfs.tar"  # GNU tar: device nodes, owners and modes as they are
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True)
        remove_rootfs(rootfs)
        podman("import", str(tarball), BASE_IMAGE, timeout=300)
        tarball.unlink()
    try:
        podman("run", "--rm", "--network", "none", BASE_IMAGE, "true")
    except PodmanError as error:
        require_peer("podman", PODMAN_HINT, why=f"it cannot run a container here: {error}")
    return BASE_IMAGE


def run_to_the_end(command: list[str], timeout: float = 900) -> tuple[int, str]:
    """Run `command` in a process group of its own; its exit status and the end of its
    output. Stopped early (a timeout, Ctrl-C, SIGTERM), its group gets SIGTERM first, so that
    debootstrap unmounts what it mounted in the root file system (its exit trap), then SIGKILL."""
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            output, _ = process.communicate(timeout=timeout)
        except BaseException:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
            raise
    return process.returncode, output.strip()[-2000:]


def remove_rootfs(rootfs: Path) -> None:
    """Delete a root file system debootstrap made, unless something is still mounted in it
    (deleting through a mount would delete the mounted files: /dev, /proc)."""
    inside = f"{rootfs}/"
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        mounted = [line.split()[1] for line in mounts if line.split()[1].startswith(inside)]
    if mounted:
        raise RuntimeError(f"left {rootfs} in place: still mounted there: {mounted}")
    shutil.rmtree(rootfs)


def host_ca_bundle() -> Path | None:
    """The CA bundle the host's pip trusts, for pip inside a build (None: the image's own)."""
    for name in HOST_CA_BUNDLES:
        if name and Path(name).is_file():
            return Path(name)
    return None


@contextlib.contextmanager
def image_lock() -> Iterator[None]:
    """Hold LOCK (waiting while another process holds it)."""
    LOCK.parent.mkdir(exist_ok=True)
    with LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def teller_image(podman: Podman, workdir: Path) -> str:
    """TELLER_IMAGE, built from deploy/Containerfile on the Debian base; the image it replaces
    is removed (its layers shared with the new one stay)."""
    with image_lock():
        base = debian_base_image(podman, workdir)
        previous = podman.image_id(TELLER_IMAGE)
        build = ["build", "--network", "host", "--build-arg", f"BASE={base}"]
        ca_bundle = host_ca_bundle()
        if ca_bundle is not None:
            build += ["--volume", f"{ca_bundle}:/run/pip-ca.crt:ro"]
            build += ["--build-arg", "PIP_CA=/run/pip-ca.crt"]
        build += ["--file", str(ROOT / "deploy" / "Containerfile"), "--tag", TELLER_IMAGE]
        podman(*build, str(ROOT), timeout=900)
        if previous is not None and previous != podman.image_id(TELLER_IMAGE):
            with contextlib.suppress(PodmanError):  # still used by a container: left
                podman("rmi", previous)
    return TELLER_IMAGE
