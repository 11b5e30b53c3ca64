//! `http_plaintext` peer: the shared protocol (`examples/http_proto.rs`) hand-rolled on
//! `may::net`, one coroutine per connection, plain blocking reads and
//! writes — the same program as rt's `examples/http_hello.rs`.
//!
//! `cargo run --release -p rt-benches --example http_may -- --addr 127.0.0.1:8080`

use rt_benches::http::{args, serve_connection, IDLE_TIMEOUT};

fn main() -> std::io::Result<()> {
    let (addr, workers) = args();
    may::config().set_workers(workers);
    // may pins worker i to CPU i by default; leave placement to taskset.
    may::config().set_worker_pin(false);
    let listener = may::net::TcpListener::bind(&addr)?;
    println!(
        "http_may on http://{} ({workers} workers)",
        listener.local_addr()?
    );
    let server = may::go!(move || {
        for conn in listener.incoming() {
            match conn {
                Ok(conn) => {
                    may::go!(move || {
                        conn.set_nodelay(true)?;
                        conn.set_read_timeout(Some(IDLE_TIMEOUT))?;
                        serve_connection(conn)
                    });
                }
                Err(err) => eprintln!("accept: {err}"),
            }
        }
    });
    server.join().expect("the accept loop panicked");
    Ok(())
}
