//! A hand-rolled HTTP/1.1 server that answers every request with
//! `Hello, World!`: one coroutine per connection, plain blocking reads and
//! writes. It is rt's side of the `http_plaintext` benchmark
//! (`benches/http.sh`), whose tokio, may, std and Go peers speak the same
//! protocol byte for byte.
//!
//! ```sh
//! cargo run --release --example http_hello                  # serve 127.0.0.1:8080, 1 worker
//! cargo run --release --example http_hello -- --addr 127.0.0.1:9000 --workers 2
//! cargo run --release --example http_hello -- --self-test   # check the protocol, exit
//! cargo run --release --example http_hello -- --check 127.0.0.1:9000  # same checks, any server
//! curl -i http://127.0.0.1:8080/
//! ```
//!
//! The protocol: connections are kept alive (HTTP/1.1) unless a request
//! says `Connection: close` (or is HTTP/1.0 without `Connection:
//! keep-alive`); that request's response says `Connection: close` and the
//! connection closes after it. Pipelining: every complete request in the
//! buffer is answered, and all the answers go out in one write; a request
//! split across reads waits for the rest. A body announced by
//! `Content-Length` is skipped. A malformed request, or one that does not
//! fit in 8 KiB, closes the connection.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use rt::net::{TcpListener, TcpStream};

#[path = "http_proto.rs"]
mod proto;

use proto::{HELLO, HELLO_CLOSE, IDLE_TIMEOUT};

/// One connection, until the client closes it, asks us to, or goes quiet
/// for [`IDLE_TIMEOUT`].
fn serve_connection(conn: TcpStream) -> io::Result<()> {
    conn.set_nodelay(true)?;
    conn.set_read_timeout(Some(IDLE_TIMEOUT))?;
    proto::serve_connection(conn)
}

/// Accept forever, one coroutine per connection.
fn serve(listener: TcpListener) {
    for conn in listener.incoming() {
        match conn {
            Ok(conn) => {
                rt::spawn(move || serve_connection(conn));
            }
            Err(err) => eprintln!("accept: {err}"),
        }
    }
}

/// Send `parts` (pausing between them, so the server sees partial requests),
/// then expect exactly `expected` back, followed by EOF when `eof`.
fn exchange(addr: SocketAddr, parts: &[&[u8]], expected: &[u8], eof: bool) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).unwrap();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            rt::sleep(Duration::from_millis(2));
        }
        stream.write_all(part).expect("write");
    }
    let mut reply = vec![0; expected.len()];
    stream.read_exact(&mut reply).expect("read the responses");
    assert!(
        reply == expected,
        "got {:?}",
        String::from_utf8_lossy(&reply)
    );
    if eof {
        assert_eq!(stream.read(&mut [0; 1]).expect("read EOF"), 0, "not closed");
    }
}

/// The protocol checks, run by `clients` coroutines at once; returns the
/// number of responses verified.
fn check(addr: SocketAddr, clients: usize) -> usize {
    const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n";
    const GET_CLOSE: &[u8] = b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
    const POST: &[u8] = b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello";
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            rt::spawn(move || {
                // Keep-alive: one request at a time on one connection.
                let mut stream = TcpStream::connect(addr).expect("connect");
                let mut reply = [0; HELLO.len()];
                for _ in 0..100 {
                    stream.write_all(GET).unwrap();
                    stream.read_exact(&mut reply).unwrap();
                    assert_eq!(reply, HELLO);
                }
                // Pipelining: 64 requests in one write, 64 answers.
                let (gets, hellos) = (GET.repeat(64), HELLO.repeat(64));
                exchange(addr, &[&gets], &hellos, false);
                // Requests split across reads: mid-line, inside the final
                // CRLF CRLF, mid-body; then a body and a request in one write.
                let (two, g) = ([GET, POST].concat(), GET.len());
                let split = [
                    &two[..7],
                    &two[7..g - 1],
                    &two[g - 1..g + 52],
                    &two[g + 52..],
                ];
                exchange(addr, &split, &HELLO.repeat(2), false);
                exchange(addr, &[&[GET, POST, GET].concat()], &HELLO.repeat(3), false);
                // Connection: close ends the connection after its response,
                // even with requests pipelined behind it.
                exchange(addr, &[GET_CLOSE], HELLO_CLOSE, true);
                let pipelined = [GET, GET_CLOSE, GET].concat();
                exchange(addr, &[&pipelined], &[HELLO, HELLO_CLOSE].concat(), true);
                100 + 64 + 2 + 3 + 1 + 2 // responses checked above
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).sum()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut addr, mut workers) = ("127.0.0.1:8080".to_owned(), 1);
    let (mut self_test, mut check_addr) = (false, None);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--addr" => addr = value(),
            "--workers" => workers = value().parse().expect("--workers N"),
            "--self-test" => self_test = true,
            "--check" => check_addr = Some(value()),
            other => panic!("unknown argument {other}; see the top of examples/http_hello.rs"),
        }
    }
    // One worker: a current-thread runtime (as tokio's peer uses), so the
    // server is a single-threaded process.
    let builder = match workers {
        1 => rt::Builder::new().current_thread(),
        n => rt::Builder::new().workers(n),
    };
    let runtime = builder.build().expect("start the runtime");
    if let Some(target) = check_addr {
        let target: SocketAddr = target.parse().expect("--check IP:PORT");
        let verified = runtime.block_on(|| check(target, 4));
        println!("{target}: {verified} responses verified byte for byte: ok");
    } else if self_test {
        let verified = runtime.block_on(|| {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            let addr = listener.local_addr().unwrap();
            let server = rt::spawn(move || serve(listener));
            let verified = check(addr, 8);
            server.cancel();
            verified
        });
        println!("self-test: 8 clients, {verified} responses verified byte for byte: ok");
    } else {
        let listener = runtime
            .block_on(|| TcpListener::bind(addr.as_str()))
            .expect("bind");
        println!(
            "http_hello on http://{} ({workers} workers)",
            listener.local_addr().unwrap()
        );
        runtime.block_on(move || serve(listener));
    }
}
