//! Networking on 127.0.0.1: thousands of concurrent echo connections with
//! exact bytes, timeouts, half-close, resets as errors, no leaked fds.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rt::net::{TcpListener, TcpStream};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Raise the soft fd limit to the hard one (the test needs ~10,000).
fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
    limit.rlim_cur
}

/// An echo server: one coroutine per connection, until the listener's
/// coroutine is cancelled.
fn echo_server(listener: TcpListener) -> rt::JoinHandle<()> {
    rt::spawn(move || {
        for conn in listener.incoming() {
            let mut conn = conn.expect("accept");
            rt::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if conn.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    })
}

fn pattern(client: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| (client * 31 + i * 7) as u8).collect()
}

/// Counting the process's fds needs a process of its own: other tests
/// open sockets concurrently. Re-runs `test` alone in a child process;
/// returns `true` in the child.
fn in_child_process(test: &str) -> bool {
    if std::env::var_os("RT_NET_CHILD").is_some() {
        return true;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--test-threads=1"])
        .env("RT_NET_CHILD", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

#[test]
fn five_thousand_concurrent_echo_connections_exact_bytes_no_fd_leak() {
    if !in_child_process("five_thousand_concurrent_echo_connections_exact_bytes_no_fd_leak") {
        return;
    }
    const CLIENTS: usize = 5_000;
    const LEN: usize = 2_000;
    let limit = raise_fd_limit();
    assert!(
        limit >= 2 * CLIENTS as u64 + 100,
        "fd limit {limit} too low for the test"
    );
    let before = open_fds();
    let runtime = rt::Builder::new().workers(2).build().unwrap();
    runtime.block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = echo_server(listener);
        let (ready_tx, ready_rx) = rt::chan::bounded::<()>(0);
        let (go_tx, go_rx) = rt::chan::bounded::<()>(0);
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (ready_tx, go_rx) = (ready_tx.clone(), go_rx.clone());
                rt::spawn(move || {
                    let mut stream = TcpStream::connect(addr).unwrap();
                    // One byte there and back: the server has accepted.
                    stream.write_all(&[7]).unwrap();
                    let mut first = [0u8];
                    stream.read_exact(&mut first).unwrap();
                    assert_eq!(first, [7]);
                    // All connections are open at once before any talks.
                    ready_tx.send(()).unwrap();
                    let _ = go_rx.recv();
                    let sent = pattern(c, LEN);
                    let writer = {
                        let mut w = stream.try_clone().unwrap();
                        let sent = sent.clone();
                        rt::spawn(move || w.write_all(&sent).unwrap())
                    };
                    let mut got = vec![0u8; LEN];
                    stream.read_exact(&mut got).unwrap();
                    writer.join().unwrap();
                    assert_eq!(got, sent, "client {c} got other bytes");
                    LEN
                })
            })
            .collect();
        for _ in 0..CLIENTS {
            ready_rx.recv().unwrap();
        }
        // 5,000 client sockets + 5,000 accepted ones are open now.
        let now = open_fds();
        assert!(now >= before + 2 * CLIENTS, "{now} open, {before} before");
        drop(go_tx); // closing releases every client
        let total: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
        assert_eq!(total, CLIENTS * LEN);
        server.cancel();
        assert!(server.join().unwrap_err().is_cancelled());
    });
    drop(runtime); // the server's connection coroutines are cancelled
    assert_eq!(open_fds(), before, "leaked file descriptors");
}

#[test]
fn read_and_write_timeouts_fire_and_are_not_early() {
    rt::Builder::new().workers(2).build().unwrap().block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        client
            .set_read_timeout(Some(Duration::from_millis(30)))
            .unwrap();
        let start = Instant::now();
        let err = client.read(&mut [0; 16]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(start.elapsed() >= Duration::from_millis(30));
        // A write timeout: fill the socket buffers while nobody reads.
        client
            .set_write_timeout(Some(Duration::from_millis(30)))
            .unwrap();
        let chunk = vec![0u8; 64 * 1024];
        let err = loop {
            if let Err(err) = client.write(&chunk) {
                break err;
            }
        };
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        drop(server);
        // Zero timeouts are refused, as in std.
        assert_eq!(
            client
                .set_read_timeout(Some(Duration::ZERO))
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidInput
        );
    });
}

#[test]
fn half_close_lets_the_peer_read_to_eof_and_still_answer() {
    rt::Builder::new().workers(2).build().unwrap().block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = rt::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            conn.read_to_end(&mut request).unwrap(); // until the client's FIN
            conn.write_all(&request.iter().rev().copied().collect::<Vec<_>>())
                .unwrap();
            request.len()
        });
        let mut client = TcpStream::connect(addr).unwrap();
        client.write_all(b"abcdef").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut reply = String::new();
        client.read_to_string(&mut reply).unwrap();
        assert_eq!(reply, "fedcba");
        assert_eq!(server.join().unwrap(), 6);
    });
}

#[test]
fn a_peer_reset_is_an_error_not_a_panic() {
    rt::Builder::new().workers(2).build().unwrap().block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        // Linger 0: closing sends RST instead of FIN.
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: setsockopt on a valid fd with a correctly sized value.
        let rc = unsafe {
            libc::setsockopt(
                server.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
        drop(server);
        let err = client.read(&mut [0; 16]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
        // Writing to a reset connection fails too (EPIPE or ECONNRESET).
        assert!(client.write_all(b"x").is_err());
    });
}

#[test]
fn connecting_to_a_closed_port_is_refused() {
    rt::Builder::new().workers(1).build().unwrap().block_on(|| {
        let addr: SocketAddr = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        }; // closed again
        let err = TcpStream::connect(addr).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    });
}

#[test]
fn plain_threads_talk_to_coroutines() {
    let runtime = rt::Builder::new().workers(1).build().unwrap();
    let listener = runtime.block_on(|| TcpListener::bind("127.0.0.1:0").unwrap());
    let addr = listener.local_addr().unwrap();
    let server = runtime.spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0; 4];
        conn.read_exact(&mut buf).unwrap();
        conn.write_all(&buf).unwrap();
    });
    // This thread is no coroutine: the stream parks the thread.
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(b"ping").unwrap();
    let mut buf = [0; 4];
    stream.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
    server.join().unwrap();
}

#[test]
fn a_worker_blocked_in_io_does_not_block_other_coroutines() {
    // One worker: a coroutine waiting for a read must not stop the others.
    rt::Builder::new().workers(1).build().unwrap().block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let reader = rt::spawn(move || {
            let mut buf = [0; 3];
            server.read_exact(&mut buf).unwrap();
            buf
        });
        let counted: u32 = (0..100).map(|i| rt::spawn(move || i).join().unwrap()).sum();
        assert_eq!(counted, 4950);
        rt::sleep(Duration::from_millis(5));
        (&client).write_all(b"end").unwrap();
        assert_eq!(&reader.join().unwrap(), b"end");
    });
}

#[test]
fn udp_echo_exact_datagrams() {
    rt::Builder::new().workers(2).build().unwrap().block_on(|| {
        let server = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let echo = rt::spawn(move || {
            let mut buf = [0u8; 1500];
            for _ in 0..200 {
                let (n, from) = server.recv_from(&mut buf).unwrap();
                server.send_to(&buf[..n], from).unwrap();
            }
        });
        let clients: Vec<_> = (0..4)
            .map(|c| {
                rt::spawn(move || {
                    let socket = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                    socket.connect(addr).unwrap();
                    for i in 0..50u32 {
                        let msg = format!("client {c} datagram {i}");
                        socket.send(msg.as_bytes()).unwrap();
                        let mut buf = [0u8; 1500];
                        let n = socket.recv(&mut buf).unwrap();
                        assert_eq!(&buf[..n], msg.as_bytes());
                    }
                })
            })
            .collect();
        clients.into_iter().for_each(|c| c.join().unwrap());
        echo.join().unwrap();
    });
}

#[test]
fn unix_stream_echo_and_half_close() {
    let path = std::env::temp_dir().join(format!("rt-net-test-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let runtime = rt::Builder::new().workers(2).build().unwrap();
    let p = path.clone();
    runtime.block_on(move || {
        let listener = rt::net::unix::UnixListener::bind(&p).unwrap();
        let server = rt::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut all = Vec::new();
            conn.read_to_end(&mut all).unwrap();
            conn.write_all(&all).unwrap();
        });
        let mut client = rt::net::unix::UnixStream::connect(&p).unwrap();
        let sent: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let writer = {
            let mut w = client.try_clone().unwrap();
            let sent = sent.clone();
            rt::spawn(move || {
                w.write_all(&sent).unwrap();
                w.shutdown(Shutdown::Write).unwrap();
            })
        };
        let mut got = Vec::new();
        client.read_to_end(&mut got).unwrap();
        writer.join().unwrap();
        server.join().unwrap();
        assert_eq!(got, sent);
    });
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn blocking_runs_off_the_worker_and_returns_values_and_panics() {
    rt::Builder::new().workers(1).build().unwrap().block_on(|| {
        // One worker, eight blocking calls that each wait (up to 10 s) until
        // all eight are running: they can only all succeed if the pool runs
        // them side by side while the worker keeps scheduling coroutines.
        let running = Arc::new((std::sync::Mutex::new(0usize), std::sync::Condvar::new()));
        let jobs: Vec<_> = (0..8u64)
            .map(|i| {
                let running = running.clone();
                rt::spawn(move || {
                    rt::blocking(move || {
                        let (count, all) = &*running;
                        let mut count = count.lock().unwrap();
                        *count += 1;
                        all.notify_all();
                        let (count, timeout) = all
                            .wait_timeout_while(count, Duration::from_secs(10), |c| *c < 8)
                            .unwrap();
                        assert!(!timeout.timed_out(), "only {} ran at once", *count);
                        i * 2
                    })
                })
            })
            .collect();
        let quick = rt::spawn(|| 7).join().unwrap();
        assert_eq!(quick, 7);
        let sum: u64 = jobs.into_iter().map(|s| s.join().unwrap()).sum();
        assert_eq!(sum, 56);
        // A panic comes back to the coroutine, where it can be recovered.
        let err = rt::spawn(|| rt::blocking(|| -> u32 { panic!("in the pool") }))
            .join()
            .unwrap_err();
        assert_eq!(err.into_panic().message(), Some("in the pool"));
    });
}

#[test]
fn fs_helpers_round_trip() {
    let dir = std::env::temp_dir().join(format!("rt-fs-test-{}", std::process::id()));
    let d = dir.clone();
    rt::Builder::new()
        .workers(2)
        .build()
        .unwrap()
        .block_on(move || {
            rt::fs::create_dir_all(&d).unwrap();
            let writers: Vec<_> = (0..16)
                .map(|i| {
                    let path = d.join(format!("f{i}"));
                    rt::spawn(move || rt::fs::write(&path, format!("file {i}")).unwrap())
                })
                .collect();
            writers.into_iter().for_each(|w| w.join().unwrap());
            for i in 0..16 {
                assert_eq!(
                    rt::fs::read_to_string(d.join(format!("f{i}"))).unwrap(),
                    format!("file {i}")
                );
            }
            let mut file = rt::fs::File::create(d.join("big")).unwrap();
            let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
            file.write_all(&data).unwrap();
            file.sync_all().unwrap();
            let mut back = Vec::new();
            rt::fs::File::open(d.join("big"))
                .unwrap()
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data);
            assert_eq!(rt::fs::metadata(d.join("big")).unwrap().len(), 300_000);
            assert_eq!(
                rt::fs::read(d.join("missing")).unwrap_err().kind(),
                ErrorKind::NotFound
            );
            rt::fs::remove_dir_all(&d).unwrap();
        });
    assert!(!dir.exists());
}

/// The last data and the FIN often arrive together: after a short read the
/// next read must see EOF at once, not wait for a readiness event that
/// already came (regression test for the drained-socket shortcut).
#[test]
fn eof_arriving_with_the_last_data_is_seen_at_once() {
    rt::Builder::new().workers(2).build().unwrap().block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        rt::spawn(move || {
            for (i, conn) in listener.incoming().enumerate().take(300) {
                let mut conn = conn.unwrap();
                rt::spawn(move || conn.write_all(format!("reply {i}").as_bytes()).unwrap());
            }
        });
        for _ in 0..300 {
            let mut reply = String::new();
            let mut stream = TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            stream.read_to_string(&mut reply).unwrap();
            assert!(reply.starts_with("reply "));
        }
    });
}

/// Connections completed by the kernel within `patience`, out of `n`
/// concurrent connects to a listener nobody accepts on.
fn handshakes_completed(listener: &rt::net::TcpListener, n: usize, patience: Duration) -> usize {
    let addr = listener.local_addr().unwrap();
    let hs: Vec<_> = (0..n)
        .map(|_| rt::spawn(move || rt::net::TcpStream::connect_timeout(&addr, patience)))
        .collect();
    hs.into_iter()
        .filter_map(|h| h.join().unwrap().ok())
        .count()
}

#[test]
fn listeners_take_a_burst_of_connections_with_the_system_backlog() {
    rt::run(|| {
        // std's backlog of 128 would hold a burst of 300 to ~129 handshakes
        // (the rest wait a second for a SYN retry).
        let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let n = 300.min(rt::net::max_backlog() as usize);
        assert_eq!(
            handshakes_completed(&listener, n, Duration::from_secs(5)),
            n
        );
        // And the backlog is the caller's to choose.
        let small = rt::net::TcpListener::bind_with_backlog("127.0.0.1:0", 4).unwrap();
        let done = handshakes_completed(&small, 40, Duration::from_millis(300));
        assert!(done < 40, "a backlog of 4 held {done} of 40 connections");
    });
}

#[test]
fn accept_backs_off_while_out_of_descriptors_and_serves_again_after() {
    // The descriptor limit is lowered in a child process (re-running this
    // test binary), so other tests are not affected.
    if std::env::var_os("RT_EMFILE_CHILD").is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "accept_backs_off_while_out_of_descriptors_and_serves_again_after",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("RT_EMFILE_CHILD", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("served again"),
            "child failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    // As under `ulimit -n 256` (and so that filling the table is quick).
    let limit = libc::rlimit {
        rlim_cur: 256,
        rlim_max: 256,
    };
    // SAFETY: setrlimit reads the struct we pass; lowering a limit is safe.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    rt::run(|| {
        let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = std::net::TcpStream::connect(addr).unwrap(); // waits in the backlog
                                                                   // Use up every descriptor.
        let mut filler = Vec::new();
        while let Ok(file) = std::fs::File::open("/dev/null") {
            filler.push(file);
        }
        let start = Instant::now();
        for _ in 0..5 {
            let err = listener.accept().unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
        }
        // 5 + 10 + 20 + 40 + 80 ms of backing off, not a spin.
        assert!(
            start.elapsed() >= Duration::from_millis(155),
            "{:?}",
            start.elapsed()
        );
        filler.clear();
        listener
            .accept()
            .expect("serves again once descriptors free up");
        println!("served again");
    });
}

#[test]
fn sockets_that_outlive_their_runtime_work_as_plain_blocking_sockets() {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = rt::Builder::new().workers(1).build().unwrap();
        let (listener, mut server_side, mut client) = rt.block_on(|| {
            let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let client = rt::spawn(move || rt::net::TcpStream::connect(addr).unwrap());
            let (server_side, _) = listener.accept().unwrap();
            (listener, server_side, client.join().unwrap())
        });
        drop(rt); // nobody polls its reactor any more
                  // A read waits for data another thread writes later…
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            client.write_all(b"late").unwrap();
            client
        });
        let mut buf = [0; 4];
        server_side.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"late");
        let client = writer.join().unwrap(); // kept open: no EOF below
                                             // …an accept waits for a connection made later…
        let addr = listener.local_addr().unwrap();
        let connector = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            std::net::TcpStream::connect(addr).unwrap()
        });
        listener.accept().unwrap();
        drop(connector.join().unwrap());
        // …and timeouts still apply.
        server_side
            .set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        let err = server_side.read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        drop(client);
        done_tx.send(()).unwrap();
    });
    done_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("sockets answered after their runtime was dropped");
}

/// Per-worker I/O: a socket is polled by the worker of the coroutine that
/// waits on it, so readiness wakes that coroutine on its own thread. Over
/// 2 workers, 16 connections × 200 round trips (client and server
/// coroutines scattered over both workers) cause no cross-worker wake
/// beyond the joins: with one shared poller, about every round trip whose
/// two ends live on different workers did.
#[test]
fn readiness_wakes_a_coroutine_on_its_own_worker() {
    const CONNS: usize = 16;
    const ROUNDS: usize = 200;
    for _ in 0..5 {
        let rt = rt::Builder::new().workers(2).build().unwrap();
        rt.block_on(|| {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = rt::spawn(move || {
                let handlers: Vec<_> = (0..CONNS)
                    .map(|_| {
                        let (mut conn, _) = listener.accept().unwrap();
                        rt::spawn(move || {
                            let mut buf = [0u8; 8];
                            for _ in 0..ROUNDS {
                                conn.read_exact(&mut buf).unwrap();
                                conn.write_all(&buf).unwrap();
                            }
                        })
                    })
                    .collect();
                handlers.into_iter().for_each(|h| h.join().unwrap());
            });
            let clients: Vec<_> = (0..CONNS)
                .map(|i| {
                    rt::spawn(move || {
                        let mut conn = TcpStream::connect(addr).unwrap();
                        for round in 0..ROUNDS {
                            let message = ((i * ROUNDS + round) as u64).to_le_bytes();
                            conn.write_all(&message).unwrap();
                            let mut back = [0u8; 8];
                            conn.read_exact(&mut back).unwrap();
                            assert_eq!(back, message);
                        }
                    })
                })
                .collect();
            clients.into_iter().for_each(|h| h.join().unwrap());
            server.join().unwrap();
        });
        let metrics = rt.metrics();
        let remote: u64 = metrics.workers.iter().map(|w| w.remote_wakes).sum();
        // At most one per join (2 × CONNS + 1) and the odd wake of
        // block_on's coroutine; 3,200 round trips add none.
        assert!(
            remote <= 3 * CONNS as u64,
            "{remote} cross-worker wakes for {} round trips: {metrics:?}",
            CONNS * ROUNDS
        );
    }
}

/// A socket stays registered with the worker whose coroutine first waited
/// on it; handed to coroutines on other workers afterwards, it still
/// works (its readiness then crosses workers): 32 connections, each
/// first used by one coroutine, then by a second one spawned later (on
/// either worker), then split between a reader and a writer.
#[test]
fn a_socket_handed_to_another_worker_keeps_working() {
    const CONNS: usize = 32;
    let rt = rt::Builder::new().workers(2).build().unwrap();
    rt.block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = echo_server(listener);
        let (tx, rx) = rt::chan::unbounded::<(usize, TcpStream)>();
        let first: Vec<_> = (0..CONNS)
            .map(|i| {
                let tx = tx.clone();
                rt::spawn(move || {
                    let mut conn = TcpStream::connect(addr).unwrap();
                    let mut back = [0u8; 3];
                    conn.write_all(b"one").unwrap();
                    conn.read_exact(&mut back).unwrap(); // registers here
                    assert_eq!(&back, b"one");
                    tx.send((i, conn)).unwrap();
                })
            })
            .collect();
        drop(tx);
        let second: Vec<_> = rx
            .iter()
            .map(|(i, conn)| {
                rt::spawn(move || {
                    let reader = conn.try_clone().unwrap();
                    let message = pattern(i, 10_000);
                    let expected = message.clone();
                    let read = rt::spawn(move || {
                        let mut reader = reader;
                        let mut back = vec![0u8; expected.len()];
                        reader.read_exact(&mut back).unwrap();
                        assert!(back == expected, "connection {i}: wrong bytes");
                    });
                    let mut conn = conn;
                    for chunk in message.chunks(1000) {
                        conn.write_all(chunk).unwrap();
                        rt::yield_now();
                    }
                    read.join().unwrap();
                })
            })
            .collect();
        first.into_iter().for_each(|h| h.join().unwrap());
        second.into_iter().for_each(|h| h.join().unwrap());
        server.cancel();
        assert!(server.join().unwrap_err().is_cancelled());
    });
}

/// `lookup_host` parses literals in place and resolves names off the
/// worker, in a coroutine and on a plain thread, with std's errors.
#[test]
fn lookup_host_resolves_literals_and_names_like_std() {
    let check = || {
        let literal: Vec<SocketAddr> = rt::net::lookup_host("[::1]:443").unwrap().collect();
        assert_eq!(literal, ["[::1]:443".parse::<SocketAddr>().unwrap()]);
        let names: Vec<SocketAddr> = rt::net::lookup_host("localhost:9").unwrap().collect();
        assert!(!names.is_empty());
        assert!(names.iter().all(|a| a.ip().is_loopback() && a.port() == 9));
        let err = rt::net::lookup_host("no-port-here").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    };
    rt::run(check);
    check();
    // Many lookups at once on one worker all complete.
    let rt = rt::Builder::new().workers(1).build().unwrap();
    rt.block_on(|| {
        let lookups: Vec<_> = (0..32)
            .map(|i| {
                rt::spawn(move || {
                    rt::net::lookup_host(&format!("localhost:{i}"))
                        .unwrap()
                        .count()
                })
            })
            .collect();
        assert!(lookups.into_iter().all(|h| h.join().unwrap() >= 1));
    });
}

/// Every address form std's `ToSocketAddrs` takes works with rt::net (a
/// name resolved on the blocking pool, a literal in place), and bad ones
/// get std's errors.
#[test]
fn connect_and_bind_take_every_address_form_std_takes() {
    rt::run(|| {
        let listener = rt::net::TcpListener::bind("localhost:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let port = addr.port();
        let forms: Vec<Box<dyn Fn() -> std::io::Result<rt::net::TcpStream>>> = vec![
            Box::new(move || rt::net::TcpStream::connect(addr)),
            #[allow(clippy::needless_borrows_for_generic_args)] // the &T form is the point
            Box::new(move || rt::net::TcpStream::connect(&addr)),
            Box::new(move || rt::net::TcpStream::connect((addr.ip(), port))),
            Box::new(move || rt::net::TcpStream::connect(format!("localhost:{port}"))),
            Box::new(move || rt::net::TcpStream::connect(format!("{addr}").as_str())),
            Box::new(move || rt::net::TcpStream::connect(("localhost", port))),
            Box::new(move || rt::net::TcpStream::connect(("localhost".to_owned(), port))),
            Box::new(move || rt::net::TcpStream::connect(&[addr][..])),
        ];
        for (i, connect) in forms.iter().enumerate() {
            let conn = connect().unwrap_or_else(|e| panic!("form {i}: {e}"));
            assert_eq!(conn.peer_addr().unwrap(), addr, "form {i}");
            listener.accept().unwrap();
        }
        let err = rt::net::TcpStream::connect("no port here").unwrap_err();
        assert_eq!(err.to_string(), "invalid socket address");
        let err = rt::net::TcpStream::connect("localhost:http").unwrap_err();
        assert_eq!(err.to_string(), "invalid port value");
        let err = rt::net::TcpStream::connect(&[][..]).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        let udp = rt::net::UdpSocket::bind(("localhost", 0)).unwrap();
        udp.connect(format!("localhost:{}", udp.local_addr().unwrap().port()))
            .unwrap();
    });
}
