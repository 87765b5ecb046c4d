#!/bin/sh
# Build fsgate's virtualenv: the Dockerfile's install step, run as-is by the tests
# (tests/deploy/test_dockerfile.py). Run from the source directory.
# Usage: sh deploy/docker/install.sh PREFIX
set -eu
prefix=${1:?usage: install.sh PREFIX}
python3 -m venv "$prefix"
"$prefix/bin/python" -m pip install --upgrade pip
"$prefix/bin/python" -m pip install '.[server]'  # the server runs here, not only the client
"$prefix/bin/fsgate" --help >/dev/null  # the entry point resolves and imports
"$prefix/bin/fsgate" serve --help >/dev/null  # and the server extra is there
