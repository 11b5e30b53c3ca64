//! The unmodified sync `redis` client against a real redis-server, from
//! 1,000 coroutines on 2 workers, with the `hook` feature. The test starts
//! `redis-server` on a free 127.0.0.1 port and stops it (.ci/run installs
//! it from Debian). Without the hook the client's blocking reads hold
//! the workers: 1,000 connections on 2 workers would run 2 at a time.
#![cfg(feature = "hook")]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A redis-server on a free port, killed on drop; holds the lock that
/// runs these tests one at a time (each opens 1,000 connections).
struct Server {
    child: Child,
    port: u16,
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

impl Server {
    fn start() -> Server {
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        raise_descriptor_limit();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--maxclients", "4096"])
            // Its default listen backlog (511) drops part of 1,000
            // simultaneous connects.
            .args(["--tcp-backlog", "4096"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server not found: install it (apt-get install redis-server)");
        let server = Server {
            child,
            port,
            _one_at_a_time: guard,
        };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }
}

/// 1,000 client sockets (and the server's as many) need more than the
/// usual soft limit of 1,024 descriptors: raise it to the hard limit (the
/// server inherits it).
fn raise_descriptor_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid out-pointer, then the same struct back.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_redis_crate_from_1000_coroutines_on_2_workers() {
    let server = Server::start();
    let url = format!("redis://127.0.0.1:{}/", server.port);
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let checked = rt.block_on(move || {
        let client = redis::Client::open(url).unwrap();
        let coroutines: Vec<_> = (0..1_000u32)
            .map(|i| {
                let client = client.clone();
                rt::spawn(move || {
                    let mut conn = client.get_connection().unwrap();
                    let key = format!("key:{i}");
                    for round in 0..10u32 {
                        let value = format!("{i}:{round}");
                        redis::cmd("SET")
                            .arg(&key)
                            .arg(&value)
                            .exec(&mut conn)
                            .unwrap();
                        let back: String = redis::cmd("GET").arg(&key).query(&mut conn).unwrap();
                        assert_eq!(back, value);
                    }
                    let incremented: u64 =
                        redis::cmd("INCR").arg("total").query(&mut conn).unwrap();
                    assert!(incremented >= 1);
                    10
                })
            })
            .collect();
        let checked: u32 = coroutines.into_iter().map(|c| c.join().unwrap()).sum();
        let mut conn = client.get_connection().unwrap();
        let total: u64 = redis::cmd("GET").arg("total").query(&mut conn).unwrap();
        assert_eq!(total, 1_000);
        checked
    });
    assert_eq!(checked, 10_000);
}

/// 500 coroutines block in BLPOP (a reply that comes only when another
/// coroutine pushes) before 500 others push: with the hook the waiting
/// reads park; without it the first two BLPOPs hold both workers and the
/// pushes never run.
#[test]
fn blpop_waiters_park_while_pushers_run() {
    let server = Server::start();
    let url = format!("redis://127.0.0.1:{}/", server.port);
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let mut popped = rt.block_on(move || {
        let client = redis::Client::open(url).unwrap();
        let waiters: Vec<_> = (0..500)
            .map(|_| {
                let client = client.clone();
                rt::spawn(move || {
                    let mut conn = client.get_connection().unwrap();
                    let (_, job): (String, u32) = redis::cmd("BLPOP")
                        .arg("jobs")
                        .arg(0)
                        .query(&mut conn)
                        .unwrap();
                    job
                })
            })
            .collect();
        rt::sleep(Duration::from_millis(50)); // let them all block
        let pushers: Vec<_> = (0..500u32)
            .map(|job| {
                let client = client.clone();
                rt::spawn(move || {
                    let mut conn = client.get_connection().unwrap();
                    redis::cmd("RPUSH")
                        .arg("jobs")
                        .arg(job)
                        .exec(&mut conn)
                        .unwrap();
                })
            })
            .collect();
        pushers.into_iter().for_each(|p| p.join().unwrap());
        waiters
            .into_iter()
            .map(|w| w.join().unwrap())
            .collect::<Vec<_>>()
    });
    popped.sort_unstable();
    assert_eq!(popped, (0..500).collect::<Vec<_>>());
}
