//! `blocking_crates`' tokio peer (BENCHMARKS.md): 200 tasks × 100 GETs
//! with the async `redis` client (one multiplexed connection per task) on a
//! 2-worker multi-thread runtime, with a 1 ms heartbeat task recording its
//! longest stall. Prints `redis tokio total_ms worst_stall_ms`, as
//! examples/blocking_crates.rs does for rt.
//!
//! `cargo run --release -p rt-benches --example blocking_tokio -- 127.0.0.1:6379`

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CLIENTS: usize = 200;
const REQUESTS: usize = 100;

fn main() {
    let addr = std::env::args()
        .nth(1)
        .expect("usage: blocking_tokio REDIS_ADDR");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (total, stall) = runtime.block_on(async move {
        let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd("SET")
            .arg("key")
            .arg("value")
            .exec_async(&mut conn)
            .await
            .unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let heartbeat = tokio::spawn({
            let done = done.clone();
            async move {
                let mut worst = Duration::ZERO;
                while !done.load(Ordering::Relaxed) {
                    let start = Instant::now();
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    worst = worst.max(start.elapsed().saturating_sub(Duration::from_millis(1)));
                }
                worst
            }
        });
        let start = Instant::now();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move {
                    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
                    for _ in 0..REQUESTS {
                        let v: String = redis::cmd("GET")
                            .arg("key")
                            .query_async(&mut conn)
                            .await
                            .unwrap();
                        assert_eq!(v, "value");
                    }
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
        let total = start.elapsed();
        done.store(true, Ordering::Relaxed);
        (total, heartbeat.await.unwrap())
    });
    println!(
        "redis tokio {:.1} {:.2}",
        total.as_secs_f64() * 1e3,
        stall.as_secs_f64() * 1e3
    );
}
