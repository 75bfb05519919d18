"""The OpenAPI documents teller serves are true (issue 14, finding 4): schemathesis (`st run`,
every check, positive and negative requests, every phase) over the public, admin and dummy
servers of a real teller on loopback.

Each operation gets a bounded number of generated requests: the same ones on every run when the
hypothesis profile is derandomized (CI; tests/conftest.py), new ones on each local run. The
strategies for the documents' own formats are in openapi_formats.py.

Credentials: `credentials(server, tel)` is the one place that says which headers each server's
requests carry: the admin server's token (README: Security), also for loading its document.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from subprocess import PIPE, STDOUT, Popen

from hypothesis import settings

from .running_teller import SKY_A, SKY_B, SKY_C, RunningTeller, StartTeller

ROOT = Path(__file__).resolve().parents[2]
ST = Path(sys.executable).parent / "st"
EXAMPLES_PER_OPERATION = 5


def credentials(server: str, tel: RunningTeller) -> dict[str, str]:
    """The headers every request to `server` ("public", "admin", "dummy") carries."""
    return tel.admin_headers if server == "admin" else {}


def schemathesis_run(
    base: str, server: str, headers: dict[str, str], bound: list[str], reports: Path
) -> Popen[str]:
    """`st run` over the document at `base`, started (the three servers run at once)."""
    command = [
        str(ST),
        "run",
        f"{base}/openapi.json",
        "--checks=all",
        "--mode=all",
        f"--max-examples={EXAMPLES_PER_OPERATION}",
        "--workers=1",
        "--request-timeout=10",
        "--no-color",
        f"--report-dir={reports}",
        # As the hypothesis profile (tests/conftest.py) says: deterministic in CI (and so no
        # example database), new examples on each local run.
        "--generation-deterministic" if settings().derandomize else "--generation-database=none",
    ]
    for name, value in headers.items():
        command.append(f"--header={name}: {value}")
    env = dict(os.environ)
    env.update(
        SCHEMATHESIS_HOOKS="tests.http.openapi_formats",
        TELLER_TEST_BOUND_BTC=",".join(bound),
        PYTHONPATH=str(ROOT),
    )
    return Popen(command, cwd=reports, env=env, stdout=PIPE, stderr=STDOUT, text=True)


def test_served_openapi_documents_describe_every_answer(
    start_teller: StartTeller, tmp_path: Path
) -> None:
    # BTC only (so the addresses the dummy document's strategy draws are of every coin it
    # lists), the example pools, no limit on bindings.
    tel = start_teller(pool_size=None, max_bound_addrs=0, eth_enabled=False)
    bound = [tel.bind_ok(sky) for sky in (SKY_A, SKY_B, SKY_C)]
    bases = {"public": tel.public, "admin": tel.admin, "dummy": tel.dummy}
    runs = {}
    for server, base in bases.items():
        (tmp_path / server).mkdir()
        headers = credentials(server, tel)
        runs[server] = schemathesis_run(base, server, headers, bound, tmp_path / server)
    failures = []
    for server, run in runs.items():
        output, _ = run.communicate(timeout=300)
        if run.returncode != 0:
            failures.append(f"== {server} server ({bases[server]}):\n{output[-20000:]}")
    assert not failures, "\n".join(failures)
