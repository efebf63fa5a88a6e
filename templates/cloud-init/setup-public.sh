#!/bin/bash
# Public mode: Caddy answers https://{{hostname}} on 443 with a publicly trusted certificate and
# proxies to Crawl4AI on 127.0.0.1:11235. Run once by bootstrap.sh.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# shellcheck source-path=SCRIPTDIR source=lib.sh
. /usr/local/lib/crawl4ai-mcp/lib.sh

# Caddy from Ubuntu's own archive (universe): signed by the Ubuntu archive key, no third-party
# repository. --force-confold keeps the /etc/caddy/Caddyfile cloud-init wrote before the install.
log "installing Caddy (Ubuntu archive)"
retry 5 apt_get install --no-install-recommends caddy

caddy validate --adapter caddyfile --config /etc/caddy/Caddyfile
systemctl enable caddy.service
systemctl reload-or-restart caddy.service
log "Caddy serves https://{{hostname}} (certificate via TLS-ALPN on 443)"
