//! What is my server doing? A small service with a connection pool guarded
//! by a semaphore, a cache behind a lock, workers waiting for jobs and a
//! client stuck on a slow request — then `rt::dump()` shows every
//! coroutine: what it waits for, the line it waits on, for how long, where
//! it was spawned, its pending defers. `Runtime::metrics()` adds the
//! counters. With `--sigquit` the same dump is printed whenever the process
//! gets SIGQUIT (Ctrl-\ or `kill -QUIT <pid>`) for ten seconds.
//!
//! Run: `cargo run --release --example introspect [-- --sigquit]`

use std::sync::Arc;
use std::time::Duration;

use rt::sync::{Mutex, Semaphore};

fn main() {
    let sigquit = std::env::args().any(|a| a == "--sigquit");
    let runtime = rt::Builder::new()
        .workers(2)
        .dump_on_sigquit(sigquit)
        .build()
        .expect("start the runtime");

    let (jobs_tx, jobs_rx) = rt::chan::bounded::<u32>(0);
    let pool = Arc::new(Semaphore::new(1)); // one database connection
    let cache = Arc::new(Mutex::new(Vec::<u32>::new()));
    let (reply_tx, reply_rx) = rt::chan::bounded::<u32>(0);

    // Named workers idle on the job channel.
    let workers: Vec<_> = runtime.block_on(|| {
        (0..3)
            .map(|i| {
                let jobs = jobs_rx.clone();
                rt::CoroutineBuilder::new()
                    .name(format!("worker-{i}"))
                    .spawn(move || {
                        let mut done = 0;
                        for _job in jobs.iter() {
                            done += 1;
                        }
                        done
                    })
                    .expect("spawn")
            })
            .collect()
    });

    // One request holds the only connection and waits for a slow reply,
    // with cleanup deferred; a second one queues for the connection.
    let holder = {
        let (pool, reply) = (pool.clone(), reply_rx.clone());
        runtime.spawn(move || {
            rt::frame(|f| {
                let _conn = pool.acquire();
                f.defer(|| println!("(holder) connection returned"));
                reply.recv()
            })
        })
    };
    let queued = {
        let pool = pool.clone();
        runtime.spawn(move || drop(pool.acquire()))
    };

    // A cache refresher blocks on the lock the main thread holds.
    let guard = cache.lock().unwrap();
    let refresher = {
        let cache = cache.clone();
        runtime.spawn(move || cache.lock().unwrap().push(1))
    };

    std::thread::sleep(Duration::from_millis(300));
    println!("{}", runtime.dump());
    let m = runtime.metrics();
    println!(
        "metrics: {} live, {} spawned, {} parks, {} steals",
        m.live_coroutines, m.spawned, m.parks, m.steals
    );

    if sigquit {
        println!(
            "\nsend SIGQUIT within 10 s: kill -QUIT {}",
            std::process::id()
        );
        std::thread::sleep(Duration::from_secs(10));
    }

    // Unblock everything and finish cleanly.
    drop(guard);
    refresher.join().unwrap();
    reply_tx.send(42).unwrap();
    assert_eq!(holder.join().unwrap().unwrap(), Ok(42));
    queued.join().unwrap();
    drop((jobs_tx, jobs_rx));
    for w in workers {
        w.join().unwrap();
    }
    runtime.assert_no_leaks(Duration::from_secs(5));
}
