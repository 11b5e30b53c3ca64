//! Blocking-style networking: the std API, but a blocked operation parks
//! the coroutine, not its worker thread.
//!
//! ```
//! use std::io::{Read, Write};
//! rt::run(|| {
//!     let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     let server = rt::spawn(move || {
//!         let (mut conn, _) = listener.accept().unwrap();
//!         let mut buf = [0; 5];
//!         conn.read_exact(&mut buf).unwrap();
//!         conn.write_all(&buf).unwrap(); // echo
//!     });
//!     let mut client = rt::net::TcpStream::connect(addr).unwrap();
//!     client.write_all(b"hello").unwrap();
//!     let mut back = [0; 5];
//!     client.read_exact(&mut back).unwrap();
//!     assert_eq!(&back, b"hello");
//!     server.join().unwrap();
//! });
//! ```
//!
//! Every operation first tries the system call; only if it would block
//! does the coroutine wait for readiness, which the reactor of its own
//! worker (`scheduler/reactor.rs`: one poller per worker) reports — so a
//! connection's readiness wakes its coroutine on the thread that runs it.
//! Sockets also work from plain threads (they then use the default
//! runtime).
//! Design: `docs/net.md`.

mod dns;
pub(crate) mod registered;
mod tcp;
mod udp;
pub mod unix;

pub use self::dns::{lookup_host, ToSocketAddrs};
pub use self::tcp::{Incoming, TcpListener, TcpStream};
pub use self::udp::UdpSocket;

/// The largest listen backlog the system allows
/// (`/proc/sys/net/core/somaxconn`, read once; 4096 where it cannot be
/// read), which [`TcpListener::bind`] uses, as Go does.
///
/// ```
/// assert!(rt::net::max_backlog() >= 128);
/// ```
pub fn max_backlog() -> u32 {
    static MAX: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or(4096)
    })
}

/// Listen again with `backlog` (a listening socket may change its backlog
/// this way); clamped to what `listen` takes.
fn set_backlog(socket: &impl std::os::fd::AsFd, backlog: u32) -> std::io::Result<()> {
    let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
    socket2::SockRef::from(socket).listen(backlog)
}

/// Backing off a listener whose `accept` fails for lack of resources
/// (EMFILE, ENFILE, ENOBUFS, ENOMEM): the listener stays readable, so a
/// plain accept loop would retry millions of times a second and log each
/// failure. Such a failure first waits — 5 ms, doubling up to 1 s, reset by
/// the next success — then is returned, as Go's net/http server does.
#[derive(Debug, Default)]
struct AcceptBackoff {
    /// The last wait in milliseconds; 0 after a success.
    last_ms: std::sync::atomic::AtomicU64,
}

impl AcceptBackoff {
    /// First wait after a success.
    const FIRST_MS: u64 = 5;
    /// Longest wait.
    const MAX_MS: u64 = 1000;

    /// Pass on what an accept returned, waiting first if it failed for
    /// lack of resources.
    fn after<T>(&self, accepted: std::io::Result<T>) -> std::io::Result<T> {
        use std::sync::atomic::Ordering::Relaxed;
        match &accepted {
            Ok(_) => self.last_ms.store(0, Relaxed),
            Err(err) if is_resource_exhaustion(err) => {
                let last = self.last_ms.load(Relaxed);
                let wait = if last == 0 {
                    Self::FIRST_MS
                } else {
                    (last * 2).min(Self::MAX_MS)
                };
                self.last_ms.store(wait, Relaxed);
                crate::time::sleep(std::time::Duration::from_millis(wait));
            }
            Err(_) => {}
        }
        accepted
    }
}

/// Whether `err` says the process or system ran out of a resource that
/// frees up by itself (descriptors, socket buffers, memory).
fn is_resource_exhaustion(err: &std::io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}
