#!/usr/bin/env bash
# Install from Debian's packages the real services the tests use, when they are missing.
set -euo pipefail
missing=()
command -v mosquitto >/dev/null || [[ -x /usr/sbin/mosquitto ]] || missing+=(mosquitto)
command -v redis-server >/dev/null || missing+=(redis-server)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v chromium >/dev/null || missing+=(chromium fonts-dejavu-core)
command -v openssl >/dev/null || missing+=(openssl)  # the TLS broker's test certificates
if (( ${#missing[@]} )); then
  echo "== installing from Debian: ${missing[*]}"
  sudo=$(dirname "$0")/sudo.sh
  $($sudo) apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $($sudo) apt-get install -y -qq \
    "${missing[@]}" >/dev/null
fi
