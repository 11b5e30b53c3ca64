//! [`UdpSocket`]: `std::net::UdpSocket`'s API over the reactor.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use super::ToSocketAddrs;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use super::registered::Conn;

/// A UDP socket; receiving parks the coroutine until a datagram arrives.
///
/// ```
/// rt::run(|| {
///     let a = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
///     let b = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
///     a.send_to(b"ping", b.local_addr().unwrap()).unwrap();
///     let mut buf = [0; 16];
///     let (n, from) = b.recv_from(&mut buf).unwrap();
///     assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr().unwrap()));
/// });
/// ```
#[derive(Clone)]
pub struct UdpSocket {
    inner: Arc<Conn<mio::net::UdpSocket>>,
}

impl UdpSocket {
    /// Bind to `addr` (the first address that works).
    ///
    /// ```
    /// let socket = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(socket.local_addr().unwrap().port() != 0);
    /// ```
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        UdpSocket::from_std(std::net::UdpSocket::bind(&addr.resolve()?[..])?)
    }

    /// Take over a std socket (made non-blocking).
    ///
    /// ```
    /// let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let socket = rt::net::UdpSocket::from_std(std_socket).unwrap();
    /// # drop(socket);
    /// ```
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(UdpSocket {
            inner: Arc::new(Conn::new(mio::net::UdpSocket::from_std(socket))?),
        })
    }

    /// Send a datagram to `addr`.
    ///
    /// ```
    /// let socket = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_eq!(socket.send_to(b"x", socket.local_addr().unwrap()).unwrap(), 1);
    /// ```
    #[track_caller]
    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let addr = addr.resolve()?.into_iter().next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to")
        })?;
        self.inner.write_with(|s| s.send_to(buf, addr))
    }

    /// Receive a datagram and its sender.
    ///
    /// ```
    /// let socket = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// socket.send_to(b"self", socket.local_addr().unwrap()).unwrap();
    /// let mut buf = [0; 8];
    /// assert_eq!(socket.recv_from(&mut buf).unwrap().0, 4);
    /// ```
    #[track_caller]
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read_with(|s| s.recv_from(buf))
    }

    /// Receive a datagram without consuming it.
    ///
    /// ```
    /// let socket = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// socket.send_to(b"ab", socket.local_addr().unwrap()).unwrap();
    /// let mut buf = [0; 8];
    /// assert_eq!(socket.peek_from(&mut buf).unwrap().0, 2);
    /// assert_eq!(socket.recv_from(&mut buf).unwrap().0, 2);
    /// ```
    #[track_caller]
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read_with(|s| s.peek_from(buf))
    }

    /// Set the default peer for [`send`](Self::send) and [`recv`](Self::recv).
    ///
    /// ```
    /// let a = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let b = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.connect(b.local_addr().unwrap()).unwrap();
    /// assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    /// ```
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let mut last_err = None;
        for addr in addr.resolve()? {
            match self.inner.source().connect(addr) {
                Ok(()) => return Ok(()),
                Err(err) => last_err = Some(err),
            }
        }
        Err(last_err.unwrap_or_else(super::dns::no_addresses))
    }

    /// Send to the connected peer.
    ///
    /// ```
    /// let a = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.connect(a.local_addr().unwrap()).unwrap();
    /// assert_eq!(a.send(b"hi").unwrap(), 2);
    /// ```
    #[track_caller]
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write_with(|s| s.send(buf))
    }

    /// Receive from the connected peer.
    ///
    /// ```
    /// let a = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.connect(a.local_addr().unwrap()).unwrap();
    /// a.send(b"hi").unwrap();
    /// let mut buf = [0; 4];
    /// assert_eq!(a.recv(&mut buf).unwrap(), 2);
    /// ```
    #[track_caller]
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_with(|s| s.recv(buf))
    }

    /// The local address.
    ///
    /// ```
    /// let socket = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(socket.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.source().local_addr()
    }

    /// The connected peer's address.
    ///
    /// ```
    /// let socket = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(socket.peer_addr().is_err()); // not connected
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.source().peer_addr()
    }

    /// Allow sending to broadcast addresses.
    ///
    /// ```
    /// let socket = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// socket.set_broadcast(true).unwrap();
    /// assert!(socket.broadcast().unwrap());
    /// ```
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.inner.source().set_broadcast(on)
    }

    /// Whether broadcast is allowed.
    ///
    /// ```
    /// let socket = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(!socket.broadcast().unwrap());
    /// ```
    pub fn broadcast(&self) -> io::Result<bool> {
        self.inner.source().broadcast()
    }

    /// Set the IP time-to-live.
    ///
    /// ```
    /// let socket = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// socket.set_ttl(9).unwrap();
    /// assert_eq!(socket.ttl().unwrap(), 9);
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.source().set_ttl(ttl)
    }

    /// The IP time-to-live.
    ///
    /// ```
    /// let socket = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(socket.ttl().unwrap() > 0);
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.source().ttl()
    }

    /// The pending socket error, if any.
    ///
    /// ```
    /// let socket = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(socket.take_error().unwrap().is_none());
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.source().take_error()
    }

    /// Receives give up after `timeout` with `ErrorKind::TimedOut`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let socket = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// socket.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    /// let err = socket.recv_from(&mut [0; 4]).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_read_timeout(timeout)
    }

    /// The read timeout.
    ///
    /// ```
    /// let socket = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_eq!(socket.read_timeout().unwrap(), None);
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.read_timeout())
    }

    /// Sends give up after `timeout` with `ErrorKind::TimedOut`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let socket = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// socket.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    /// assert_eq!(socket.write_timeout().unwrap(), Some(Duration::from_secs(1)));
    /// ```
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_write_timeout(timeout)
    }

    /// The write timeout.
    ///
    /// ```
    /// let socket = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_eq!(socket.write_timeout().unwrap(), None);
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.write_timeout())
    }

    /// Another handle to the same socket.
    ///
    /// ```
    /// let socket = rt::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let clone = socket.try_clone().unwrap();
    /// assert_eq!(clone.local_addr().unwrap(), socket.local_addr().unwrap());
    /// ```
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        Ok(self.clone())
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("addr", &self.local_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.source().as_raw_fd()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.source().as_fd()
    }
}
