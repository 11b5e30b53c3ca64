//! echo_light (BENCHMARKS.md): an echo server on 2 workers at light load.
//! One client process opens 8 connections, each a thread that sends a
//! 64-byte message every millisecond (paced, not back to back) and waits
//! for the echo; it reports the round-trip latency percentiles. The
//! servers: `rt` (2 workers, one coroutine per connection), `tokio`
//! (multi-thread, 2 workers, one task per connection) and Go's
//! (`benches/go/echo`, GOMAXPROCS=2). `benches/echo_light.sh` runs them
//! interleaved, each in fresh processes.
//!
//! ```text
//! echo_light rt PORT | tokio PORT          # serve until killed
//! echo_light client PORT SECONDS [CONNS]   # prints p50/p90/p99/max in µs
//! ```

use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// Bytes per message.
const MESSAGE: usize = 64;
/// Time between two messages of one connection.
const PACE: Duration = Duration::from_millis(1);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or_default();
    match arg(0) {
        "rt" => serve_rt(arg(1)),
        "tokio" => serve_tokio(arg(1)),
        "client" => client(
            arg(1),
            arg(2).parse().expect("SECONDS"),
            arg(3).parse().unwrap_or(8),
        ),
        _ => panic!("rt PORT | tokio PORT | client PORT SECONDS [CONNS]"),
    }
}

fn serve_rt(port: &str) {
    let rt = rt::Builder::new().workers(2).build().unwrap();
    rt.block_on(|| {
        let listener = rt::net::TcpListener::bind(format!("127.0.0.1:{port}")).unwrap();
        loop {
            let (mut conn, _) = listener.accept().unwrap();
            rt::go!(move || {
                conn.set_nodelay(true).unwrap();
                let mut buf = [0u8; 4096];
                loop {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if conn.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
}

fn serve_tokio(port: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_io()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
            .await
            .unwrap();
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                conn.set_nodelay(true).unwrap();
                let mut buf = [0u8; 4096];
                loop {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if conn.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
}

/// `conns` threads, each with one connection, each sending a message
/// every [`PACE`] for `seconds`; then the latency percentiles of all.
fn client(port: &str, seconds: u64, conns: usize) {
    let addr = format!("127.0.0.1:{port}");
    let end = Instant::now() + Duration::from_secs(seconds);
    let threads: Vec<_> = (0..conns)
        .map(|i| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut conn = std::net::TcpStream::connect(&addr).unwrap();
                conn.set_nodelay(true).unwrap();
                let message = [i as u8; MESSAGE];
                let mut back = [0u8; MESSAGE];
                let mut samples = Vec::new();
                // Staggered starts, so the connections do not all send at once.
                let mut next = Instant::now() + PACE * i as u32 / conns as u32;
                while next < end {
                    if let Some(wait) = next.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let start = Instant::now();
                    conn.write_all(&message).unwrap();
                    conn.read_exact(&mut back).unwrap();
                    samples.push(start.elapsed());
                    assert_eq!(back, message);
                    next += PACE;
                }
                samples
            })
        })
        .collect();
    let mut all: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort();
    let pct = |p: f64| all[((all.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e6;
    println!(
        "n {} p50 {:.1} p90 {:.1} p99 {:.1} max {:.1} us",
        all.len(),
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0)
    );
}
