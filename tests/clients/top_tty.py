#!/usr/bin/env python3
"""Runs `sluice top` on a pseudo-terminal, as an operator would, and checks the full-screen view:
it draws the streams named on the command line, re-sorts on a key, quits on q with exit code 0 and
gives the terminal back (leaves the alternate screen, shows the cursor).

    top_tty.py <sluice binary> <admin HOST:PORT> <stream> [stream ...]
"""
import os
import pty
import select
import sys
import time


def read_for(fd, seconds, out):
    end = time.time() + seconds
    while time.time() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:
            return False  # the child closed the terminal
        if not data:
            return False
        out.extend(data)
    return True


def main():
    sluice, addr, streams = sys.argv[1], sys.argv[2], sys.argv[3:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sluice, [sluice, "top", "--addr", addr, "--interval", "0.5"])
    out = bytearray()
    read_for(fd, 2.0, out)
    text = out.decode(errors="replace")
    failures = []
    if "\x1b[?1049h" not in text:
        failures.append("did not switch to the alternate screen")
    for name in ["sluice top", "STREAM", "IN rec/s", "q quit"] + streams:
        if name not in text:
            failures.append("the view lacks %r" % name)
    os.write(fd, b"n")  # sort by name: the STREAM title is underlined
    mark = len(out)
    read_for(fd, 1.0, out)
    if "\x1b[4mSTREAM" not in out[mark:].decode(errors="replace"):
        failures.append("n did not sort by name")
    os.write(fd, b"q")
    read_for(fd, 3.0, out)
    deadline = time.time() + 3
    status = None
    while time.time() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        failures.append("q did not quit within 3 s")
    text = out.decode(errors="replace")
    if status is not None and os.waitstatus_to_exitcode(status) != 0:
        failures.append("exit status %r" % os.waitstatus_to_exitcode(status))
    if not text.rstrip().endswith("\x1b[?25h\x1b[?1049l"):
        failures.append("the terminal was not given back (cursor, alternate screen)")
    if failures:
        print("top_tty: " + "; ".join(failures))
        print(text[-3000:])
        return 1
    print("top_tty: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
