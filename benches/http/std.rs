//! `http_plaintext` peer: the shared protocol (`examples/http_proto.rs`) on `std::net`,
//! one OS thread per connection (`--workers` is accepted and ignored).
//!
//! `cargo run --release -p rt-benches --example http_std -- --addr 127.0.0.1:8080`

use std::net::TcpListener;

use rt_benches::http::{args, serve_connection, IDLE_TIMEOUT};

fn main() -> std::io::Result<()> {
    let (addr, _) = args();
    let listener = TcpListener::bind(&addr)?;
    println!(
        "http_std on http://{} (a thread per connection)",
        listener.local_addr()?
    );
    for conn in listener.incoming() {
        match conn {
            Ok(conn) => {
                std::thread::spawn(move || {
                    conn.set_nodelay(true)?;
                    conn.set_read_timeout(Some(IDLE_TIMEOUT))?;
                    serve_connection(conn)
                });
            }
            Err(err) => eprintln!("accept: {err}"),
        }
    }
    Ok(())
}
