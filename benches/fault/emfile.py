#!/usr/bin/env python3
# Accept under descriptor exhaustion: http_hello under `ulimit -n 256`, 1,000
# connections at once; server CPU while exhausted, and whether it serves again.
# cargo build --release --example http_hello && python3 benches/fault/emfile.py
# (SERVER=path/to/other/http_hello to compare builds.)
import socket, subprocess, time, os, sys
server = os.environ.get("SERVER", "target/release/examples/http_hello")
srv = subprocess.Popen(["bash", "-c", f"ulimit -n 256; exec {server} --addr 127.0.0.1:18080"], stderr=subprocess.PIPE)
time.sleep(0.5)
pid = srv.pid
def cpu():
    f=open(f"/proc/{pid}/stat").read().split(")")[1].split()
    return (int(f[11])+int(f[12]))/os.sysconf("SC_CLK_TCK")
conns=[]
for i in range(1000):
    s=socket.socket(); s.setblocking(False)
    try: s.connect(("127.0.0.1",18080))
    except BlockingIOError: pass
    conns.append(s)
time.sleep(1.0)
c0=cpu(); t0=time.time(); time.sleep(3.0); c1=cpu(); t1=time.time()
print(f"exhausted: server CPU {100*(c1-c0)/(t1-t0):.1f}% of one core over {t1-t0:.1f}s")
for s in conns: s.close()
time.sleep(1.5)
ok=False
for attempt in range(20):
    try:
        s=socket.create_connection(("127.0.0.1",18080),timeout=2)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"); r=s.recv(1000); ok=b"Hello, World!" in r; s.close()
        if ok: break
    except Exception as e: time.sleep(0.2)
print("serves again after:", ok)
srv.terminate(); _,err=srv.communicate()
lines=err.decode().count("\n")
print(f"accept error lines logged during the whole run: {lines}")
