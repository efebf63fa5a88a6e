#!/bin/bash
# ExecStart of crawl4ai-egress-guard.service (after docker.service, again whenever Docker restarts).
#
# Chromium in the container follows redirects, loads iframes and images and re-resolves names
# (DNS rebinding), so a hostile page could make it fetch the VM's private network and hand the
# content back. So containers may reach the public internet only:
#   - DOCKER-USER (forwarded container traffic, IPv4 and IPv6) drops every private, shared,
#     link-local and loopback range, and the VPC's own CIDRs (read from the metadata service),
#     except the VPC's DNS resolver on port 53; replies of allowed connections pass.
#   - INPUT drops new connections from containers to the host itself (nothing there is theirs).
#   - OUTPUT lets only root reach the instance metadata service (169.254.169.254, fd00:ec2::254),
#     which hands out the instance's data: no other local process can read it.
# The rules are written in iptables-restore format and loaded in one go per family. Our chains
# are flushed and rewritten on every run, so a re-run (Docker restart) leaves exactly one copy.
#
#   egress-guard.sh                          apply (root, on the VM)
#   egress-guard.sh --print 4|6 CIDRS DNS    print the rule set for the given VPC CIDRs and
#                                            resolvers (space-separated), change nothing (tests)
set -euo pipefail

# Where a container must never connect (RFC 1918, CGNAT, link-local incl. IMDS, loopback, "this
# network"; IPv6: ULA incl. fd00:ec2::254, link-local, loopback, IPv4-mapped and NAT64, which
# could reach private IPv4 addresses through a NAT64 gateway).
PRIVATE_V4="10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 100.64.0.0/10 169.254.0.0/16 127.0.0.0/8 0.0.0.0/8"
PRIVATE_V6="fc00::/7 fe80::/10 ::1/128 ::ffff:0:0/96 64:ff9b::/96"
IMDS_V4=169.254.169.254/32
IMDS_V6=fd00:ec2::254/128
# Docker's default bridge, which the crawl4ai container uses.
BRIDGE=docker0

# is_family 4|6 ADDRESS_OR_CIDR
is_family() {
  case "$2" in
    *:*) [ "$1" = 6 ] ;;
    *) [ "$1" = 4 ] ;;
  esac
}

# valid ADDRESS_OR_CIDR: only IPv4/IPv6 addresses or CIDRs reach the rule set (never a name,
# which iptables would resolve)
valid() {
  [[ "$1" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}(/[0-9]{1,2})?$ || "$1" =~ ^[0-9A-Fa-f]*:[0-9A-Fa-f:.]*(/[0-9]{1,3})?$ ]]
}

# rules 4|6 "VPC CIDRS" "RESOLVERS": the filter-table rule set in iptables-restore format
rules() {
  local family=$1 vpc=$2 resolvers=$3 private imds addr
  if [ "$family" = 4 ]; then private=$PRIVATE_V4 imds=$IMDS_V4; else private=$PRIVATE_V6 imds=$IMDS_V6; fi
  echo "*filter"
  echo ":DOCKER-USER - [0:0]"
  echo ":CRAWL4AI-INPUT - [0:0]"
  echo ":CRAWL4AI-OUTPUT - [0:0]"
  echo "-A DOCKER-USER -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"
  for addr in $resolvers; do
    if valid "$addr" && is_family "$family" "$addr"; then
      echo "-A DOCKER-USER -d $addr -p udp -m udp --dport 53 -j RETURN"
      echo "-A DOCKER-USER -d $addr -p tcp -m tcp --dport 53 -j RETURN"
    fi
  done
  for addr in $private $vpc; do
    if valid "$addr" && is_family "$family" "$addr"; then
      echo "-A DOCKER-USER -d $addr -j DROP"
    fi
  done
  echo "-A DOCKER-USER -j RETURN"
  echo "-A CRAWL4AI-INPUT -i $BRIDGE -m conntrack --ctstate NEW -j DROP"
  echo "-A CRAWL4AI-OUTPUT -d $imds -m owner ! --uid-owner 0 -j DROP"
  echo "-I INPUT 1 -j CRAWL4AI-INPUT"
  echo "-I OUTPUT 1 -j CRAWL4AI-OUTPUT"
  echo "COMMIT"
}

if [ "${1:-}" = "--print" ]; then
  rules "$2" "${3:-}" "${4:-}"
  exit 0
fi

# imds PATH: one metadata value, through IMDSv2 (as root: the OUTPUT rule blocks everyone else)
imds() {
  local token
  token=$(curl -fsS -m 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token) || return 1
  curl -fsS -m 5 -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1"
}

# The VPC's own CIDRs, IPv4 and IPv6 (empty off AWS; the private ranges still hold then).
vpc_cidrs() {
  local mac
  mac=$(imds mac) || { echo "egress-guard: metadata service unreachable, VPC CIDRs unknown" >&2; return 0; }
  imds "network/interfaces/macs/$mac/vpc-ipv4-cidr-blocks" 2>/dev/null || true
  echo
  imds "network/interfaces/macs/$mac/vpc-ipv6-cidr-blocks" 2>/dev/null || true
}

# The upstream resolvers the host uses (the VPC's resolver); Docker gives containers the same.
resolvers() {
  awk '$1 == "nameserver" { print $2 }' /run/systemd/resolve/resolv.conf /etc/resolv.conf 2>/dev/null |
    grep -v -e '^127\.' -e '^::1$' | sort -u || true
}

for _ in $(seq 1 30); do
  iptables -n -L DOCKER-USER >/dev/null 2>&1 && break
  sleep 1
done
iptables -n -L DOCKER-USER >/dev/null 2>&1 || { echo "DOCKER-USER chain missing: is Docker running?" >&2; exit 1; }

vpc=$(vpc_cidrs | tr '\n' ' ')
dns=$(resolvers | tr '\n' ' ')
for family in 4 6; do
  if [ "$family" = 4 ]; then tables=iptables; else tables=ip6tables; fi
  # drop our jumps first: the rule set inserts them again, so a re-run never doubles them
  while "$tables" -D INPUT -j CRAWL4AI-INPUT 2>/dev/null; do :; done
  while "$tables" -D OUTPUT -j CRAWL4AI-OUTPUT 2>/dev/null; do :; done
  rules "$family" "$vpc" "$dns" | "$tables-restore" --noflush
done
echo "egress guard: containers reach the public internet only (VPC: ${vpc:-unknown}; DNS: ${dns:-none}); only root reaches the metadata service"
