"""The [[webhooks]] tables (config/webhooks.py, secret_files.py): refused at start with one clear
line each, never echoing a secret; the secret from the file, a file, or the environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from teller.config.secret_files import exposed_secret_files, webhook_secret

from .test_config import load, problems_of


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    for name in ("btc.json", "eth.json"):
        (tmp_path / name).write_text('{"addresses": []}')
    return tmp_path


def hooks(**settings: Any) -> dict[str, Any]:
    return {"webhooks": [{"url": "https://receiver.example/hook", "secret": "s3cret", **settings}]}


def test_a_webhook_with_defaults_takes_every_event(config_dir: Path) -> None:
    config = load(config_dir, hooks())
    (hook,) = config.webhooks
    assert len(hook.event_set()) == 7 and "alert.watch" in hook.event_set()
    assert hook.max_attempts == 20 and hook.timeout.total_seconds() == 10
    assert webhook_secret(hook) == b"s3cret"
    assert config.redacted()["webhooks"][0]["secret"] == "<redacted>"
    assert "s3cret" not in repr(config)


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"url": "http://receiver.example/hook"}, "webhooks[1].url http://receiver.example/hook is"
         " plain HTTP to a host that is not loopback"),
        ({"url": "ftp://x/"}, "webhooks[1].url must be an https:// URL"),
        ({"events": ["deposit.done", "deposit.paid"]}, "webhooks[1].events: unknown event"
         " deposit.paid; known events are binding.created,"),
        ({"secret": ""}, "webhooks[1]: a secret is needed to sign the events"),
        ({"secret_file": "hook.secret"}, "webhooks[1]: give secret or secret_file, not both"),
        ({"max_attempts": 0}, "webhooks[1].max_attempts must be >= 1, got 0"),
        ({"timeout": "0s"}, "webhooks[1].timeout must be more than 0"),
    ],
)  # fmt: skip
def test_bad_webhooks_are_refused(config_dir: Path, settings: dict[str, Any], problem: str) -> None:
    problems = problems_of(config_dir, hooks(**settings))
    assert len(problems) == 1, problems
    assert problems[0].startswith(problem)
    assert "s3cret" not in problems[0]


def test_plain_http_is_allowed_to_a_loopback_receiver(config_dir: Path) -> None:
    config = load(config_dir, hooks(url="http://127.0.0.1:8000/hook"))
    assert config.webhooks[0].url == "http://127.0.0.1:8000/hook"


def test_the_secret_may_come_from_a_file(config_dir: Path) -> None:
    secret_file = config_dir / "hook.secret"
    secret_file.write_text("from-a-file\n")
    secret_file.chmod(0o644)
    config = load(config_dir, hooks(secret="", secret_file="hook.secret"))
    assert webhook_secret(config.webhooks[0]) == b"from-a-file"
    exposed = exposed_secret_files(config, None)
    assert [e.key for e in exposed] == ["webhooks[1].secret_file"]
    missing = problems_of(config_dir, hooks(secret="", secret_file="nowhere"))
    assert missing[0].startswith("webhooks[1].secret_file ")
    assert "cannot be read" in missing[0]


def test_webhooks_may_come_from_the_environment(config_dir: Path) -> None:
    hook = {"url": "https://r.example/", "secret": "env-secret", "events": ["deposit.done"]}
    config = load(config_dir, env={"TELLER_WEBHOOKS": json.dumps([hook])})
    assert config.webhooks[0].event_set() == frozenset({"deposit.done"})
    assert webhook_secret(config.webhooks[0]) == b"env-secret"
    problems = problems_of(config_dir, env={"TELLER_WEBHOOKS": "not json"})
    assert problems == ["webhooks: expected an array of tables, got a string"]
