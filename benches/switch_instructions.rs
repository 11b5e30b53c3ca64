//! Instruction counts of the hottest paths, for `valgrind --tool=callgrind`
//! (which counts instructions, not seconds: the same on a busy or an idle
//! machine, so two builds can be compared exactly). One worker, `N` rounds
//! (default 100,000) of one workload:
//!
//! - `pingpong`: a rendezvous-channel round trip between two coroutines,
//! - `yield`: two coroutines yielding to each other,
//! - `spawn`: spawn and join, in batches of 1,000,
//! - `sleep`: spawn 1,000 coroutines that each sleep 1 ms, join them;
//!   repeated (a timer registered, fired and waking its coroutine),
//! - `select_ready`: a `select!` over four receive arms, one of them ready
//!   (a value buffered just before; the send is counted too),
//! - `select_default`: a `select!` over two empty channels with `default`,
//! - `select_pingpong`: `pingpong` where the echo side waits in a `select!`
//!   over its channel and a second, idle one,
//! - `tcp_pingpong` / `tcp_pingpong_timeout`: a 16-byte round trip over
//!   one of 32 loopback TCP connections between coroutines, each read waiting for
//!   readiness (without / with a 10 s read timeout on both ends: the
//!   per-read timer an idle timeout costs); system calls are not counted,
//!   so this is the user-space cost of two parks on readiness,
//! - `tokio_tcp_pingpong` / `tokio_tcp_pingpong_timeout`: the same on a
//!   tokio current-thread runtime (`tokio::time::timeout` around each read),
//! - `defer_macro` / `scopeguard`: inside a coroutine, a block with one
//!   `rt::defer!` (counted in the coroutine's defer chain) / one
//!   `scopeguard::defer!` that increments a counter.
//!
//! With `RT_CURRENT_THREAD=1` rt runs on a current-thread runtime (the
//! calling thread is the worker) instead of one worker thread.
//!
//! `cargo bench -p rt-benches --bench switch_instructions --no-run`, then
//! `valgrind --tool=callgrind target/release/deps/switch_instructions-* pingpong`
//! and divide the total by N. Without valgrind it prints ns per round.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let what = args.next().unwrap_or_else(|| "pingpong".into());
    let n: u64 = args.next().map_or(100_000, |s| s.parse().expect("N"));
    let start = Instant::now();
    if let Some(timeout) = what.strip_prefix("tokio_tcp_pingpong") {
        let timeout = (timeout == "_timeout").then_some(Duration::from_secs(10));
        tokio_tcp_pingpong(n, timeout);
        let ns = start.elapsed().as_nanos() as f64 / n as f64;
        println!("switch_instructions/{what}: {n} rounds, {ns:.1} ns per round");
        return;
    }
    let builder = match std::env::var_os("RT_CURRENT_THREAD") {
        Some(_) => rt::Builder::new().current_thread(),
        None => rt::Builder::new().workers(1),
    };
    let runtime = builder.build().expect("runtime");
    runtime.block_on(|| match what.as_str() {
        "pingpong" => {
            let (tx1, rx1) = rt::chan::bounded::<u64>(0);
            let (tx2, rx2) = rt::chan::bounded::<u64>(0);
            let echo = rt::spawn(move || {
                for v in rx1.iter() {
                    tx2.send(v + 1).unwrap();
                }
            });
            for i in 0..n {
                tx1.send(i).unwrap();
                assert_eq!(rx2.recv().unwrap(), i + 1);
            }
            drop(tx1);
            echo.join().unwrap();
        }
        "yield" => {
            let other = rt::spawn(move || (0..n).for_each(|_| rt::yield_now()));
            (0..n).for_each(|_| rt::yield_now());
            other.join().unwrap();
        }
        "spawn" => {
            for _ in 0..n / 1000 {
                let handles: Vec<_> = (0..1000).map(|_| rt::spawn(|| ())).collect();
                handles.into_iter().for_each(|h| h.join().unwrap());
            }
        }
        "sleep" => {
            for _ in 0..n / 1000 {
                let handles: Vec<_> = (0..1000)
                    .map(|_| rt::spawn(|| rt::sleep(Duration::from_millis(1))))
                    .collect();
                handles.into_iter().for_each(|h| h.join().unwrap());
            }
        }
        "select_ready" => {
            let chans: Vec<_> = (0..4).map(|_| rt::chan::bounded::<u64>(1)).collect();
            let [(_, a), (_, b), (tx, c), (_, d)] = &chans[..] else {
                unreachable!()
            };
            let mut sum = 0;
            for i in 0..n {
                tx.send(i).unwrap();
                rt::select! {
                    recv(a) -> v => sum += v.unwrap(),
                    recv(b) -> v => sum += v.unwrap(),
                    recv(c) -> v => sum += v.unwrap(),
                    recv(d) -> v => sum += v.unwrap(),
                }
            }
            assert_eq!(sum, n * (n - 1) / 2);
        }
        "select_default" => {
            let (_tx1, rx1) = rt::chan::bounded::<u64>(1);
            let (_tx2, rx2) = rt::chan::bounded::<u64>(1);
            let mut defaults = 0;
            for _ in 0..n {
                rt::select! {
                    recv(rx1) -> _ => unreachable!(),
                    recv(rx2) -> _ => unreachable!(),
                    default => defaults += 1,
                }
            }
            assert_eq!(defaults, n);
        }
        "select_pingpong" => {
            let (tx1, rx1) = rt::chan::bounded::<u64>(0);
            let (tx2, rx2) = rt::chan::bounded::<u64>(0);
            let (_idle_tx, idle_rx) = rt::chan::bounded::<u64>(0);
            let echo = rt::spawn(move || loop {
                rt::select! {
                    recv(rx1) -> v => match v {
                        Ok(v) => tx2.send(v + 1).unwrap(),
                        Err(_) => break,
                    },
                    recv(idle_rx) -> _ => unreachable!(),
                }
            });
            for i in 0..n {
                tx1.send(i).unwrap();
                assert_eq!(rx2.recv().unwrap(), i + 1);
            }
            drop(tx1);
            echo.join().unwrap();
        }
        "tcp_pingpong" => tcp_pingpong(n, None),
        "tcp_pingpong_timeout" => tcp_pingpong(n, Some(Duration::from_secs(10))),
        "defer_macro" => {
            let count = std::cell::Cell::new(0u64);
            for _ in 0..n {
                let count = std::hint::black_box(&count);
                rt::defer! { count.set(count.get() + 1) }
            }
            assert_eq!(count.get(), n);
        }
        "scopeguard" => {
            let count = std::cell::Cell::new(0u64);
            for _ in 0..n {
                let count = std::hint::black_box(&count);
                scopeguard::defer! { count.set(count.get() + 1) }
            }
            assert_eq!(count.get(), n);
        }
        other => panic!(
            "unknown workload {other}: pingpong, yield, spawn, sleep, select_ready, select_default, select_pingpong, tcp_pingpong, tcp_pingpong_timeout, tokio_tcp_pingpong, tokio_tcp_pingpong_timeout, defer_macro or scopeguard"
        ),
    });
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    println!("switch_instructions/{what}: {n} rounds, {ns:.1} ns per round");
}

/// Connections of the TCP ping-pongs.
const CONNECTIONS: u64 = 32;

/// `n` round trips of 16 bytes over loopback TCP, spread over 32
/// connections at once (as a server's clients are, so the worker is never
/// idle), both ends coroutines of the one worker, with `timeout` as every
/// end's read timeout.
fn tcp_pingpong(n: u64, timeout: Option<Duration>) {
    let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = rt::spawn(move || {
        let echoes: Vec<_> = (0..CONNECTIONS)
            .map(|_| {
                let (mut conn, _) = listener.accept().unwrap();
                rt::spawn(move || {
                    conn.set_read_timeout(timeout).unwrap();
                    let mut buf = [0; 16];
                    while conn.read_exact(&mut buf).is_ok() {
                        conn.write_all(&buf).unwrap();
                    }
                })
            })
            .collect();
        echoes.into_iter().for_each(|e| e.join().unwrap());
    });
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            rt::spawn(move || {
                let mut conn = rt::net::TcpStream::connect(addr).unwrap();
                conn.set_nodelay(true).unwrap();
                conn.set_read_timeout(timeout).unwrap();
                let mut buf = [7; 16];
                for _ in 0..n / CONNECTIONS {
                    conn.write_all(&buf).unwrap();
                    conn.read_exact(&mut buf).unwrap();
                }
            })
        })
        .collect();
    clients.into_iter().for_each(|c| c.join().unwrap());
    server.join().unwrap();
}

/// [`tcp_pingpong`] on a tokio current-thread runtime, each read inside
/// `tokio::time::timeout` when `timeout` is set (as the http peer does).
fn tokio_tcp_pingpong(n: u64, timeout: Option<Duration>) {
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
    async fn read_exact(
        conn: &mut (impl AsyncRead + Unpin),
        buf: &mut [u8],
        timeout: Option<Duration>,
    ) -> std::io::Result<()> {
        let mut filled = 0;
        while filled < buf.len() {
            let read = conn.read(&mut buf[filled..]);
            let n = match timeout {
                Some(t) => tokio::time::timeout(t, read).await??,
                None => read.await?,
            };
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            filled += n;
        }
        Ok(())
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut echoes = Vec::new();
            for _ in 0..CONNECTIONS {
                let (mut conn, _) = listener.accept().await.unwrap();
                echoes.push(tokio::spawn(async move {
                    let mut buf = [0; 16];
                    while read_exact(&mut conn, &mut buf, timeout).await.is_ok() {
                        conn.write_all(&buf).await.unwrap();
                    }
                }));
            }
            for echo in echoes {
                echo.await.unwrap();
            }
        });
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|_| {
                tokio::spawn(async move {
                    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
                    conn.set_nodelay(true).unwrap();
                    let mut buf = [7; 16];
                    for _ in 0..n / CONNECTIONS {
                        conn.write_all(&buf).await.unwrap();
                        read_exact(&mut conn, &mut buf, timeout).await.unwrap();
                    }
                })
            })
            .collect();
        for client in clients {
            client.await.unwrap();
        }
        server.await.unwrap();
    });
}
