#!/bin/sh
# Install the tools `make bench` needs that are not Python packages: wrk, the HTTP load
# generator. Idempotent: does nothing when wrk is already on PATH; otherwise installs the
# Debian package (needs root, or sudo).
set -eu

if command -v wrk >/dev/null 2>&1; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-tools.sh: wrk is missing and this is not root: apt-get install wrk" >&2
        exit 1
    fi
fi

echo "install-tools.sh: installing wrk (apt-get)" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
command -v wrk >/dev/null 2>&1
