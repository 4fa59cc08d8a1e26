#!/usr/bin/env bash
# Brings the firewall lab up and proves it is the lab we claim: corps reach nothing but their proxy, the
# proxies reach the internet, and nothing reaches into a corp. Tears it down on exit. Needs root.
set -euo pipefail

# shellcheck source=lab.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lab.sh"

if [[ $(id -u) -ne 0 ]]; then echo "check.sh: run as root (it creates network namespaces)" >&2; exit 1; fi
for tool in ip nft curl python3 tinyproxy microsocks; do
  command -v "$tool" >/dev/null || { echo "check.sh: $tool is missing: run scripts/install-deps.sh" >&2; exit 1; }
done

trap lab_down EXIT
trap 'exit 130' INT TERM
lab_down >/dev/null # a previous run that was killed may have left it up
lab_up

# Web listeners whose pages say where they run, so a success proves which host answered.
LISTEN_PORT=7700
CORPA_PORT=9000
serve() {
  local name=$1 address=$2 port=$3 label="www-$1-$2-$3"
  local dir="$LAB_STATE_DIR/$label"
  mkdir -p "$dir"
  echo "lstp-lab $name $address" >"$dir/index.html"
  lab_spawn "$name" "$label" python3 -m http.server "$port" --bind "$address" --directory "$dir"
  lab_wait_listen "$name" "$address" "$port"
}
serve inet "$LAB_MIDDLE1" "$LISTEN_PORT"
serve inet "$LAB_MIDDLE2" "$LISTEN_PORT"
serve corpa "$LAB_CORPA_HOST" "$CORPA_PORT"

SOCKS_B=(--socks5 "$LAB_PROXYB_INSIDE:$LAB_PROXYB_PORT" --proxy-user "$LAB_PROXYB_USER:$LAB_PROXYB_PASSWORD")
HTTP_A=(--proxytunnel --proxy "http://$LAB_PROXYA_INSIDE:$LAB_PROXYA_PORT") # CONNECT, as the end proxy dials
failures=0

# fetch NAMESPACE URL [CURL OPTIONS...]: the page, or a non-zero exit within a few seconds.
fetch() {
  local name=$1 url=$2
  shift 2
  lab_exec "$name" curl --silent --show-error --connect-timeout 2 --max-time 4 "$@" "$url"
}

expect_reach() {
  local what=$1 marker=$2 out
  shift 2
  if out=$("$@" 2>&1) && [[ $out == *"$marker"* ]]; then
    echo "ok   - $what"
  else
    echo "FAIL - $what: expected '$marker', got: ${out:-nothing}"
    failures=$((failures + 1))
  fi
}

expect_blocked() {
  local what=$1 out
  shift
  if out=$("$@" 2>&1); then
    echo "FAIL - $what: it got through: $out"
    failures=$((failures + 1))
  else
    echo "ok   - $what (${out##*curl: })"
  fi
}

MIDDLE1_URL="http://$LAB_MIDDLE1:$LISTEN_PORT/"
MIDDLE2_URL="http://$LAB_MIDDLE2:$LISTEN_PORT/"
CORPA_URL="http://$LAB_CORPA_HOST:$CORPA_PORT/"

# The listeners work where they stand, so every "blocked" below is the network's doing.
expect_reach "the internet reaches its own listener" "lstp-lab inet $LAB_MIDDLE1" fetch inet "$MIDDLE1_URL"
expect_reach "corp A reaches its own server" "lstp-lab corpa" fetch corpa "$CORPA_URL"

expect_blocked "corp B cannot reach corp A's server directly" fetch corpb "$CORPA_URL"
expect_blocked "corp B cannot reach the internet directly" fetch corpb "$MIDDLE1_URL"
expect_reach "corp B reaches the internet through its SOCKS5 proxy" "lstp-lab inet $LAB_MIDDLE1" fetch corpb "$MIDDLE1_URL" "${SOCKS_B[@]}"
expect_blocked "corp B's proxy refuses a wrong password" \
  fetch corpb "$MIDDLE1_URL" --socks5 "$LAB_PROXYB_INSIDE:$LAB_PROXYB_PORT" --proxy-user "$LAB_PROXYB_USER:wrong"
expect_blocked "corp B's proxy cannot reach into corp A" fetch corpb "$CORPA_URL" "${SOCKS_B[@]}"

expect_blocked "corp A cannot reach the internet directly" fetch corpa "$MIDDLE2_URL"
expect_reach "corp A reaches the internet through its HTTP CONNECT proxy" "lstp-lab inet $LAB_MIDDLE2" fetch corpa "$MIDDLE2_URL" "${HTTP_A[@]}"
expect_blocked "corp A cannot use corp B's proxy" fetch corpa "$MIDDLE1_URL" "${SOCKS_B[@]}"
expect_blocked "corp A's strict proxy refuses CONNECT to a port other than 443" \
  fetch corpa "$MIDDLE2_URL" --proxytunnel --proxy "http://$LAB_PROXYA_INSIDE:$LAB_PROXYA_STRICT_PORT"

expect_blocked "the internet cannot reach corp A's server" fetch inet "$CORPA_URL"
expect_blocked "the internet cannot use corp B's proxy" \
  fetch inet "$MIDDLE1_URL" --socks5 "$LAB_PROXYB_OUTSIDE:$LAB_PROXYB_PORT" --proxy-user "$LAB_PROXYB_USER:$LAB_PROXYB_PASSWORD"

lab_blackhole corpb on
expect_blocked "a blackholed corp B cannot reach the internet through its proxy" fetch corpb "$MIDDLE1_URL" "${SOCKS_B[@]}"
expect_reach "corp A is unaffected by corp B's blackhole" "lstp-lab inet $LAB_MIDDLE2" fetch corpa "$MIDDLE2_URL" "${HTTP_A[@]}"
lab_blackhole corpb off
expect_reach "corp B reaches the internet again once the blackhole is off" "lstp-lab inet $LAB_MIDDLE1" fetch corpb "$MIDDLE1_URL" "${SOCKS_B[@]}"

lab_proxy corpb stop
expect_blocked "corp B's stopped proxy refuses connections" fetch corpb "$MIDDLE1_URL" "${SOCKS_B[@]}"
lab_proxy corpb start
expect_reach "corp B's restarted proxy works again" "lstp-lab inet $LAB_MIDDLE1" fetch corpb "$MIDDLE1_URL" "${SOCKS_B[@]}"

if ((failures > 0)); then
  echo "check.sh: $failures check(s) failed"
  exit 1
fi
echo "check.sh: the lab behaves as designed"
