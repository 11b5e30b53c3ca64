#!/usr/bin/env python3
# Slowloris against http_hello: 3,000 connections each send half a request
# header and then nothing. The server must close them (its idle timeout is
# 10 s) and give the memory back; it must keep serving meanwhile.
# cargo build --release --example http_hello && python3 benches/fault/slowloris.py
# (SERVER=path/to/other/http_hello to compare builds.)
import os, socket, subprocess, time

server = os.environ.get("SERVER", "target/release/examples/http_hello")
srv = subprocess.Popen([server, "--addr", "127.0.0.1:18090"], stderr=subprocess.DEVNULL)
time.sleep(0.5)

def rss():
    for line in open(f"/proc/{srv.pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0

def serves():
    try:
        s = socket.create_connection(("127.0.0.1", 18090), timeout=2)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        ok = b"Hello, World!" in s.recv(1000)
        s.close()
        return ok
    except OSError:
        return False

print(f"before: RSS {rss()} MiB")
conns = []
for _ in range(3000):
    s = socket.create_connection(("127.0.0.1", 18090))
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-a: ")  # half a header, then silence
    conns.append(s)
time.sleep(1)
print(f"3,000 slowloris clients: RSS {rss()} MiB, serves others: {serves()}")
time.sleep(11)
closed = 0
for s in conns:
    s.settimeout(0.01)
    try:
        if s.recv(1) == b"":
            closed += 1
    except socket.timeout:
        pass
    except OSError:
        closed += 1
print(f"after 12 s: {closed} of 3,000 closed by the server, RSS {rss()} MiB, serves others: {serves()}")
for s in conns:
    s.close()
time.sleep(3)
print(f"3 s after the clients left: RSS {rss()} MiB")
srv.terminate()
srv.wait()
