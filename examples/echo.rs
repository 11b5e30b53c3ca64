//! An echo server in plain blocking style: one coroutine per connection.
//!
//! `cargo run --release --example echo` starts the server on a free port,
//! drives it with 1,000 client coroutines that each send 100 messages and
//! check every echoed byte, prints what happened and exits.
//! `cargo run --release --example echo -- --serve 127.0.0.1:7000` only
//! serves (try `nc 127.0.0.1 7000`).

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

use rt::net::{TcpListener, TcpStream};

/// Accept forever; echo each connection in its own coroutine.
fn serve(listener: TcpListener) {
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        rt::spawn(move || {
            let mut buf = [0u8; 4096];
            // A read error or EOF ends this connection only.
            while let Ok(n @ 1..) = conn.read(&mut buf) {
                if conn.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
}

/// One client: `messages` round trips of a 64-byte message, checked.
fn client(addr: SocketAddr, id: usize, messages: usize) -> usize {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let mut reply = [0u8; 64];
    for m in 0..messages {
        let message = [(id + m) as u8; 64];
        stream.write_all(&message).expect("write");
        stream.read_exact(&mut reply).expect("read");
        assert_eq!(reply, message, "client {id} got other bytes");
    }
    messages * 64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = rt::Builder::new().build().expect("start the runtime");
    if let Some(addr) = args
        .iter()
        .position(|a| a == "--serve")
        .map(|i| &args[i + 1])
    {
        let listener = runtime
            .block_on(|| TcpListener::bind(addr.as_str()))
            .expect("bind");
        println!("echo server on {}", listener.local_addr().unwrap());
        runtime.block_on(move || serve(listener));
        return;
    }
    runtime.block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().unwrap();
        let server = rt::spawn(move || serve(listener));
        let start = Instant::now();
        let clients: Vec<_> = (0..1_000).map(|id| rt::spawn(move || client(addr, id, 100))).collect();
        let bytes: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
        let elapsed = start.elapsed();
        println!(
            "1,000 clients x 100 round trips echoed {bytes} bytes, all verified, in {elapsed:?} ({:.0} round trips/s)",
            100_000.0 / elapsed.as_secs_f64()
        );
        server.cancel();
    });
}
