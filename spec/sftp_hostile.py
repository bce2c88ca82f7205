#!/usr/bin/python3
# A hostile SFTP server (protocol version 3, on stdin/stdout, as sshd runs a Subsystem)
# for joe's tests: a real server speaking the protocol, with answers no honest one gives.
#
#   sftp_hostile.py names FILE     /hostile is a folder whose listing holds ".", "..",
#                                  ok.txt (mode 06755) and the name that FILE holds (any
#                                  bytes: "../../tmp/x", "a/b", a NUL); each file is "ok\n"
#   sftp_hostile.py die            answers the handshake, stat and open, and exits on a
#                                  read or a listing (a server that crashed)
#   sftp_hostile.py stall          answers the handshake, stat and open, never a read
#   sftp_hostile.py stall-once F   as stall while the file F does not exist (it makes
#                                  it), then as an honest server of "ok\n" files: the
#                                  first session stalls, the next ones work
#   sftp_hostile.py slow SECONDS   an honest server of "ok\n" files that answers each read
#                                  SECONDS late (a busy guest)
#   sftp_hostile.py refuse-rename  OpenSSH's sftp-server behind it, but a rename of a
#                                  transfer's temporary file (.joe-*) to a name where
#                                  nothing is fails (a disk that filled, a quota): the
#                                  moment after the old file was moved out of the way
#
# A stalled server waits for its input to close (joe dropped the session), at most
# STALL_BOUND seconds, so that it never outlives a test by long.
import os
import select
import struct
import sys
import time

MODE = sys.argv[1]
ARG = sys.argv[2] if len(sys.argv) > 2 else ""
FILE, DIR = 0o100000, 0o040000
STALL_BOUND = 120
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
    return [(".", DIR | 0o755, 0), ("..", DIR | 0o755, 0), ("ok.txt", FILE | 0o6755, 3),
            (open(ARG, "rb").read(), FILE | 0o644, 3)]


def stall():
    """Never answer: read and drop what comes until the input closes or the bound."""
    end = time.monotonic() + STALL_BOUND
    fd = stdin.fileno()
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 1)
        if ready and not os.read(fd, 1 << 16):
            break
    sys.exit(0)


def stalls():
    if MODE == "stall":
        return True
    if MODE == "stall-once" and not os.path.exists(ARG):
        open(ARG, "w").close()
        return True
    return False


def handle_request(kind, rid, body, state):
    path = body[4:4 + struct.unpack(">I", body[:4])[0]].decode(errors="replace") if body else ""
    if kind in (7, 17):  # LSTAT, STAT
        folder = path.rstrip("/") in ("/hostile", "")
        kind_attrs = attrs(DIR | 0o755) if folder else attrs(FILE | 0o644, 3)
        send(105, struct.pack(">I", rid) + kind_attrs)
    elif kind == 11:  # OPENDIR
        state["listed"] = False
        send(102, struct.pack(">I", rid) + string("dir"))
    elif kind == 12:  # READDIR
        if MODE == "die":
            sys.exit(1)
        if state["listed"]:
            status(rid, 1, "end of file")
        else:
            state["listed"] = True
            names(rid, listing())
    elif kind == 3:  # OPEN
        state["sent"] = False
        send(102, struct.pack(">I", rid) + string("file"))
    elif kind == 5:  # READ
        if MODE == "die":
            sys.exit(1)
        if stalls():
            stall()
        if MODE == "slow":
            time.sleep(float(ARG))
        if state["sent"]:
            status(rid, 1, "end of file")
        else:
            state["sent"] = True
            send(103, struct.pack(">I", rid) + string("ok\n"))
    elif kind == 16:  # REALPATH
        names(rid, [(path or "/", DIR | 0o755, 0)])
    else:  # CLOSE and anything else
        status(rid, 0, "ok")


SFTP_SERVER = "/usr/lib/openssh/sftp-server"


def refused(payload):
    """Whether a RENAME request (its payload after the id) is one refuse-rename fails."""
    n = struct.unpack(">I", payload[:4])[0]
    old = payload[4:4 + n].decode(errors="replace")
    m = struct.unpack(">I", payload[4 + n:8 + n])[0]
    new = payload[8 + n:8 + n + m].decode(errors="replace")
    temporary = os.path.basename(old).startswith(".joe-") and not old.endswith("-old")
    return temporary and not os.path.lexists(new)


def proxy():
    """refuse-rename: every packet to and from the real server, but refused renames."""
    import subprocess
    import threading
    server = subprocess.Popen([SFTP_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    lock = threading.Lock()

    def answers():
        while True:
            head = server.stdout.read(4)
            if len(head) < 4:
                os._exit(0)
            body = server.stdout.read(struct.unpack(">I", head)[0])
            with lock:
                stdout.write(head + body)
                stdout.flush()
    threading.Thread(target=answers, daemon=True).start()
    while True:
        length, kind = struct.unpack(">IB", read_exact(5))
        payload = read_exact(length - 1)
        if kind == 18 and refused(payload[4:]):
            with lock:
                status(struct.unpack(">I", payload[:4])[0], 4, "refused by the test")
            continue
        server.stdin.write(struct.pack(">IB", length, kind) + payload)
        server.stdin.flush()


def main():
    if MODE == "refuse-rename":
        proxy()
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
