#!/bin/sh
# System programs that some tests run as real peers (the Makefile calls this for `make test`):
#   litecoind  Litecoin Core in regtest: a Bitcoin Core 0.21-style JSON-RPC node (BTC scanner tests)
#   chromium   Debian's browser, driven by Playwright (web page tests)
#   anvil      an Ethereum JSON-RPC node, from npm @foundry-rs/anvil, into .tools/ (ETH scanner tests)
#   pebble     Let's Encrypt's ACME test server (web.auto_tls_host tests, tests/tls)
#   podman, debootstrap, runc   build and run teller's container image (tests/deploy/test_container.py)
# Each is installed only when missing. One more peer, a PostgreSQL server at 127.0.0.1:5432
# (`apt-get install postgresql`, or TELLER_TEST_POSTGRES), is not installed here.
#
# Locally (CI unset) a failed install does not stop `make test`: the tests that need the missing
# program are skipped, each saying which program is missing and how to get it.
# In CI (CI=true) a failed install exits non-zero with the reason, and so stops `make test`;
# the tests would fail on the missing program anyway (tests/peers.py), never skip.
set -u
TOOLS="${TOOLS:-.tools}"
ANVIL_VERSION="1.7.1"

case "$(printf '%s' "${CI:-}" | tr '[:upper:]' '[:lower:]')" in
    true | 1 | yes) ci=1 ;;
    *) ci=0 ;;
esac
failed=""

# A program could not be installed: say so; in CI remember it, to fail at the end.
could_not() {
    if [ "$ci" = 1 ]; then
        echo "install-test-deps: ERROR: $1" >&2
        failed="$failed
  $1"
    else
        echo "install-test-deps: $1 (the tests needing it will be skipped)"
    fi
}

missing=""
command -v litecoind >/dev/null 2>&1 || missing="$missing litecoind"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v pebble >/dev/null 2>&1 || missing="$missing pebble"
for program in podman debootstrap runc; do
    command -v "$program" >/dev/null 2>&1 || missing="$missing $program"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "install-test-deps: apt-get install$missing"
        (apt-get update -qq >/dev/null 2>&1 || true)
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing \
            >/dev/null 2>&1 || could_not "could not install$missing: as root run: apt-get install$missing"
    else
        could_not "missing$missing: as root run: apt-get install$missing"
    fi
fi

if [ ! -x "$TOOLS/node_modules/.bin/anvil" ]; then
    if command -v npm >/dev/null 2>&1; then
        echo "install-test-deps: npm install @foundry-rs/anvil@$ANVIL_VERSION into $TOOLS"
        mkdir -p "$TOOLS"
        npm install --silent --no-audit --no-fund --prefix "$TOOLS" "@foundry-rs/anvil@$ANVIL_VERSION" \
            >/dev/null 2>&1 || could_not "could not install anvil: npm install --prefix $TOOLS @foundry-rs/anvil@$ANVIL_VERSION failed"
    else
        could_not "npm not found, so anvil cannot be installed: apt-get install npm, then make test-deps"
    fi
fi

if [ -n "$failed" ]; then
    echo "install-test-deps: CI=true and test peers are missing:$failed" >&2
    exit 1
fi
exit 0
