//! The `hook` feature: std's blocking calls in coroutines park the
//! coroutine, not its worker. Run with `cargo test -p rt --features hook
//! --test hook`. Each test would hang its single worker (or take the
//! blocking time × coroutines) without the hooks.
#![cfg(feature = "hook")]

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn one_worker() -> rt::Runtime {
    rt::Builder::new().workers(1).build().unwrap()
}

/// 1,000 coroutines each `std::thread::sleep(100 ms)` on one worker: they
/// sleep at the same time (50 ms × 1,000 serially without the hook).
#[test]
fn thread_sleep_parks_the_coroutine() {
    let rt = one_worker();
    let start = Instant::now();
    rt.block_on(|| {
        let sleepers: Vec<_> = (0..1_000)
            .map(|_| rt::spawn(|| std::thread::sleep(Duration::from_millis(100))))
            .collect();
        for s in sleepers {
            s.join().unwrap();
        }
    });
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(100));
    assert!(took < Duration::from_secs(30), "slept serially: {took:?}");
}

/// A std::net server and std::net clients, all coroutines of one worker:
/// every byte arrives (this deadlocks without the hooks: the first
/// blocking accept or read holds the only worker).
#[test]
fn std_net_server_and_clients_on_one_worker() {
    let rt = one_worker();
    let total = rt.block_on(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = rt::spawn(move || {
            let mut served = Vec::new();
            for _ in 0..50 {
                let (mut conn, _) = listener.accept().unwrap();
                served.push(rt::spawn(move || {
                    let mut buf = [0u8; 1024];
                    let mut echoed = 0;
                    loop {
                        let n = conn.read(&mut buf).unwrap();
                        if n == 0 {
                            return echoed;
                        }
                        conn.write_all(&buf[..n]).unwrap();
                        echoed += n;
                    }
                }));
            }
            served.into_iter().map(|s| s.join().unwrap()).sum::<usize>()
        });
        let clients: Vec<_> = (0..50u8)
            .map(|i| {
                rt::spawn(move || {
                    let mut conn = std::net::TcpStream::connect(addr).unwrap();
                    for round in 0..20u8 {
                        let msg = [i, round, 7, 9];
                        conn.write_all(&msg).unwrap();
                        let mut back = [0u8; 4];
                        conn.read_exact(&mut back).unwrap();
                        assert_eq!(back, msg);
                    }
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        server.join().unwrap()
    });
    assert_eq!(total, 50 * 20 * 4);
}

/// A large write to a peer that reads slowly: the hooked write sends every
/// byte (parking while the socket buffer is full), as a blocking write.
#[test]
fn a_large_blocking_write_sends_everything() {
    let rt = one_worker();
    let received = rt.block_on(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let reader = rt::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut all = Vec::new();
            conn.read_to_end(&mut all).unwrap();
            all
        });
        let data: Vec<u8> = (0..8 << 20).map(|i| (i % 251) as u8).collect();
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        assert_eq!(conn.write(&data).unwrap(), data.len()); // one call, all of it
        drop(conn);
        let got = reader.join().unwrap();
        assert!(got == data);
        got.len()
    });
    assert_eq!(received, 8 << 20);
}

/// A blocking std::net read among 1,000 coroutines ticking every 1 ms on
/// one worker: the read parks, the tickers keep ticking.
#[test]
fn a_blocking_read_holds_no_ticker_up() {
    let rt = one_worker();
    let ticks = Arc::new(AtomicUsize::new(0));
    let worst_gap = rt.block_on({
        let ticks = ticks.clone();
        move || {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let tickers: Vec<_> = (0..1_000)
                .map(|_| {
                    let ticks = ticks.clone();
                    rt::spawn(move || {
                        let mut worst = Duration::ZERO;
                        let mut last = Instant::now();
                        for _ in 0..100 {
                            rt::sleep(Duration::from_millis(1));
                            worst = worst.max(last.elapsed());
                            last = Instant::now();
                            ticks.fetch_add(1, SeqCst);
                        }
                        worst
                    })
                })
                .collect();
            let blocked = rt::spawn(move || {
                let (mut conn, _) = listener.accept().unwrap();
                let mut byte = [0u8; 1];
                conn.read_exact(&mut byte).unwrap(); // parks until the end
                byte[0]
            });
            let mut conn = std::net::TcpStream::connect(addr).unwrap();
            let worst = tickers
                .into_iter()
                .map(|t| t.join().unwrap())
                .max()
                .unwrap();
            conn.write_all(&[42]).unwrap();
            assert_eq!(blocked.join().unwrap(), 42);
            worst
        }
    });
    assert_eq!(ticks.load(SeqCst), 100_000);
    // Without the hook the read holds the worker for good (a hang); the
    // bound here only says "nobody waited for the read".
    assert!(
        worst_gap < Duration::from_secs(5),
        "a ticker waited {worst_gap:?}"
    );
}

/// SO_RCVTIMEO (std's `set_read_timeout`) is honoured: the read fails with
/// WouldBlock after the timeout, as the blocking call does, and the worker
/// runs other coroutines meanwhile.
#[test]
fn read_timeout_is_honoured_and_parks() {
    let rt = one_worker();
    rt.block_on(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        let _server_side = listener.accept().unwrap();
        let ticks = Arc::new(AtomicUsize::new(0));
        let ticker = rt::spawn({
            let ticks = ticks.clone();
            move || {
                for _ in 0..5 {
                    rt::sleep(Duration::from_millis(2));
                    ticks.fetch_add(1, SeqCst);
                }
            }
        });
        // Long beside the ticker's 10 ms, so a loaded machine still fits
        // the ticker inside the wait.
        conn.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let start = Instant::now();
        let err = conn.read(&mut [0u8; 1]).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
        assert!(start.elapsed() >= Duration::from_millis(300));
        // The ticker finished while the read waited.
        assert_eq!(ticks.load(SeqCst), 5);
        ticker.join().unwrap();
    });
}

/// A descriptor made non-blocking by its owner keeps saying WouldBlock;
/// outside coroutines calls pass straight through.
#[test]
fn nonblocking_descriptors_and_plain_threads_pass_through() {
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    b.write_all(b"x").unwrap(); // plain thread: straight through
    let rt = one_worker();
    rt.block_on(move || {
        let mut a = a;
        a.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(a.read(&mut buf).unwrap(), 1);
        let err = a.read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    });
}

/// A pipe read in a coroutine parks until another coroutine of the same
/// worker writes (without the hook: a deadlock).
#[test]
fn a_pipe_read_parks_the_coroutine() {
    let rt = one_worker();
    rt.block_on(|| {
        let (mut reader, mut writer) = std::io::pipe().unwrap();
        let writer = rt::spawn(move || {
            rt::sleep(Duration::from_millis(20));
            writer.write_all(b"hello").unwrap();
        });
        let mut buf = [0u8; 5];
        reader.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hello");
        writer.join().unwrap();
    });
}

/// Cancelling a coroutine parked in a hooked read: the read fails (a C
/// function cannot unwind), and the coroutine unwinds at its next park
/// point, running its defers.
#[test]
fn cancel_ends_a_hooked_read_and_unwinds_at_the_next_park() {
    let rt = one_worker();
    let unwound = Arc::new(AtomicUsize::new(0));
    let result = rt.block_on({
        let unwound = unwound.clone();
        move || {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let reader = rt::spawn(move || {
                rt::defer! { unwound.fetch_add(1, SeqCst); }
                let mut conn = std::net::TcpStream::connect(addr).unwrap();
                let err = conn.read(&mut [0u8; 1]).unwrap_err();
                assert_eq!(err.raw_os_error(), Some(libc::ECANCELED));
                rt::yield_now(); // the cancellation unwinds here
                unreachable!("cancelled");
            });
            let _conn = listener.accept().unwrap();
            rt::sleep(Duration::from_millis(10));
            reader.cancel();
            reader.join()
        }
    });
    assert!(result.unwrap_err().is_cancelled());
    assert_eq!(unwound.load(SeqCst), 1);
}

/// Name resolution (`ToSocketAddrs`, which calls getaddrinfo) in a
/// coroutine answers as on a plain thread.
#[test]
fn getaddrinfo_resolves_off_the_worker() {
    use std::net::ToSocketAddrs;
    let plain: Vec<_> = ("localhost", 80).to_socket_addrs().unwrap().collect();
    let rt = one_worker();
    let hooked = rt.block_on(|| {
        ("localhost", 80)
            .to_socket_addrs()
            .unwrap()
            .collect::<Vec<_>>()
    });
    assert_eq!(plain, hooked);
    assert!(!hooked.is_empty());
}

/// A keep-alive HTTP/1.1 server on rt::net answering every request with
/// "Hello, World!" (the shape of examples/http_hello.rs), for `ureq`.
fn hello_server(listener: rt::net::TcpListener) {
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { return };
        rt::spawn(move || {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    buf.drain(..end + 4);
                    let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!";
                    if conn.write_all(reply).is_err() {
                        return;
                    }
                }
                match conn.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        });
    }
}

/// The unmodified `ureq` client (std sockets, blocking reads and writes)
/// from 200 coroutines on 2 workers, 5 requests each over one kept-alive
/// connection: every answer arrives, exact bytes.
#[test]
fn ureq_from_200_coroutines() {
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let answered = rt.block_on(|| {
        let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        rt::spawn(move || hello_server(listener));
        let clients: Vec<_> = (0..200)
            .map(|_| {
                let url = url.clone();
                rt::spawn(move || {
                    let agent = ureq::AgentBuilder::new().build();
                    (0..5)
                        .map(|_| {
                            let body = agent.get(&url).call().unwrap().into_string().unwrap();
                            assert_eq!(body, "Hello, World!");
                        })
                        .count()
                })
            })
            .collect();
        clients
            .into_iter()
            .map(|c| c.join().unwrap())
            .sum::<usize>()
    });
    assert_eq!(answered, 1_000);
}

/// `std::thread::sleep(Duration::MAX)` ("for ever") parks the coroutine
/// with no deadline; a cancellation ends the sleep, and the coroutine
/// unwinds at its next park point.
#[test]
fn an_endless_thread_sleep_parks_and_can_be_cancelled() {
    let rt = one_worker();
    let joined = rt.block_on(|| {
        let sleeper = rt::spawn(|| {
            std::thread::sleep(Duration::MAX);
            rt::yield_now();
            unreachable!("cancelled");
        });
        rt::sleep(Duration::from_millis(10));
        sleeper.cancel();
        sleeper.join()
    });
    assert!(joined.unwrap_err().is_cancelled());
}

/// What the hooks cache about a descriptor follows its owner: after a
/// park cached "blocking, no timeout", a `set_read_timeout` and a
/// `set_nonblocking` (hooked setsockopt and ioctl) take effect at once.
#[test]
fn a_changed_timeout_or_mode_is_seen_after_a_park() {
    let rt = one_worker();
    rt.block_on(|| {
        let (mut a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let writer = rt::spawn(move || {
            rt::sleep(Duration::from_millis(5));
            b.write_all(b"1").unwrap();
            b
        });
        let mut byte = [0u8; 1];
        a.read_exact(&mut byte).unwrap(); // parks: the mode is cached
        let _b = writer.join().unwrap();
        a.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let start = Instant::now();
        let err = a.read(&mut byte).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
        assert!(start.elapsed() >= Duration::from_millis(20));
        a.set_read_timeout(None).unwrap();
        a.set_nonblocking(true).unwrap();
        let start = Instant::now();
        let err = a.read(&mut byte).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
        assert!(start.elapsed() < Duration::from_secs(5)); // no park
    });
}

/// A descriptor closed behind the hooks' back (a raw close system call)
/// whose number is reused: the next park on the new descriptor notices
/// the stale registration and registers anew, instead of waiting for
/// readiness that would never be reported.
#[test]
fn a_descriptor_closed_behind_the_hooks_back_is_registered_anew() {
    use std::os::fd::IntoRawFd;
    let rt = one_worker();
    rt.block_on(|| {
        for round in 0..20u8 {
            let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
            let (mut a, mut b) = (a, b);
            let writer = rt::spawn(move || {
                rt::sleep(Duration::from_millis(2));
                b.write_all(&[round]).unwrap();
                b
            });
            let mut byte = [0u8; 1];
            a.read_exact(&mut byte).unwrap(); // registers `a`'s number
            assert_eq!(byte[0], round);
            drop(writer.join().unwrap());
            let number = a.into_raw_fd();
            // SAFETY: we own `number` and never use it again. The kernel
            // hands out the lowest free number: the next round's `a` is
            // usually this one, with the stale registration on it.
            unsafe { libc::syscall(libc::SYS_close, number) };
        }
    });
}

/// Blocking Unix-socket connects to a listener whose backlog is full wait
/// (parked, retrying) until the acceptor makes room, as the blocking call
/// does — and the acceptor, a coroutine of the same worker, gets to run.
#[test]
fn unix_connects_wait_for_room_in_a_full_backlog() {
    use std::os::fd::AsRawFd;
    let dir = std::env::temp_dir().join(format!("rt-hook-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("backlog.sock");
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    // SAFETY: re-listening on our own socket with a smaller backlog.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 1) }, 0);
    let rt = one_worker();
    let got = rt.block_on(move || {
        let clients: Vec<_> = (0..10u8)
            .map(|i| {
                let path = path.clone();
                rt::spawn(move || {
                    let mut conn = std::os::unix::net::UnixStream::connect(&path).unwrap();
                    conn.write_all(&[i]).unwrap();
                })
            })
            .collect();
        let acceptor = rt::spawn(move || {
            let mut got = Vec::new();
            for _ in 0..10 {
                rt::sleep(Duration::from_millis(2));
                let (mut conn, _) = listener.accept().unwrap();
                let mut byte = [0u8; 1];
                conn.read_exact(&mut byte).unwrap();
                got.push(byte[0]);
            }
            got
        });
        clients.into_iter().for_each(|c| c.join().unwrap());
        acceptor.join().unwrap()
    });
    let mut got = got;
    got.sort_unstable();
    assert_eq!(got, (0..10).collect::<Vec<_>>());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `std::process::Command::status` and `output` in 20 coroutines on one
/// worker: the children run at the same time (each waits 200 ms), every
/// exit status and every byte of output arrives.
#[test]
fn child_processes_are_waited_for_without_blocking_the_worker() {
    let rt = one_worker();
    let start = Instant::now();
    rt.block_on(|| {
        let children: Vec<_> = (0..20)
            .map(|i| {
                rt::spawn(move || {
                    let status = std::process::Command::new("sh")
                        .args(["-c", &format!("sleep 0.2; exit {}", i % 3)])
                        .status()
                        .unwrap();
                    assert_eq!(status.code(), Some(i % 3));
                    let out = std::process::Command::new("sh")
                        .args(["-c", &format!("echo out{i}; echo err{i} >&2")])
                        .output()
                        .unwrap();
                    assert_eq!(out.stdout, format!("out{i}\n").into_bytes());
                    assert_eq!(out.stderr, format!("err{i}\n").into_bytes());
                })
            })
            .collect();
        children.into_iter().for_each(|c| c.join().unwrap());
    });
    // 20 × 200 ms one after another would be 4 s.
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

/// `select` on a pipe in a coroutine waits (on the blocking pool) while
/// another coroutine of the same worker writes.
#[cfg(target_arch = "x86_64")]
#[test]
fn select_waits_without_blocking_the_worker() {
    use std::os::fd::AsRawFd;
    let rt = one_worker();
    rt.block_on(|| {
        let (reader, mut writer) = std::io::pipe().unwrap();
        let fd = reader.as_raw_fd();
        let w = rt::spawn(move || {
            rt::sleep(Duration::from_millis(10));
            writer.write_all(b"x").unwrap();
            writer
        });
        // SAFETY: an all-zero fd_set is empty.
        let mut set: libc::fd_set = unsafe { std::mem::zeroed() };
        // SAFETY: a valid fd, below FD_SETSIZE.
        unsafe { libc::FD_SET(fd, &mut set) };
        let mut limit = libc::timeval {
            tv_sec: 5,
            tv_usec: 0,
        };
        // SAFETY: valid set and timeout.
        let n = unsafe {
            libc::select(
                fd + 1,
                &mut set,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &mut limit,
            )
        };
        assert_eq!(n, 1);
        // SAFETY: the set select filled in.
        assert!(unsafe { libc::FD_ISSET(fd, &set) });
        assert!(
            limit.tv_sec < 5 || limit.tv_usec > 0,
            "the time left is written back"
        );
        drop(w.join().unwrap());
    });
}

/// A mode or timeout set through one descriptor applies to its `dup`s
/// (they share the open file and the socket): a clone that parked before,
/// with "blocking, no timeout" cached, sees the change made through the
/// original.
#[test]
fn a_change_through_a_dup_is_seen_by_the_other_descriptor() {
    let rt = one_worker();
    rt.block_on(|| {
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut clone = a.try_clone().unwrap();
        let writer = rt::spawn(move || {
            rt::sleep(Duration::from_millis(5));
            b.write_all(b"1").unwrap();
            b
        });
        let mut byte = [0u8; 1];
        clone.read_exact(&mut byte).unwrap(); // parks: the clone's mode is cached
        let _b = writer.join().unwrap();
        a.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let start = Instant::now();
        let err = clone.read(&mut byte).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
        assert!(start.elapsed() >= Duration::from_millis(20));
        a.set_read_timeout(None).unwrap();
        a.set_nonblocking(true).unwrap();
        let err = clone.read(&mut byte).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    });
}

/// `poll` and `ppoll` on one descriptor park on the worker's poller while
/// another coroutine of the same worker makes it ready; a timeout gives 0.
#[test]
fn poll_and_ppoll_park_until_ready_or_timeout() {
    use std::os::fd::AsRawFd;
    let rt = one_worker();
    rt.block_on(|| {
        let (reader, mut writer) = std::io::pipe().unwrap();
        let mut fds = [libc::pollfd {
            fd: reader.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: one valid pollfd.
        assert_eq!(unsafe { libc::poll(fds.as_mut_ptr(), 1, 20) }, 0);
        let w = rt::spawn(move || {
            rt::sleep(Duration::from_millis(5));
            writer.write_all(b"x").unwrap();
            writer
        });
        let limit = libc::timespec {
            tv_sec: 5,
            tv_nsec: 0,
        };
        // SAFETY: one valid pollfd, a valid timeout, no signal mask.
        let n = unsafe { libc::ppoll(fds.as_mut_ptr(), 1, &limit, std::ptr::null()) };
        assert_eq!(n, 1);
        assert_eq!(fds[0].revents & libc::POLLIN, libc::POLLIN);
        drop(w.join().unwrap());
    });
}
