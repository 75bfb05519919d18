#!/bin/sh
# System programs that some tests run as real peers (the Makefile calls this for `make test`):
#   litecoind  Litecoin Core in regtest: a Bitcoin Core 0.21-style JSON-RPC node (BTC scanner tests)
#   chromium   Debian's browser, driven by Playwright (web page tests)
#   anvil      an Ethereum JSON-RPC node, from npm @foundry-rs/anvil, into .tools/ (ETH scanner tests)
# Each is installed only when missing. A failed install does not stop `make test`: the tests
# that need the missing program are skipped and say which program is missing and how to get it.
set -u
TOOLS="${TOOLS:-.tools}"
ANVIL_VERSION="1.7.1"

missing=""
command -v litecoind >/dev/null 2>&1 || missing="$missing litecoind"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "install-test-deps: apt-get install$missing"
        (apt-get update -qq >/dev/null 2>&1 || true)
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing \
            >/dev/null 2>&1 || echo "install-test-deps: could not install$missing (tests needing it will be skipped)"
    else
        echo "install-test-deps: missing$missing; as root run: apt-get install$missing"
    fi
fi

if [ ! -x "$TOOLS/node_modules/.bin/anvil" ]; then
    if command -v npm >/dev/null 2>&1; then
        echo "install-test-deps: npm install @foundry-rs/anvil@$ANVIL_VERSION into $TOOLS"
        mkdir -p "$TOOLS"
        npm install --silent --no-audit --no-fund --prefix "$TOOLS" "@foundry-rs/anvil@$ANVIL_VERSION" \
            >/dev/null 2>&1 || echo "install-test-deps: could not install anvil (ETH node tests will be skipped)"
    else
        echo "install-test-deps: npm not found; ETH node tests will be skipped"
    fi
fi
exit 0
