# shellcheck shell=bash
# Helpers shared by the first-boot scripts of a crawl4ai-mcp VM (bootstrap.sh, network-setup.sh).
# cloud-init writes this file to /usr/local/lib/crawl4ai-mcp/lib.sh (root-owned, 0644) and the
# scripts source it from there; it runs nothing itself. Output goes to
# /var/log/cloud-init-output.log: never print a secret here.

log() { printf '%s crawl4ai-mcp: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
die() { log "ERROR: $*"; exit 1; }
# retry ATTEMPTS COMMAND...: first boot races the network, mirrors and apt-daily.
retry() {
  local attempts=$1 n=1
  shift
  until "$@"; do
    [ "$n" -ge "$attempts" ] && return 1
    log "retrying in $((n * 10)) s: $1"
    sleep $((n * 10))
    n=$((n + 1))
  done
}
# Wait up to 10 min for the dpkg lock (unattended-upgrades runs on first boot too). With
# --force-confold a config file that cloud-init wrote before the package install is kept.
apt_get() {
  apt-get -y -q -o DPkg::Lock::Timeout=600 \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}
