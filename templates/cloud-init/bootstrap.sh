#!/bin/bash
# First-boot installer of a crawl4ai-mcp VM (Ubuntu 24.04 LTS), run once by cloud-init (runcmd).
# Output goes to /var/log/cloud-init-output.log: never print a secret here.
set -euo pipefail
umask 022
export DEBIAN_FRONTEND=noninteractive

LIB=/usr/local/lib/crawl4ai-mcp
# shellcheck source=/dev/null
. /etc/crawl4ai/settings.env
# log, die, retry, apt_get (shared with network-setup.sh)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. /usr/local/lib/crawl4ai-mcp/lib.sh

# Docker: docker.io from Ubuntu's own archive. It is signed by the Ubuntu archive key the image
# already trusts and gets Ubuntu security updates, so no third-party repository or key is needed.
# Docker's own repository would give a newer engine, which Crawl4AI does not need.
log "installing Docker (docker.io from the Ubuntu archive)"
retry 5 apt_get update
retry 5 apt_get install --no-install-recommends docker.io iptables curl ca-certificates gnupg
systemctl enable --now docker.service

# The metadata-service block must hold before any container runs.
systemctl daemon-reload
systemctl enable --now crawl4ai-egress-guard.service

log "pulling $CRAWL4AI_IMAGE"
retry 6 docker pull -q "$CRAWL4AI_IMAGE"
systemctl enable --now crawl4ai.service crawl4ai-health.timer

log "setting up the $CRAWL4AI_NETWORK network mode"
"$LIB/network-setup.sh"

log "waiting for Crawl4AI on 127.0.0.1:11235"
for _ in $(seq 1 60); do
  if curl -fsS -m 5 -o /dev/null http://127.0.0.1:11235/health; then
    mkdir -p /var/lib/crawl4ai-mcp
    date -u +%Y-%m-%dT%H:%M:%SZ >/var/lib/crawl4ai-mcp/bootstrap.done
    log "Crawl4AI is healthy; bootstrap of $CRAWL4AI_DEPLOYMENT done"
    exit 0
  fi
  sleep 5
done
die "Crawl4AI did not answer /health within 5 minutes (see: journalctl -u crawl4ai)"
