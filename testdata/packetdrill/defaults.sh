#!/bin/bash
# Sysctls for the TIME-WAIT / close-path scripts in this directory.
# Values are those of a freshly created Linux 6.18 network namespace, written out so that the scripts
# do not depend on whatever the host was tuned to, except tcp_rmem's maximum, which is lowered from
# 32 MB to 15 MB so that the window scale we offer is 8 (every script expects wscale 8).
# Scripts that need something else (tcp_rfc1337=1, tcp_fin_timeout=2 ...) set it themselves.
sysctl -q net.ipv4.tcp_rmem="4096 131072 15728640"
sysctl -q net.ipv4.tcp_wmem="4096 16384 4194304"
sysctl -q net.ipv4.tcp_timestamps=1
sysctl -q net.ipv4.tcp_sack=1
sysctl -q net.ipv4.tcp_window_scaling=1
sysctl -q net.ipv4.tcp_syn_retries=6
sysctl -q net.ipv4.tcp_synack_retries=5
sysctl -q net.ipv4.tcp_syncookies=1
sysctl -q net.ipv4.tcp_rfc1337=0
sysctl -q net.ipv4.tcp_tw_reuse=2
sysctl -q net.ipv4.tcp_tw_reuse_delay=1000
sysctl -q net.ipv4.tcp_fin_timeout=60
sysctl -q net.ipv4.tcp_invalid_ratelimit=500
sysctl -q net.ipv4.tcp_max_tw_buckets=131072
sysctl -q net.ipv4.tcp_orphan_retries=0
sysctl -q net.ipv4.tcp_keepalive_time=7200
