//! Name resolution that never blocks a worker: [`lookup_host`] and the
//! [`ToSocketAddrs`] every `rt::net` constructor takes.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

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
    host.resolve().map(Vec::into_iter)
}

/// What `rt::net`'s `bind`, `connect` and `send_to` take: the types std's
/// `ToSocketAddrs` is implemented for (a `SocketAddr`, `(ip, port)`,
/// `"host:port"`, `("host", port)`, a slice of addresses, and references
/// to them), resolved without blocking the worker — a host name through
/// [`lookup_host`]'s blocking-pool resolver, a literal in place. As
/// tokio's `ToSocketAddrs`, it is sealed: its method is rt's business.
///
/// ```
/// rt::run(|| {
///     let listener = rt::net::TcpListener::bind("localhost:0").unwrap(); // resolved off the worker
///     let port = listener.local_addr().unwrap().port();
///     let conn = rt::net::TcpStream::connect(("localhost", port)).unwrap();
///     assert_eq!(conn.peer_addr().unwrap().port(), port);
/// });
/// ```
pub trait ToSocketAddrs: sealed::Sealed {
    /// The addresses, in the order to try them.
    #[doc(hidden)]
    fn resolve(&self) -> io::Result<Vec<SocketAddr>>;
}

mod sealed {
    /// Only rt implements `ToSocketAddrs`.
    pub trait Sealed {}
}

/// `host` (a name or a literal IP) and `port`, resolved off the worker.
fn resolve_host(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let host = host.to_owned();
    crate::blocking(move || {
        std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port)).map(Iterator::collect)
    })
}

macro_rules! one_address {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl ToSocketAddrs for $t {
            fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
                Ok(vec![SocketAddr::from(*self)])
            }
        }
    )*};
}

one_address!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl sealed::Sealed for str {}
impl ToSocketAddrs for str {
    fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Ok(vec![addr]);
        }
        // "host:port", as std splits it.
        let (host, port) = self
            .rsplit_once(':')
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "invalid socket address"))?;
        let port = port
            .parse::<u16>()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "invalid port value"))?;
        resolve_host(host, port)
    }
}

impl sealed::Sealed for String {}
impl ToSocketAddrs for String {
    fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        self.as_str().resolve()
    }
}

impl sealed::Sealed for (&str, u16) {}
impl ToSocketAddrs for (&str, u16) {
    fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        resolve_host(self.0, self.1)
    }
}

impl sealed::Sealed for (String, u16) {}
impl ToSocketAddrs for (String, u16) {
    fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        resolve_host(&self.0, self.1)
    }
}

impl sealed::Sealed for [SocketAddr] {}
impl ToSocketAddrs for [SocketAddr] {
    fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(self.to_vec())
    }
}

impl<T: ToSocketAddrs + ?Sized> sealed::Sealed for &T {}
impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        (**self).resolve()
    }
}

/// The error std gives when no address worked (or there was none).
pub(crate) fn no_addresses() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "could not resolve to any addresses",
    )
}
