#!/bin/bash
# Idle auto-stop, run every minute by crawl4ai-health.timer (after healthcheck.sh): stops the VM after
# IDLE_STOP_MINUTES without a crawl request, so an unused crawler stops costing compute.
# A guest power-off ends compute billing on AWS (the instance is launched with
# InstanceInitiatedShutdownBehavior=stop) and on GCP (the instance goes TERMINATED); the disk
# and a static address are still billed. The next tool call starts it again (or `start`).
# On Azure (IDLE_STOP_ACTION=azure-deallocate) a power-off leaves the VM allocated and billed, so
# the VM's own managed identity asks Resource Manager to deallocate it; its role allows only that,
# on this VM. If that fails, the reason goes to the console and the VM powers off anyway.
#
# "Activity" is any of, read each minute:
#   1. Crawl4AI's own request counter (/metrics, http_requests_total) moved, not counting
#      /health, /metrics and /monitor/*: `status` and health checks do not keep the VM up.
#   2. A TCP connection to Crawl4AI is open: a request is in flight (a long crawl).
#   3. Crawl4AI's container is busy (/monitor/health cpu_percent >= IDLE_BUSY_CPU):
#      a background job (/crawl/job) runs without any connection open.
# Crawl4AI's own figures are used, not a proxy's access log, because tunnel mode has no proxy
# log (cloudflared logs no requests) and both network modes reach Crawl4AI on 127.0.0.1:11235.
# If Crawl4AI does not answer, nothing counts as activity: a broken VM stops too.
set -euo pipefail

CONFIG=${IDLE_STOP_CONFIG:-/etc/crawl4ai/settings.env}
IDLE_STOP_MINUTES=0
IDLE_BUSY_CPU=10
CRAWL4AI_URL=http://127.0.0.1:11235
CRAWL4AI_ENV_FILE=/etc/crawl4ai/crawl4ai.env
# On tmpfs: a fresh boot starts with no state, and that first run counts as activity, so a VM
# woken by a tool call is not stopped before the call reaches it.
STATE_DIR=/run/crawl4ai-mcp/idle
{{#azureDeallocate}}
IDLE_STOP_ACTION=poweroff
# Azure's endpoints; the settings file may point them elsewhere (tests only)
AZURE_IMDS_URL=http://169.254.169.254
AZURE_ARM_URL=https://management.azure.com
{{/azureDeallocate}}
# shellcheck source=/dev/null
[ -r "$CONFIG" ] && . "$CONFIG"

{{#azureDeallocate}}
# On Azure, `scale --idle-stop` changes the VM's userData (IDLE_STOP_MINUTES=N), which IMDS serves
# and Azure lets change at any time; cloud-init reads it nowhere, so it is read here, each minute.
if [ "$IDLE_STOP_ACTION" = azure-deallocate ]; then
  if ud=$(curl -fsS -m 5 -H Metadata:true "$AZURE_IMDS_URL/metadata/instance/compute/userData?api-version=2021-01-01&format=text" 2>/dev/null); then
    m=$(printf %s "$ud" | base64 -d 2>/dev/null | sed -n 's/^IDLE_STOP_MINUTES=\([0-9][0-9]*\)$/\1/p' | tail -n 1)
    [ -n "$m" ] && IDLE_STOP_MINUTES=$m
  fi
fi
{{/azureDeallocate}}
# 0 = off (minutes are checked when rendered; a bad value fails the arithmetic below)
[ "${IDLE_STOP_MINUTES:-0}" != 0 ] || exit 0

mkdir -p "$STATE_DIR"
now=$(date +%s)
port=${CRAWL4AI_URL##*:}

# The token reaches curl on stdin (-K -), never in argv.
c4ai() {
  printf 'header = "Authorization: Bearer %s"\n' "$(sed -n 's/^CRAWL4AI_API_TOKEN=//p' "$CRAWL4AI_ENV_FILE")" |
    curl -fsS -m 10 -K - "$CRAWL4AI_URL$1" 2>/dev/null
}

last=$STATE_DIR/last-activity
count=$STATE_DIR/requests
[ -s "$last" ] || echo "$now" >"$last"

active=""
# requests served, without /health, /metrics and /monitor/*
if served=$(c4ai /metrics | awk '/^http_requests_total/ && !/handler="\/(health|metrics|monitor)/ { t += $NF } END { printf "%d", t }'); then
  # a counter that moved (or went back: Crawl4AI restarted) means requests were served
  [ -s "$count" ] && [ "$served" != "$(cat "$count")" ] && active=served
  echo "$served" >"$count"
fi
# a request in flight (a long crawl)
[ -z "$active" ] && [ "$(ss -Htn state established "( dport = :$port )" | wc -l)" -gt 0 ] && active=in-flight
# a background job working: Crawl4AI's own CPU figure
if [ -z "$active" ]; then
  cpu=$(c4ai /monitor/health | sed -n 's/.*"cpu_percent" *: *\([0-9.]*\).*/\1/p') || true
  [ -n "$cpu" ] && awk -v c="$cpu" -v t="$IDLE_BUSY_CPU" 'BEGIN { exit !(c >= t) }' && active=busy
fi

if [ -n "$active" ]; then
  echo "$now" >"$last"
  exit 0
fi
idle=$((now - $(cat "$last")))
{{#azureDeallocate}}
# on the serial console too, so the cloud's console output says why the VM stopped
say() { echo "crawl4ai-mcp: $*" | tee /dev/console 2>/dev/null || true; }

# Azure: deallocate this VM through Resource Manager with the VM's managed identity (token from
# IMDS). The token reaches curl on stdin, never in argv. Prints why on failure.
azure_deallocate() {
  local token id code out
  out=$(mktemp)
  token=$(curl -fsS -m 10 -H Metadata:true "$AZURE_IMDS_URL/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F" 2>"$out" |
    sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p') || true
  if [ -z "$token" ]; then
    echo "no token from the VM's managed identity (IMDS): $(head -c 200 "$out")"
    rm -f "$out"
    return 1
  fi
  if ! id=$(curl -fsS -m 10 -H Metadata:true "$AZURE_IMDS_URL/metadata/instance/compute/resourceId?api-version=2021-02-01&format=text" 2>"$out"); then
    echo "IMDS did not say this VM's resource id: $(head -c 200 "$out")"
    rm -f "$out"
    return 1
  fi
  code=$(printf 'header = "Authorization: Bearer %s"\n' "$token" |
    curl -sS -m 30 -K - -X POST -H 'Content-Length: 0' -o "$out" -w '%{http_code}' "$AZURE_ARM_URL$id/deallocate?api-version=2024-07-01" 2>&1) || true
  if [ "$code" = 200 ] || [ "$code" = 202 ]; then
    rm -f "$out"
    return 0
  fi
  # ARM's error code names what is missing, e.g. AuthorizationFailed (the role assignment is gone)
  echo "Resource Manager answered $code: $(sed -n 's/.*"code" *: *"\([^"]*\)".*/\1/p' "$out" | head -n 1)"
  rm -f "$out"
  return 1
}
{{/azureDeallocate}}
if [ "$idle" -ge $((IDLE_STOP_MINUTES * 60)) ]; then
{{#azureDeallocate}}
  if [ "$IDLE_STOP_ACTION" = azure-deallocate ]; then
    if why=$(azure_deallocate); then
      say "idle $((idle / 60)) min: deallocating (Azure shuts the VM down and stops billing its compute)"
      exit 0
    fi
    say "idle $((idle / 60)) min: could not deallocate ($why); powering off: the VM stays allocated and its compute is still billed until \`crawl4ai-mcp stop\`"
    systemctl poweroff
    exit 0
  fi
{{/azureDeallocate}}
  # on the serial console too, so the cloud's console output says why the VM stopped
  echo "crawl4ai-mcp: idle $((idle / 60)) min: powering off" | tee /dev/console 2>/dev/null || true
  systemctl poweroff
fi
