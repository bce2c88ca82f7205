#!/usr/bin/python3
# A hostile SFTP server (protocol version 3, on stdin/stdout, as sshd runs a Subsystem)
# for joe's tests: a real server speaking the protocol, with answers no honest one gives.
#
#   sftp_hostile.py names   /hostile is a folder whose listing holds "../../<escape>",
#                           "a/b", ".", "..", and ok.txt (mode 06755, "ok\n")
#   sftp_hostile.py stall   answers the handshake and stat, then never answers a read
#
# The name the escape would write to is argv[2] (a path below /tmp).
import os
import struct
import sys
import time

MODE = sys.argv[1]
ESCAPE = sys.argv[2] if len(sys.argv) > 2 else "/tmp/joe-escape"
FILE, DIR = 0o100000, 0o040000
stdin, stdout = sys.stdin.buffer, sys.stdout.buffer


def read_exact(n):
    data = b""
    while len(data) < n:
        chunk = stdin.read(n - len(data))
        if not chunk:
            sys.exit(0)
        data += chunk
    return data


def send(kind, payload):
    stdout.write(struct.pack(">IB", len(payload) + 1, kind) + payload)
    stdout.flush()


def string(s):
    s = s.encode() if isinstance(s, str) else s
    return struct.pack(">I", len(s)) + s


def attrs(mode, size=0):
    return struct.pack(">IQI", 0x1 | 0x4, size, mode)


def status(rid, code, msg=""):
    send(101, struct.pack(">II", rid, code) + string(msg) + string(""))


def names(rid, entries):
    body = struct.pack(">II", rid, len(entries))
    for name, mode, size in entries:
        body += string(name) + string(name) + attrs(mode, size)
    send(104, body)


def listing():
    escape = "../../../../../.." + ESCAPE
    return [(".", DIR | 0o755, 0), ("..", DIR | 0o755, 0), ("ok.txt", FILE | 0o6755, 3),
            (escape, FILE | 0o644, 3), ("a/b", FILE | 0o644, 3)]


def handle_request(kind, rid, body, state):
    path = body[4:4 + struct.unpack(">I", body[:4])[0]].decode(errors="replace") if body else ""
    if kind in (7, 17):  # LSTAT, STAT
        folder = path.rstrip("/") in ("/hostile", "")
        send(105, struct.pack(">I", rid) + (attrs(DIR | 0o755) if folder else attrs(FILE | 0o644, 3)))
    elif kind == 11:  # OPENDIR
        state["listed"] = False
        send(102, struct.pack(">I", rid) + string("dir"))
    elif kind == 12:  # READDIR
        if state["listed"]:
            status(rid, 1, "end of file")
        else:
            state["listed"] = True
            names(rid, listing())
    elif kind == 3:  # OPEN
        state["sent"] = False
        send(102, struct.pack(">I", rid) + string("file"))
    elif kind == 5:  # READ
        if MODE == "stall":
            time.sleep(3600)
        if state["sent"]:
            status(rid, 1, "end of file")
        else:
            state["sent"] = True
            send(103, struct.pack(">I", rid) + string("ok\n"))
    elif kind == 16:  # REALPATH
        names(rid, [(path or "/", DIR | 0o755, 0)])
    else:  # CLOSE and anything else
        status(rid, 0, "ok")


def main():
    state = {"listed": False, "sent": False}
    while True:
        length, kind = struct.unpack(">IB", read_exact(5))
        payload = read_exact(length - 1)
        if kind == 1:  # INIT
            send(2, struct.pack(">I", 3))
            continue
        rid = struct.unpack(">I", payload[:4])[0]
        handle_request(kind, rid, payload[4:], state)


main()
