//! The `blocking_crates` benchmark (BENCHMARKS.md) on rt's side: 200
//! coroutines × 100 requests on 2 workers with the unmodified sync `redis`
//! client or `ureq`, made three ways — called directly (`direct`: built
//! with the `hook` feature the calls park the coroutine, without it they
//! block the worker), each call inside `rt::blocking`, and a hand-written
//! client on `rt::net` — while a heartbeat coroutine ticks every
//! millisecond and records its longest stall. `benches/blocking_crates.sh`
//! starts the servers and the delay proxy and runs every way in fresh
//! processes.
//!
//! ```sh
//! cargo run --release --features hook --example blocking_crates -- run redis direct 127.0.0.1:6379
//! cargo run --release --features hook --example blocking_crates -- run http rtnet 127.0.0.1:8080
//! cargo run --release --features hook --example blocking_crates -- proxy 127.0.0.1:7000 127.0.0.1:6379 1
//! ```
//!
//! `run` prints one line: `client way total_ms worst_stall_ms`. `proxy
//! LISTEN UPSTREAM DELAY_MS` forwards connections, delaying every chunk by
//! DELAY_MS / 2 in each direction (a round trip of DELAY_MS).

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Coroutines making requests at once.
const CLIENTS: usize = 200;
/// Requests per coroutine.
const REQUESTS: usize = 100;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["run", client, way, addr] => run(client, way, addr),
        ["proxy", listen, upstream, delay_ms] => proxy(
            listen,
            upstream,
            Duration::from_micros(delay_ms.parse::<u64>().unwrap() * 500),
        ),
        _ => panic!(
            "usage: run redis|http direct|blocking|rtnet ADDR | proxy LISTEN UPSTREAM DELAY_MS"
        ),
    }
}

/// One measurement: the clients, and the heartbeat beside them.
fn run(client: &str, way: &str, addr: &str) {
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let (label_client, label_way) = (client.to_owned(), way.to_owned());
    let (client, way, addr) = (client.to_owned(), way.to_owned(), addr.to_owned());
    let (total, stall) = rt.block_on(move || {
        if client == "redis" {
            let mut conn = redis::Client::open(format!("redis://{addr}/"))
                .unwrap()
                .get_connection()
                .unwrap();
            redis::cmd("SET")
                .arg("key")
                .arg("value")
                .exec(&mut conn)
                .unwrap();
        }
        let done = Arc::new(AtomicBool::new(false));
        let heartbeat = rt::spawn({
            let done = done.clone();
            move || {
                let mut worst = Duration::ZERO;
                while !done.load(Ordering::Relaxed) {
                    let start = Instant::now();
                    rt::sleep(Duration::from_millis(1));
                    worst = worst.max(start.elapsed().saturating_sub(Duration::from_millis(1)));
                }
                worst
            }
        });
        let start = Instant::now();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (client, way, addr) = (client.clone(), way.clone(), addr.clone());
                rt::spawn(move || match (client.as_str(), way.as_str()) {
                    ("redis", "direct") => redis_direct(&addr),
                    ("redis", "blocking") => redis_in_blocking(&addr),
                    ("redis", "rtnet") => redis_rtnet(&addr),
                    ("http", "direct") => ureq_direct(&addr),
                    ("http", "blocking") => ureq_in_blocking(&addr),
                    ("http", "rtnet") => http_rtnet(&addr),
                    other => panic!("unknown client and way {other:?}"),
                })
            })
            .collect();
        clients.into_iter().for_each(|c| c.join().unwrap());
        let total = start.elapsed();
        done.store(true, Ordering::Relaxed);
        (total, heartbeat.join().unwrap())
    });
    println!(
        "{label_client} {label_way} {:.1} {:.2}",
        total.as_secs_f64() * 1e3,
        stall.as_secs_f64() * 1e3
    );
}

fn redis_direct(addr: &str) {
    let mut conn = redis::Client::open(format!("redis://{addr}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    for _ in 0..REQUESTS {
        let v: String = redis::cmd("GET").arg("key").query(&mut conn).unwrap();
        assert_eq!(v, "value");
    }
}

fn redis_in_blocking(addr: &str) {
    let url = format!("redis://{addr}/");
    let mut conn =
        rt::blocking(move || redis::Client::open(url).unwrap().get_connection().unwrap());
    for _ in 0..REQUESTS {
        let (back, v) = rt::blocking(move || {
            let v: String = redis::cmd("GET").arg("key").query(&mut conn).unwrap();
            (conn, v)
        });
        conn = back;
        assert_eq!(v, "value");
    }
}

/// GET over RESP by hand: `*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n`, answered
/// `$5\r\nvalue\r\n`.
fn redis_rtnet(addr: &str) {
    let conn = rt::net::TcpStream::connect(addr).unwrap();
    conn.set_nodelay(true).unwrap();
    let mut reader = BufReader::new(&conn);
    let mut line = String::new();
    for _ in 0..REQUESTS {
        (&conn)
            .write_all(b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n")
            .unwrap();
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, "$5\r\n");
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, "value\r\n");
    }
}

fn ureq_direct(addr: &str) {
    let agent = ureq::AgentBuilder::new().build();
    let url = format!("http://{addr}/");
    for _ in 0..REQUESTS {
        let body = agent.get(&url).call().unwrap().into_string().unwrap();
        assert_eq!(body, "Hello, World!");
    }
}

fn ureq_in_blocking(addr: &str) {
    let agent = ureq::AgentBuilder::new().build();
    let url = format!("http://{addr}/");
    for _ in 0..REQUESTS {
        let (agent, url) = (agent.clone(), url.clone());
        let body = rt::blocking(move || agent.get(&url).call().unwrap().into_string().unwrap());
        assert_eq!(body, "Hello, World!");
    }
}

/// A keep-alive GET by hand; the answer has a Content-Length of 13.
fn http_rtnet(addr: &str) {
    let conn = rt::net::TcpStream::connect(addr).unwrap();
    conn.set_nodelay(true).unwrap();
    let mut reader = BufReader::new(&conn);
    let mut line = String::new();
    for _ in 0..REQUESTS {
        (&conn)
            .write_all(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
            .unwrap();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
        }
        let mut body = [0u8; 13];
        reader.read_exact(&mut body).unwrap();
        assert_eq!(&body, b"Hello, World!");
    }
}

/// Forward every connection to `upstream`, each chunk `delay` late in
/// each direction (pipelined: later chunks are not held up by earlier
/// ones' delays beyond their own).
fn proxy(listen: &str, upstream: &str, delay: Duration) {
    let (listen, upstream) = (listen.to_owned(), upstream.to_owned());
    let rt = rt::Builder::new().workers(1).build().unwrap();
    rt.block_on(move || {
        // rt's listeners take the system's largest backlog: 200 clients
        // connecting at once must not overflow it (a dropped SYN costs 1 s).
        let listener = rt::net::TcpListener::bind(listen.as_str()).unwrap();
        for conn in listener.incoming() {
            let client = conn.unwrap();
            let server = rt::net::TcpStream::connect(upstream.as_str()).unwrap();
            for s in [&client, &server] {
                s.set_nodelay(true).unwrap();
            }
            let (client, server) = (Arc::new(client), Arc::new(server));
            rt::go!(pump(client.clone(), server.clone(), delay));
            rt::go!(pump(server, client, delay));
        }
    });
}

/// Copy `from` to `to`, each chunk written `delay` after it was read.
fn pump(from: Arc<rt::net::TcpStream>, to: Arc<rt::net::TcpStream>, delay: Duration) {
    let (tx, rx) = rt::chan::unbounded::<(Instant, Vec<u8>)>();
    let writer = rt::spawn(move || {
        for (due, chunk) in rx {
            rt::sleep_until(due);
            if (&*to).write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n @ 1..) = (&*from).read(&mut buf) {
        if tx
            .send((Instant::now() + delay, buf[..n].to_vec()))
            .is_err()
        {
            break;
        }
    }
    drop(tx);
    let _ = writer.join();
}
