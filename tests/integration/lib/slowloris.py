#!/usr/bin/env python3
"""Slow clients for the integration tests (loopback only, bounded in count and time).

  slowloris.py hello HOST PORT --sources 127.a.b.1 --nsrc N --per-source K
               --interval S --duration S [--reconnect]
      K connections from each of N source addresses (127.a.b.1, .2, ...), each writing
      one byte every S seconds and never finishing; reconnects a second after the server
      closes one (--reconnect). Prints one JSON line of figures at the end.
  slowloris.py idle HOST PORT --count N --duration S
      N connections that send nothing (an idle HTTP client each), held for S seconds.
"""
import argparse
import ipaddress
import json
import resource
import select
import signal
import socket
import sys
import time


def loopback_only(host):
    if not ipaddress.ip_address(host).is_loopback:
        sys.exit("slowloris.py: loopback addresses only")


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, need + 64))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class Conn:
    def __init__(self, src, host, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if src:
            self.sock.bind((src, 0))
        self.sock.settimeout(2)
        self.sock.connect((host, port))
        self.sock.setblocking(False)
        self.src = src
        self.t0 = time.monotonic()


def open_conn(src, host, port, stats):
    if stats["connects"] >= stats["max_connects"]:
        return None
    stats["connects"] += 1
    try:
        return Conn(src, host, port)
    except OSError:
        stats["connect_failed"] += 1
        return None


def closed(conn, stats, now):
    held = now - conn.t0
    stats["closed_by_server"] += 1
    stats["max_held_s"] = max(stats["max_held_s"], held)
    stats["held"].append(held)
    try:
        conn.sock.close()
    except OSError:
        pass


STOP = [False]


def on_term(signum, frame):
    STOP[0] = True


def hello_attack(a):
    loopback_only(a.host)
    base = ipaddress.ip_address(a.sources)
    srcs = [str(base + i) for i in range(a.nsrc)]
    for s in srcs:
        loopback_only(s)
    total = a.nsrc * a.per_source
    raise_nofile(total)
    stats = {"connects": 0, "max_connects": total * 100, "connect_failed": 0,
             "closed_by_server": 0, "max_held_s": 0.0, "held": []}
    conns = []
    for s in srcs:
        for _ in range(a.per_source):
            c = open_conn(s, a.host, a.port, stats)
            if c:
                conns.append(c)
    end = time.monotonic() + a.duration
    next_drip = time.monotonic()
    reopen = []  # (when, source): a closed connection comes back a moment later
    while time.monotonic() < end and not STOP[0]:
        now = time.monotonic()
        while reopen and reopen[0][0] <= now:
            n = open_conn(reopen.pop(0)[1], a.host, a.port, stats)
            if n:
                conns.append(n)
        if now >= next_drip:
            next_drip = now + a.interval
            for c in conns:
                try:
                    c.sock.send(b"\0")
                except OSError:
                    pass  # found closed by the read check below
        socks = [c.sock for c in conns]
        r = []
        if socks:
            # select() is limited to fd 1024: poll instead.
            p = select.poll()
            for sk in socks:
                p.register(sk, select.POLLIN | select.POLLHUP | select.POLLERR)
            r = [fd for fd, _ in p.poll(200)]
        else:
            time.sleep(0.2)
        gone = set(r)
        keep = []
        now = time.monotonic()
        for c in conns:
            if c.sock.fileno() in gone:
                try:
                    data = c.sock.recv(64)
                except OSError:
                    data = b""
                if not data:
                    closed(c, stats, now)
                    if a.reconnect:
                        reopen.append((now + a.reconnect_delay, c.src))
                    continue
            keep.append(c)
        conns = keep
    now = time.monotonic()
    open_at_end = len(conns)
    oldest = max((now - c.t0 for c in conns), default=0.0)
    for c in conns:
        c.sock.close()
    held = sorted(stats.pop("held"))
    stats["median_held_s"] = round(held[len(held) // 2], 2) if held else None
    stats["max_held_s"] = round(max(stats["max_held_s"], oldest), 2)
    stats["open_at_end"] = open_at_end
    stats["oldest_open_at_end_s"] = round(oldest, 2)
    stats.pop("max_connects")
    print(json.dumps(stats), flush=True)


def idle_attack(a):
    loopback_only(a.host)
    raise_nofile(a.count)
    conns, failed = [], 0
    for _ in range(a.count):
        try:
            s = socket.create_connection((a.host, a.port), timeout=2)
            conns.append(s)
        except OSError:
            failed += 1
    end = time.monotonic() + a.duration
    closed_n = 0
    while time.monotonic() < end and conns and not STOP[0]:
        p = select.poll()
        for s in conns:
            p.register(s, select.POLLIN | select.POLLHUP)
        ready = {fd for fd, _ in p.poll(500)}
        keep = []
        for s in conns:
            if s.fileno() in ready:
                try:
                    d = s.recv(4096)
                except OSError:
                    d = b""
                if not d:
                    closed_n += 1
                    s.close()
                    continue
            keep.append(s)
        conns = keep
    left = len(conns)
    for s in conns:
        s.close()
    print(json.dumps({"opened": a.count - failed, "connect_failed": failed,
                      "closed_by_server": closed_n, "open_at_end": left}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["hello", "idle"])
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--sources", default="127.0.0.1")
    ap.add_argument("--nsrc", type=int, default=1)
    ap.add_argument("--per-source", type=int, default=1)
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--reconnect", action="store_true")
    ap.add_argument("--reconnect-delay", type=float, default=1.0)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_term)
    if a.duration > 600 or a.nsrc * a.per_source > 10000 or a.count > 10000:
        sys.exit("slowloris.py: at most 10,000 connections for 600 s")
    if a.mode == "hello":
        hello_attack(a)
    else:
        idle_attack(a)


if __name__ == "__main__":
    main()
