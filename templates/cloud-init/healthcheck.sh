#!/bin/bash
# Run every minute by crawl4ai-health.timer. Docker does not restart an unhealthy container, and
# systemd only restarts one that exits, so a hung Crawl4AI is restarted here after 3 failed
# /health checks in a row. A unit that is not active is left to systemd's Restart=.
set -euo pipefail

STATE_DIR=/run/crawl4ai-mcp
FAILURES=$STATE_DIR/health-failures
GRACE_SECONDS=120
mkdir -p "$STATE_DIR"

systemctl is-active --quiet crawl4ai.service || exit 0

# Grace period after a (re)start: Chromium pools and Redis take a while to come up.
since_us=$(systemctl show -p ActiveEnterTimestampMonotonic --value crawl4ai.service)
now_us=$(awk '{ printf "%d", $1 * 1000000 }' /proc/uptime)
if [ $(((now_us - since_us) / 1000000)) -lt "$GRACE_SECONDS" ]; then
  exit 0
fi

if curl -fsS -m 10 -o /dev/null http://127.0.0.1:11235/health; then
  echo 0 >"$FAILURES"
  exit 0
fi

count=$(($(cat "$FAILURES" 2>/dev/null || echo 0) + 1))
if [ "$count" -ge 3 ]; then
  echo "Crawl4AI failed $count health checks in a row: restarting crawl4ai.service"
  echo 0 >"$FAILURES"
  systemctl restart crawl4ai.service
else
  echo "$count" >"$FAILURES"
  echo "Crawl4AI health check failed ($count of 3)"
fi
