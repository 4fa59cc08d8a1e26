#!/usr/bin/env bash
# The firewall lab: two corporate networks that may only dial out through their proxy, and an
# "internet" with two middle hosts, built from network namespaces, veth pairs and nftables.
#   lab.sh up | down | status
#   lab.sh exec NAME COMMAND...        run COMMAND in namespace NAME (inet, corpa, corpb, proxya, proxyb)
#   lab.sh blackhole corpa|corpb on|off   silently drop everything between that corp's proxy and the internet
#   lab.sh proxy corpa|corpb stop|start   stop or (re)start that corp's proxy daemon (a "proxy down" test)
# Sourcing it (as check.sh does) defines the lab_* functions without running anything. Needs root.
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.env
source "$LAB_DIR/lab.env"

LAB_ALL_NS=("$LAB_NS_INET" "$LAB_NS_PROXYA" "$LAB_NS_PROXYB" "$LAB_NS_CORPA" "$LAB_NS_CORPB")

# The namespace for a short name: corpa -> lstp-corpa.
lab_ns() {
  case $1 in
    inet) echo "$LAB_NS_INET" ;;
    corpa) echo "$LAB_NS_CORPA" ;;
    corpb) echo "$LAB_NS_CORPB" ;;
    proxya) echo "$LAB_NS_PROXYA" ;;
    proxyb) echo "$LAB_NS_PROXYB" ;;
    *) echo "lab: unknown namespace '$1' (inet, corpa, corpb, proxya, proxyb)" >&2; return 2 ;;
  esac
}

# True when the namespace exists (exact name, not a prefix).
_lab_has_ns() { ip netns list | awk '{print $1}' | grep -qx "$1"; }

# Runs a command inside a lab namespace: lab_exec corpb curl ...
lab_exec() {
  local ns
  ns=$(lab_ns "$1") || return
  shift
  ip netns exec "$ns" "$@"
}

# Starts a long-running command in a namespace, in the background, with its pid and log in the state dir.
# `ip netns exec` execs the command, so the pid recorded is the command's own (a shell function run with `&`
# would record a subshell's pid instead, and killing that would leave the command running).
lab_spawn() {
  local name=$1 label=$2 ns
  shift 2
  ns=$(lab_ns "$name") || return
  ip netns exec "$ns" "$@" >"$LAB_STATE_DIR/$label.log" 2>&1 &
  echo $! >"$LAB_STATE_DIR/$label.pid"
}

# Waits until a TCP port listens inside a namespace (ss, so no connection is made).
lab_wait_listen() {
  local name=$1 address=$2 port=$3 i
  for ((i = 0; i < 100; i++)); do
    lab_exec "$name" ss -Hltn "src $address:$port" | grep -q . && return 0
    sleep 0.05
  done
  echo "lab: nothing listens on $address:$port in $(lab_ns "$name")" >&2
  return 1
}

# A veth pair between two namespaces, each end up with an address (a bridge port when the address is "bridge").
_lab_link() {
  local ns1=$1 if1=$2 addr1=$3 ns2=$4 if2=$5 addr2=$6
  ip -n "$ns1" link add "$if1" type veth peer name "$if2" netns "$ns2"
  ip -n "$ns1" addr add "$addr1" dev "$if1"
  if [[ $addr2 == bridge ]]; then
    ip -n "$ns2" link set "$if2" master br0
  else
    ip -n "$ns2" addr add "$addr2" dev "$if2"
  fi
  ip -n "$ns1" link set "$if1" up
  ip -n "$ns2" link set "$if2" up
}

# A corporate host: it may open TCP only to its proxy's port(s); nothing may open a connection to it from outside.
# PORTS is one port or an nft set such as "{ 8888, 8889 }".
_lab_corp_firewall() {
  local ns=$1 proxy=$2 port=$3
  ip netns exec "$ns" nft -f - <<NFT
table inet lstp_corp {
  chain output {
    type filter hook output priority filter; policy drop;
    oif lo accept
    ct state established,related accept
    ip daddr $proxy tcp dport $port accept
  }
  chain input {
    type filter hook input priority filter; policy drop;
    iif lo accept
    ct state established,related accept
  }
}
NFT
}

# A proxy host: its corp may reach the proxy port(s); it forwards nothing (its daemon is the only way through)
# and accepts no connection from the internet.
_lab_proxy_firewall() {
  local ns=$1 port=$2
  ip netns exec "$ns" nft -f - <<NFT
table inet lstp_proxy {
  chain input {
    type filter hook input priority filter; policy drop;
    iif lo accept
    ct state established,related accept
    iifname "in0" tcp dport $port accept
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
  }
}
NFT
}

lab_up() {
  if _lab_has_ns "$LAB_NS_INET"; then
    echo "lab: already up (lab.sh down first)" >&2
    return 1
  fi
  mkdir -p "$LAB_STATE_DIR"
  local ns
  for ns in "${LAB_ALL_NS[@]}"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # IPv4 only, no forwarding: a namespace passes on nothing unless a rule here says so.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 net.ipv4.ip_forward=0
  done

  # The internet: a bridge carrying the gateway and both middle hosts.
  ip -n "$LAB_NS_INET" link add br0 type bridge
  ip -n "$LAB_NS_INET" addr add "$LAB_INET_GATEWAY/24" dev br0
  ip -n "$LAB_NS_INET" addr add "$LAB_MIDDLE1/24" dev br0
  ip -n "$LAB_NS_INET" addr add "$LAB_MIDDLE2/24" dev br0
  ip -n "$LAB_NS_INET" link set br0 up

  _lab_link "$LAB_NS_PROXYA" out0 "$LAB_PROXYA_OUTSIDE/24" "$LAB_NS_INET" pa0 bridge
  _lab_link "$LAB_NS_PROXYB" out0 "$LAB_PROXYB_OUTSIDE/24" "$LAB_NS_INET" pb0 bridge
  _lab_link "$LAB_NS_CORPA" eth0 "$LAB_CORPA_HOST/24" "$LAB_NS_PROXYA" in0 "$LAB_PROXYA_INSIDE/24"
  _lab_link "$LAB_NS_CORPB" eth0 "$LAB_CORPB_HOST/24" "$LAB_NS_PROXYB" in0 "$LAB_PROXYB_INSIDE/24"

  # Corps route everything to their proxy host, so a blocked dial is the firewall's doing, not a missing route.
  # The internet has no route back into the corps at all, as behind NAT.
  ip -n "$LAB_NS_CORPA" route add default via "$LAB_PROXYA_INSIDE"
  ip -n "$LAB_NS_CORPB" route add default via "$LAB_PROXYB_INSIDE"
  ip -n "$LAB_NS_PROXYA" route add default via "$LAB_INET_GATEWAY"
  ip -n "$LAB_NS_PROXYB" route add default via "$LAB_INET_GATEWAY"

  _lab_corp_firewall "$LAB_NS_CORPA" "$LAB_PROXYA_INSIDE" "{ $LAB_PROXYA_PORT, $LAB_PROXYA_STRICT_PORT }"
  _lab_corp_firewall "$LAB_NS_CORPB" "$LAB_PROXYB_INSIDE" "$LAB_PROXYB_PORT"
  _lab_proxy_firewall "$LAB_NS_PROXYA" "{ $LAB_PROXYA_PORT, $LAB_PROXYA_STRICT_PORT }"
  _lab_proxy_firewall "$LAB_NS_PROXYB" "$LAB_PROXYB_PORT"

  cat >"$LAB_STATE_DIR/tinyproxy.conf" <<CONF
Port $LAB_PROXYA_PORT
Listen $LAB_PROXYA_INSIDE
Allow $LAB_CORPA_NET
Timeout 600
LogLevel Info
CONF
  cat >"$LAB_STATE_DIR/tinyproxy-strict.conf" <<CONF
Port $LAB_PROXYA_STRICT_PORT
Listen $LAB_PROXYA_INSIDE
Allow $LAB_CORPA_NET
Timeout 600
LogLevel Info
ConnectPort 443
CONF
  lab_proxy corpa start
  lab_proxy corpb start
  lab_spawn proxya tinyproxy-strict tinyproxy -d -c "$LAB_STATE_DIR/tinyproxy-strict.conf"
  lab_wait_listen proxya "$LAB_PROXYA_INSIDE" "$LAB_PROXYA_STRICT_PORT"
  echo "lab: up (middles at $LAB_MIDDLE1 and $LAB_MIDDLE2; corp A via http://$LAB_PROXYA_INSIDE:$LAB_PROXYA_PORT" \
    "(CONNECT to 443 only: :$LAB_PROXYA_STRICT_PORT);" \
    "corp B via socks5://$LAB_PROXYB_USER:***@$LAB_PROXYB_INSIDE:$LAB_PROXYB_PORT)"
}

# Stops or starts a corp's proxy daemon: tinyproxy for corp A, microsocks (with its password) for corp B.
lab_proxy() {
  local corp=${1:-} action=${2:-} label pid
  case $corp in
    corpa) label=tinyproxy ;;
    corpb) label=microsocks ;;
    *) echo "usage: lab.sh proxy corpa|corpb stop|start" >&2; return 2 ;;
  esac
  case $action in
    stop)
      if [[ -f $LAB_STATE_DIR/$label.pid ]]; then
        pid=$(cat "$LAB_STATE_DIR/$label.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$LAB_STATE_DIR/$label.pid"
      fi
      echo "lab: $corp's proxy ($label) stopped" ;;
    start)
      if [[ -f $LAB_STATE_DIR/$label.pid ]] && kill -0 "$(cat "$LAB_STATE_DIR/$label.pid")" 2>/dev/null; then
        echo "lab: $corp's proxy ($label) already runs"
        return 0
      fi
      if [[ $corp == corpa ]]; then
        lab_spawn proxya tinyproxy tinyproxy -d -c "$LAB_STATE_DIR/tinyproxy.conf"
        lab_wait_listen proxya "$LAB_PROXYA_INSIDE" "$LAB_PROXYA_PORT"
      else
        lab_spawn proxyb microsocks microsocks -i "$LAB_PROXYB_INSIDE" -p "$LAB_PROXYB_PORT" -u "$LAB_PROXYB_USER" -P "$LAB_PROXYB_PASSWORD"
        lab_wait_listen proxyb "$LAB_PROXYB_INSIDE" "$LAB_PROXYB_PORT"
      fi ;;
    *) echo "usage: lab.sh proxy corpa|corpb stop|start" >&2; return 2 ;;
  esac
}

# Tears everything down; safe to run when the lab is partly or not at all up.
lab_down() {
  local ns pid
  for ns in "${LAB_ALL_NS[@]}"; do
    _lab_has_ns "$ns" || continue
    # Only processes inside our own namespaces: the proxies and whatever a check started there.
    for pid in $(ip netns pids "$ns"); do kill "$pid" 2>/dev/null || true; done
  done
  for ns in "${LAB_ALL_NS[@]}"; do
    _lab_has_ns "$ns" || continue
    for pid in $(ip netns pids "$ns"); do
      for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    done
    ip netns del "$ns"  # takes its veth ends, the bridge and its nft tables with it
  done
  rm -rf "$LAB_STATE_DIR"
  echo "lab: down"
}

lab_status() {
  local ns name
  for name in inet proxya proxyb corpa corpb; do
    ns=$(lab_ns "$name")
    if ! _lab_has_ns "$ns"; then
      echo "$ns: absent"
      continue
    fi
    echo "$ns: $(ip -n "$ns" -4 -o addr show | awk '$2 != "lo" {printf "%s=%s ", $2, $4}')"
    ip netns exec "$ns" nft list tables | sed 's/^/    nft /'
    ip netns exec "$ns" ss -Hltnp | awk '{print "    listen " $4 " " $6}'
  done
}

# Drops (silently, as a dead link does) all traffic between a corp's proxy and the internet.
lab_blackhole() {
  local corp=${1:-} state=${2:-} ns
  case $corp in
    corpa) ns=$LAB_NS_PROXYA ;;
    corpb) ns=$LAB_NS_PROXYB ;;
    *) echo "usage: lab.sh blackhole corpa|corpb on|off" >&2; return 2 ;;
  esac
  case $state in
    on)
      ip netns exec "$ns" nft -f - <<NFT
table inet lstp_blackhole {
  chain input { type filter hook input priority filter - 10; policy accept; iifname "out0" drop; }
  chain output { type filter hook output priority filter - 10; policy accept; oifname "out0" drop; }
}
NFT
      echo "lab: $corp cut off from the internet" ;;
    off)
      ip netns exec "$ns" nft delete table inet lstp_blackhole 2>/dev/null || true
      echo "lab: $corp reconnected" ;;
    *) echo "usage: lab.sh blackhole corpa|corpb on|off" >&2; return 2 ;;
  esac
}

lab_main() {
  if [[ $(id -u) -ne 0 ]]; then echo "lab.sh: run as root (it creates network namespaces)" >&2; exit 1; fi
  case ${1:-} in
    up) lab_up ;;
    down) lab_down ;;
    status) lab_status ;;
    exec) shift; lab_exec "$@" ;;
    blackhole) shift; lab_blackhole "$@" ;;
    proxy) shift; lab_proxy "$@" ;;
    *) echo "usage: lab.sh up|down|status | exec NAME COMMAND... | blackhole corpa|corpb on|off | proxy corpa|corpb stop|start" >&2; exit 2 ;;
  esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  lab_main "$@"
fi
