//! `http_plaintext` peer: the `may_minihttp` framework (on may), as
//! published. Not byte-identical to the others: its responses carry
//! `Server` and `Date` headers and say `200 Ok`, and it ignores
//! `Connection: close`; it answers pipelined requests with one write, as
//! the others do.
//!
//! `cargo run --release -p rt-benches --example http_may_minihttp -- --addr 127.0.0.1:8080`

use may_minihttp::{HttpServer, HttpService, Request, Response};
use rt_benches::http::args;

/// Answers every request with `Hello, World!`.
#[derive(Clone)]
struct Hello;

impl HttpService for Hello {
    fn call(&mut self, _req: Request, rsp: &mut Response) -> std::io::Result<()> {
        rsp.header("Content-Type: text/plain").body("Hello, World!");
        Ok(())
    }
}

fn main() -> std::io::Result<()> {
    let (addr, workers) = args();
    may::config().set_workers(workers);
    may::config().set_worker_pin(false);
    let server = HttpServer(Hello).start(&addr)?;
    println!("http_may_minihttp on http://{addr} ({workers} workers)");
    server.join().expect("the server panicked");
    Ok(())
}
