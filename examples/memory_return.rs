//! Memory comes back after a spike: park many coroutines, release them
//! all, then idle and watch the resident set shrink as the scavenger gives
//! the pooled stacks and tasks back to the OS.
//!
//! ```sh
//! cargo run --release --example memory_return              # 1,000,000 coroutines, 10 s idle
//! cargo run --release --example memory_return -- 100000 5  # N coroutines, seconds idle
//! ```

use std::time::{Duration, Instant};

/// Resident set size in MiB (Linux), from `/proc/self/status`.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(1_000_000, |s| s.parse().expect("N"));
    let idle: u64 = args.next().map_or(10, |s| s.parse().expect("seconds"));
    let rt = rt::Builder::new().workers(2).build().expect("runtime");
    let before = rss_mib();
    rt.block_on(|| {
        let (tx, rx) = rt::chan::bounded::<()>(0);
        let wg = std::sync::Arc::new(rt::sync::WaitGroup::new());
        let parked: Vec<_> = (0..n)
            .map(|_| {
                let (rx, wg) = (rx.clone(), wg.clone());
                wg.add(1);
                rt::spawn(move || {
                    wg.done();
                    let _ = rx.recv();
                })
            })
            .collect();
        wg.wait();
        println!("before: {before:.0} MiB; {n} parked: {:.0} MiB", rss_mib());
        drop(tx); // releases them all
        parked.into_iter().for_each(|h| h.join().unwrap());
    });
    let start = Instant::now();
    println!("released: {:.0} MiB", rss_mib());
    for _ in 0..idle {
        std::thread::sleep(Duration::from_secs(1));
        println!(
            "idle {:>4.1} s: {:.0} MiB",
            start.elapsed().as_secs_f64(),
            rss_mib()
        );
    }
    let after = rss_mib();
    let bar = 2.0 * before + 64.0;
    println!(
        "after {idle} s idle: {after:.0} MiB (bar: 2 x before + 64 MiB = {bar:.0} MiB): {}",
        if after <= bar { "ok" } else { "over" }
    );
}
