#!/bin/bash
# Public mode: Caddy answers https://{{hostname}} on 443 with a publicly trusted certificate and
# proxies to Crawl4AI on 127.0.0.1:11235. Run once by bootstrap.sh.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

log() { printf '%s crawl4ai-mcp: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
retry() {
  local attempts=$1 n=1
  shift
  until "$@"; do
    [ "$n" -ge "$attempts" ] && return 1
    sleep $((n * 10))
    n=$((n + 1))
  done
}

# Caddy from Ubuntu's own archive (universe): signed by the Ubuntu archive key, no third-party
# repository. --force-confold keeps the /etc/caddy/Caddyfile cloud-init wrote before the install.
log "installing Caddy (Ubuntu archive)"
retry 5 apt-get -y -q -o DPkg::Lock::Timeout=600 \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  install --no-install-recommends caddy

caddy validate --adapter caddyfile --config /etc/caddy/Caddyfile
systemctl enable caddy.service
systemctl reload-or-restart caddy.service
log "Caddy serves https://{{hostname}} (certificate via TLS-ALPN on 443)"
