#!/bin/bash
# ExecStart of crawl4ai-egress-guard.service (after docker.service, again whenever Docker restarts):
# containers may not reach the cloud's instance metadata service, which hands out credentials.
# DOCKER-USER sees only forwarded (container) traffic, so the host itself is unaffected.
# 168.63.129.16 (Azure) and 169.254.169.253 (AWS) also serve DNS, so they stay reachable.
set -euo pipefail

for _ in $(seq 1 30); do
  iptables -n -L DOCKER-USER >/dev/null 2>&1 && break
  sleep 1
done
iptables -n -L DOCKER-USER >/dev/null 2>&1 || { echo "DOCKER-USER chain missing: is Docker running?" >&2; exit 1; }

# -C first: idempotent across restarts of this unit.
iptables -C DOCKER-USER -d 169.254.169.254/32 -j DROP 2>/dev/null ||
  iptables -I DOCKER-USER 1 -d 169.254.169.254/32 -j DROP

# AWS also serves IMDS on fd00:ec2::254 (Nitro, IPv6 subnets); containers have no IPv6 network by
# default, but block it too where Docker manages ip6tables.
if ip6tables -n -L DOCKER-USER >/dev/null 2>&1; then
  ip6tables -C DOCKER-USER -d fd00:ec2::254/128 -j DROP 2>/dev/null ||
    ip6tables -I DOCKER-USER 1 -d fd00:ec2::254/128 -j DROP
fi
echo "DOCKER-USER drops container traffic to 169.254.169.254"
