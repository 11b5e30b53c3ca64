//! Placement: started coroutines never move, so where one starts is where
//! it stays. Long-lived coroutines spawned in bulk spread evenly over the
//! workers.

use std::io::Read;
use std::time::Duration;

#[path = "support/wait_for.rs"]
mod support;
use support::wait_for;

/// An accept loop spawning one long-lived coroutine per connection (each
/// waits for its client to hang up), 1,000 connections from a plain
/// thread: every worker ends up with the same number of them, within
/// ±10%.
#[test]
fn an_accept_loop_spreads_its_connections_evenly() {
    const CONNS: usize = 1000;
    for workers in [2, 3] {
        let rt = rt::Builder::new().workers(workers).build().unwrap();
        let listener = rt.block_on(|| rt::net::TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        let acceptor = rt.spawn(move || {
            for _ in 0..CONNS {
                let (mut conn, _) = listener.accept().unwrap();
                rt::spawn(move || {
                    let mut buf = [0u8; 16];
                    while conn.read(&mut buf).unwrap() > 0 {}
                });
            }
        });
        let clients: Vec<_> = (0..CONNS)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        acceptor.join().unwrap();
        wait_for("every handler to start", || {
            let homed: u64 = rt.metrics().workers.iter().map(|w| w.homed).sum();
            homed == CONNS as u64
        });
        let homed: Vec<u64> = rt.metrics().workers.iter().map(|w| w.homed).collect();
        let mean = CONNS as f64 / workers as f64;
        for &n in &homed {
            assert!(
                (n as f64 - mean).abs() <= 0.1 * mean,
                "{workers} workers: connections per worker {homed:?}, not within ±10% of {mean:.0}; {:?}",
                rt.metrics()
            );
        }
        drop(clients);
        wait_for("every handler to finish", || {
            rt.metrics().live_coroutines == 0
        });
    }
}

/// A coroutine spawned by one that then blocks its thread (a std channel,
/// waiting for that very child) is taken by the idle worker: a blocked
/// thread uses no CPU time, so "stuck" is also decided by wall time.
#[test]
fn a_coroutine_queued_behind_a_blocked_thread_runs_elsewhere() {
    for _ in 0..20 {
        let rt = rt::Builder::new().workers(2).monitor(None).build().unwrap();
        let parent = rt.spawn(|| {
            let (tx, rx) = std::sync::mpsc::channel();
            let child = rt::spawn(move || tx.send(42).unwrap());
            let got = rx.recv_timeout(Duration::from_secs(10));
            child.join().unwrap();
            got
        });
        assert_eq!(parent.join().unwrap(), Ok(42));
    }
}

/// Coroutines placed on a worker whose thread then stays blocked (a
/// coroutine there waits on a std channel for those very coroutines) are
/// taken back by the idle worker: placed queues are stolen from under the
/// same rules as the others.
#[test]
fn coroutines_placed_behind_a_blocked_thread_run_elsewhere() {
    const CHILDREN: usize = 40;
    for _ in 0..10 {
        let rt = rt::Builder::new().workers(2).monitor(None).build().unwrap();
        let got = rt.block_on(|| {
            let (tx, rx) = std::sync::mpsc::channel::<usize>();
            // The other worker steals the blocker while this one is busy,
            // and it blocks that thread until every child has reported.
            let blocker = rt::spawn(move || {
                (0..CHILDREN)
                    .map(|_| rx.recv_timeout(Duration::from_secs(10)))
                    .collect::<Result<Vec<_>, _>>()
            });
            let busy = std::time::Instant::now();
            while busy.elapsed() < Duration::from_millis(20) {
                std::hint::spin_loop();
            }
            // A burst: some of it is moved to the blocked worker's placed
            // queue.
            let children: Vec<_> = (0..CHILDREN)
                .map(|i| {
                    let tx = tx.clone();
                    rt::spawn(move || tx.send(i).unwrap())
                })
                .collect();
            children.into_iter().for_each(|c| c.join().unwrap());
            blocker.join().unwrap()
        });
        let mut got = got.expect("every child ran while the blocker's thread waited");
        got.sort_unstable();
        assert_eq!(got, (0..CHILDREN).collect::<Vec<_>>());
    }
}
