#!/usr/bin/env python3
"""Captures a link's traffic, and looks for images in the clear in it (multihost_test.sh case 8).
No tcpdump needed: an AF_PACKET raw socket (root, Linux), run in the host's namespace.

  wire_capture.py capture IFACE OUT [--seconds S] [--max-bytes N]
      writes every frame seen on IFACE, both ways, to OUT (pcap, so tcpdump or Wireshark can
      read it too), until SIGTERM or SIGINT, S seconds (default 60) or N bytes (default 64 MiB,
      the rest counted but not kept); prints "capturing on IFACE" once the socket is bound, and
      on exit one line of counts
  wire_capture.py scan OUT PORT
      reassembles each TCP stream (IPv4 over Ethernet) of OUT and counts the images in it, apart
      for the streams to or from PORT and for all the others; prints one line of NAME=VALUE:
      packets, frames kept, port_flows, port_bytes (TCP payload), port_jpeg, port_png,
      port_jpeg_raw, other_flows, other_bytes, other_jpeg, other_png

A PNG is its 8-byte signature (89 50 4E 47 0D 0A 1A 0A). A JPEG is FF D8 FF followed by a marker
segment whose length leads to the next marker (an FF): random bytes (ciphertext) match FF D8 FF
once in 16 MiB, the whole pattern about once in 2^40 bytes. port_jpeg_raw counts bare FF D8 FF
matches, for information.
"""
import argparse
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PNG = b"\x89PNG\r\n\x1a\n"
JPEG = b"\xff\xd8\xff"


def capture(args):
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.append(1))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    try:  # as root: past net.core.rmem_max, so a burst is not dropped
        s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
    s.bind((args.iface, 0))
    s.settimeout(0.1)
    buf = bytearray(1 << 18)  # a GSO frame on a veth is up to 64 KiB; room to spare
    frames = kept = seen_bytes = kept_bytes = 0
    deadline = time.monotonic() + args.seconds
    with open(args.out, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, len(buf), 1))
        print(f"capturing on {args.iface}", flush=True)
        while not stop and time.monotonic() < deadline:
            try:
                n = s.recv_into(buf)
            except socket.timeout:
                continue
            except InterruptedError:
                continue
            frames += 1
            seen_bytes += n
            if kept_bytes + n + 16 > args.max_bytes:
                continue
            now = time.time()
            out.write(struct.pack("<IIII", int(now), int(now % 1 * 1e6), n, n))
            out.write(buf[:n])
            kept += 1
            kept_bytes += n + 16
    print(f"captured {frames} frames, {seen_bytes} bytes; kept {kept} frames, {kept_bytes} bytes",
          flush=True)


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack_from("<I", data, 0)
    if magic != 0xA1B2C3D4:
        sys.exit(f"{path}: not a little-endian pcap file")
    at = 24
    while at + 16 <= len(data):
        _, _, incl, _ = struct.unpack_from("<IIII", data, at)
        at += 16
        yield data[at:at + incl]
        at += incl


def tcp_segments(frames):
    """(flow, seq, payload) for each IPv4 TCP segment with a payload."""
    for frame in frames:
        if len(frame) < 14 + 20 or frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[0] >> 4 != 4 or ip[9] != 6 or len(ip) < ihl + 20:
            continue
        total = struct.unpack_from(">H", ip, 2)[0]
        # A GSO frame says 0 (or less than it holds) when the kernel has not filled it in.
        end = total if ihl + 20 <= total <= len(ip) else len(ip)
        tcp = ip[ihl:end]
        sport, dport, seq = struct.unpack_from(">HHI", tcp, 0)
        off = (tcp[12] >> 4) * 4
        payload = tcp[off:]
        if payload:
            yield (ip[12:16], sport, ip[16:20], dport), seq, payload


def streams(segments):
    """Each flow's bytes in sequence order, retransmissions and overlaps once, gaps skipped."""
    flows = {}
    for flow, seq, payload in segments:
        flows.setdefault(flow, {})
        got = flows[flow].get(seq)
        if got is None or len(payload) > len(got):
            flows[flow][seq] = payload
    for flow, parts in flows.items():
        # Sequence numbers wrap at 2^32: order them from the first one seen, not from 0.
        base = min(parts)
        if max(parts) - base > 1 << 31:
            base = min(s for s in parts if s >= 1 << 31)
        out = bytearray()
        at = None
        for seq in sorted(parts, key=lambda s: (s - base) % (1 << 32)):
            rel = (seq - base) % (1 << 32)
            p = parts[seq]
            if at is not None and rel < at:
                p = p[at - rel:]  # overlap: already have it
                rel = at
            out += p
            at = rel + len(p)
        yield flow, bytes(out)


def count_jpeg(data):
    found = raw = 0
    at = data.find(JPEG)
    while at >= 0:
        raw += 1
        seg = at + 2  # FF <marker> <length: 2 bytes, itself included>
        if seg + 4 <= len(data):
            marker = data[seg + 1]
            length = struct.unpack_from(">H", data, seg + 2)[0]
            nxt = seg + 2 + length
            if 0xC0 <= marker <= 0xFE and length >= 2 and nxt < len(data) and data[nxt] == 0xFF:
                found += 1
        at = data.find(JPEG, at + 1)
    return found, raw


def scan(args):
    frames = list(read_pcap(args.out))
    figures = dict.fromkeys(("port_flows", "port_bytes", "port_jpeg", "port_png", "port_jpeg_raw",
                             "other_flows", "other_bytes", "other_jpeg", "other_png"), 0)
    for flow, data in streams(tcp_segments(frames)):
        side = "port" if args.port in (flow[1], flow[3]) else "other"
        jpeg, raw = count_jpeg(data)
        figures[side + "_flows"] += 1
        figures[side + "_bytes"] += len(data)
        figures[side + "_jpeg"] += jpeg
        figures[side + "_png"] += data.count(PNG)
        if side == "port":
            figures["port_jpeg_raw"] += raw
    print(f"frames={len(frames)} " + " ".join(f"{k}={v}" for k, v in figures.items()))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("capture")
    c.add_argument("iface")
    c.add_argument("out")
    c.add_argument("--seconds", type=float, default=60)
    c.add_argument("--max-bytes", type=int, default=64 << 20)
    s = sub.add_parser("scan")
    s.add_argument("out")
    s.add_argument("port", type=int)
    args = parser.parse_args()
    (capture if args.command == "capture" else scan)(args)


if __name__ == "__main__":
    main()
