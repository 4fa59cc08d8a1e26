#!/usr/bin/env bash
# Installs the system packages LSTP's tests, lab and benchmarks use (Debian/Ubuntu, as root).
# Idempotent: installs only what is missing, runs `apt-get update` only then, and leaves no
# package-started service (tinyproxy, sshd) listening, because tests start their
# own instances on ports they choose.
set -euo pipefail

PACKAGES=(
  iperf3 socat sockperf          # throughput and latency benchmarks
  tinyproxy microsocks           # the corporate proxies the dialers and the lab go through
  nftables iproute2 tcpdump curl # the firewall lab and its checks
  python3-pyftpdlib              # an FTP server for the FTP helper's active/passive tests
  docker-compose                 # the compose demo
  prometheus                     # promtool, which checks both /metrics endpoints
  chromium                       # dashboard page tests
  openssh-server openssh-client  # tunnelled-SSH scenarios
)

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps.sh: run as root (it installs packages with apt-get)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive

installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }
version() { dpkg-query -W -f='${Version}' "$1"; }

missing=()
for package in "${PACKAGES[@]}"; do
  installed "$package" || missing+=("$package")
done

if ((${#missing[@]} > 0)); then
  # Keep maintainer scripts from starting services while we install (the Debian policy-rc.d
  # mechanism: exit 101 = "action forbidden"). Respect one that is already there.
  own_policy=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    own_policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$own_policy"
    chmod 755 "$own_policy"
    trap 'rm -f "$own_policy"' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for package in "${PACKAGES[@]}"; do
  if ! installed "$package"; then
    echo "$package: MISSING after install" >&2
    exit 1
  elif [[ " ${missing[*]} " == *" $package "* ]]; then
    echo "$package: installed now ($(version "$package"))"
  else
    echo "$package: already installed ($(version "$package"))"
  fi
done

# Stop and disable the daemons these packages ship, so nothing of theirs holds 8888 or 22.
# sshd only when this run installed it: on a developer machine it may be how someone is logged in.
services=(tinyproxy prometheus)
[[ " ${missing[*]} " == *" openssh-server "* ]] && services+=(ssh)
for service in "${services[@]}"; do
  [[ -e /etc/init.d/$service || -e /lib/systemd/system/$service.service ]] || continue
  if [[ -d /run/systemd/system ]]; then
    state=$(systemctl is-active "$service" 2>/dev/null || true)
    systemctl disable --now "$service" >/dev/null 2>&1 || true
  else
    state=stopped
    if service "$service" status >/dev/null 2>&1; then
      state=active
      service "$service" stop >/dev/null
    fi
    update-rc.d "$service" disable >/dev/null 2>&1 || true
  fi
  if [[ $state == active ]]; then
    echo "service $service: was running, stopped and disabled"
  else
    echo "service $service: not running, disabled"
  fi
done
