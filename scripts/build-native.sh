#!/usr/bin/env bash
# Builds the native addon the proxy can use (native/original-dst: SO_ORIGINAL_DST for iptables
# capture) into native/original-dst/build/Release/original_dst.node. Offline: node-gyp is given
# the installed Node's headers (--nodedir), so it downloads nothing. The addon uses Node-API
# only, so headers of any Node version with Node-API 8 do. Without a build the proxy falls back
# to the socket's local address, so a failed build is reported and is not fatal unless
# WEFT_NATIVE_REQUIRED=1.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
addon="$root/native/original-dst"

if [[ "$(uname -s)" != Linux ]]; then
  echo "build-native: SO_ORIGINAL_DST is Linux-only; skipping the original-dst addon"
  exit 0
fi

fail() {
  echo "build-native: $1" >&2
  if [[ "${WEFT_NATIVE_REQUIRED:-0}" == 1 ]]; then exit 1; fi
  echo "build-native: the proxy will use the socket's local address as the original destination" >&2
  exit 0
}

# A directory with include/node/node_api.h: $WEFT_NODEDIR, the running Node's own prefix, the
# platform package beside an npm-installed `node`, or the system's headers.
find_nodedir() {
  local exec_path prefix candidate
  exec_path="$(node -p 'require("node:fs").realpathSync(process.execPath)')"
  prefix="$(dirname "$(dirname "$exec_path")")"
  for candidate in "${WEFT_NODEDIR:-}" "$prefix" "$prefix"/node_modules/node-linux-* /usr/local /usr; do
    if [[ -n "$candidate" && -f "$candidate/include/node/node_api.h" ]]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# node-gyp from PATH, else the copy bundled with npm.
find_node_gyp() {
  if command -v node-gyp >/dev/null 2>&1; then
    command -v node-gyp
    return 0
  fi
  local npm_cli
  npm_cli="$(readlink -f "$(command -v npm 2>/dev/null)" 2>/dev/null || true)"
  local bundled
  bundled="$(dirname "$(dirname "$npm_cli")")/node_modules/node-gyp/bin/node-gyp.js"
  if [[ -n "$npm_cli" && -f "$bundled" ]]; then
    echo "$bundled"
    return 0
  fi
  return 1
}

nodedir="$(find_nodedir)" || fail "no Node headers found (set WEFT_NODEDIR to a directory with include/node/node_api.h)"

cd "$addon"
if node_gyp="$(find_node_gyp)" && [[ -f "$nodedir/include/node/common.gypi" ]]; then
  echo "build-native: node-gyp rebuild --nodedir=$nodedir"
  node "$node_gyp" rebuild --nodedir="$nodedir" --loglevel=warn || fail "node-gyp failed"
else
  # Node-API needs no gyp settings: a shared object whose Node symbols resolve at load time.
  echo "build-native: node-gyp unavailable; compiling with cc against $nodedir/include/node"
  mkdir -p build/Release
  cc -shared -fPIC -O2 -Wall -Wextra -I"$nodedir/include/node" original_dst.c -o build/Release/original_dst.node || fail "cc failed"
fi
echo "build-native: built $addon/build/Release/original_dst.node"
