//! Soak test: an echo server under 2,000 concurrent connections that
//! randomly disconnect and reconnect, for 60 s on loopback. Every echoed
//! byte is verified; at the end it reports bytes verified, connections
//! made, RSS and open file descriptors at start and end (they should match:
//! nothing leaks).
//!
//! `cargo run --release --example soak` (60 s) or
//! `cargo run --release --example soak -- --seconds 10 --connections 500`.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rt::net::{TcpListener, TcpStream};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        })
        .unwrap_or(0)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// A tiny xorshift generator per client (no shared state, no crate).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[derive(Default)]
struct Totals {
    bytes: AtomicU64,
    connections: AtomicU64,
    disconnects: AtomicU64,
}

fn serve(listener: TcpListener) {
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        rt::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = conn.read(&mut buf) {
                if conn.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
}

/// Connect, exchange a random number of random-sized messages, verify each,
/// then disconnect (sometimes abruptly, mid-exchange); repeat until `end`.
fn client(id: u64, addr: std::net::SocketAddr, end: Instant, totals: Arc<Totals>) {
    let mut rng = Rng(id * 0x9E37_79B9_7F4A_7C15 + 1);
    let mut reply = vec![0u8; 2048];
    while Instant::now() < end {
        let Ok(mut stream) = TcpStream::connect(addr) else {
            rt::sleep(Duration::from_millis(10));
            continue;
        };
        totals.connections.fetch_add(1, Ordering::Relaxed);
        for _ in 0..rng.below(20) {
            let len = 1 + rng.below(2048) as usize;
            let fill = rng.below(256) as u8;
            let message = vec![fill; len];
            if stream.write_all(&message).is_err() {
                break;
            }
            if rng.below(50) == 0 {
                // Disconnect abruptly without reading the echo.
                totals.disconnects.fetch_add(1, Ordering::Relaxed);
                break;
            }
            stream.read_exact(&mut reply[..len]).expect("echo");
            assert!(reply[..len].iter().all(|&b| b == fill), "corrupted echo");
            totals.bytes.fetch_add(len as u64, Ordering::Relaxed);
        }
        rt::sleep(Duration::from_millis(rng.below(20)));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let seconds = arg("--seconds", 60);
    let connections = arg("--connections", 2_000);
    let (fds_start, rss_start) = (open_fds(), rss_kib());
    let runtime = rt::Builder::new().build().expect("runtime");
    let totals = Arc::new(Totals::default());
    let started = Instant::now();
    {
        let totals = totals.clone();
        runtime.block_on(move || {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            let addr = listener.local_addr().unwrap();
            let server = rt::spawn(move || serve(listener));
            let end = Instant::now() + Duration::from_secs(seconds);
            let clients: Vec<_> = (0..connections)
                .map(|id| {
                    let totals = totals.clone();
                    rt::spawn(move || client(id, addr, end, totals))
                })
                .collect();
            clients.into_iter().for_each(|c| c.join().expect("client"));
            server.cancel();
        });
    }
    let rss_end = rss_kib();
    drop(runtime);
    println!(
        "soak: {connections} clients for {:?}: {} connections, {} abrupt disconnects, {} bytes echoed and verified",
        started.elapsed(),
        totals.connections.load(Ordering::Relaxed),
        totals.disconnects.load(Ordering::Relaxed),
        totals.bytes.load(Ordering::Relaxed),
    );
    println!(
        "RSS: {rss_start} KiB at start, {rss_end} KiB at the end (before dropping the runtime); \
         open fds: {fds_start} at start, {} at the end",
        open_fds()
    );
}
