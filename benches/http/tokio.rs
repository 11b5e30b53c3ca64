//! `http_plaintext` peer: the shared protocol (`examples/http_proto.rs`) hand-rolled on
//! `tokio::net`, one task per connection; a current-thread runtime for
//! `--workers 1`, a multi-thread one otherwise. Each read is bounded by
//! the shared idle timeout (`tokio::time::timeout`), as rt's is by a read
//! timeout.
//!
//! `cargo run --release -p rt-benches --example http_tokio -- --addr 127.0.0.1:8080`

use rt_benches::http::{args, respond, BUF_LEN, IDLE_TIMEOUT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn serve_connection(mut conn: TcpStream) -> std::io::Result<()> {
    conn.set_nodelay(true)?;
    let (mut buf, mut filled) = (vec![0; BUF_LEN], 0);
    let mut out = Vec::with_capacity(BUF_LEN);
    loop {
        let Ok(read) = tokio::time::timeout(IDLE_TIMEOUT, conn.read(&mut buf[filled..])).await
        else {
            return Ok(()); // idle for too long
        };
        let n = read?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        let (used, close) = respond(&buf[..filled], &mut out);
        if !out.is_empty() {
            conn.write_all(&out).await?;
            out.clear();
        }
        if close || (used == 0 && filled == BUF_LEN) {
            return Ok(());
        }
        buf.copy_within(used..filled, 0);
        filled -= used;
    }
}

fn main() -> std::io::Result<()> {
    let (addr, workers) = args();
    let runtime = match workers {
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?,
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_io()
            .enable_time()
            .build()?,
    };
    runtime.block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        println!(
            "http_tokio on http://{} ({workers} workers)",
            listener.local_addr()?
        );
        loop {
            match listener.accept().await {
                Ok((conn, _)) => {
                    tokio::spawn(serve_connection(conn));
                }
                Err(err) => eprintln!("accept: {err}"),
            }
        }
    })
}
