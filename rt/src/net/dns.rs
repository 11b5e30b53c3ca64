//! Name resolution that never blocks a worker.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Resolve `host` — `"name:port"` or a literal `"ip:port"` — to socket
/// addresses, as `ToSocketAddrs` for `&str` does, without blocking the
/// worker: a literal is parsed in place, and a name is resolved by the
/// system resolver (`getaddrinfo`, which may take seconds and makes
/// calls no poller sees) on the blocking pool while the coroutine parks
/// ([`rt::blocking`](crate::blocking)). Outside a coroutine it resolves on
/// the calling thread.
///
/// ```
/// rt::run(|| {
///     let addrs: Vec<_> = rt::net::lookup_host("127.0.0.1:8080").unwrap().collect();
///     assert_eq!(addrs, ["127.0.0.1:8080".parse().unwrap()]);
///     let local = rt::net::lookup_host("localhost:8080").unwrap();
///     assert!(local.into_iter().all(|a| a.ip().is_loopback() && a.port() == 8080));
/// });
/// ```
pub fn lookup_host(host: &str) -> io::Result<std::vec::IntoIter<SocketAddr>> {
    if let Ok(addr) = host.parse::<SocketAddr>() {
        return Ok(vec![addr].into_iter());
    }
    let host = host.to_owned();
    crate::blocking(move || {
        host.as_str()
            .to_socket_addrs()
            .map(|addrs| addrs.collect::<Vec<_>>().into_iter())
    })
}
