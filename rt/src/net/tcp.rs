//! [`TcpListener`] and [`TcpStream`]: `std::net`'s API over the reactor.

use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};

use super::ToSocketAddrs;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::registered::{connected, Conn, Registered};
use crate::scheduler::reactor::Direction;

/// A TCP socket server, listening for connections; `accept` parks the
/// coroutine until a client connects.
///
/// ```
/// use std::io::{Read, Write};
/// rt::run(|| {
///     let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     rt::spawn(move || {
///         for conn in listener.incoming().take(2) {
///             let mut conn = conn.unwrap();
///             rt::spawn(move || conn.write_all(b"hi").unwrap());
///         }
///     });
///     for _ in 0..2 {
///         let mut reply = String::new();
///         rt::net::TcpStream::connect(addr).unwrap().read_to_string(&mut reply).unwrap();
///         assert_eq!(reply, "hi");
///     }
/// });
/// ```
pub struct TcpListener {
    /// The listening socket, registered with the reactor.
    io: Registered<mio::net::TcpListener>,
    /// Slows `accept` down while the process is out of descriptors.
    backoff: super::AcceptBackoff,
}

impl TcpListener {
    /// Bind to `addr` (the first address that works), like
    /// `std::net::TcpListener::bind`, with the system's largest listen
    /// backlog ([`super::max_backlog`], as Go does; std uses 128, and a
    /// burst of connections beyond it waits a second for a SYN retry).
    ///
    /// ```
    /// let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert!(listener.local_addr().unwrap().port() != 0);
    /// ```
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        TcpListener::bind_with_backlog(addr, super::max_backlog())
    }

    /// [`bind`](Self::bind) with a listen backlog of your choosing: how
    /// many connections the kernel completes and holds until they are
    /// accepted (capped by the system, `/proc/sys/net/core/somaxconn`).
    ///
    /// ```
    /// let listener = rt::net::TcpListener::bind_with_backlog("127.0.0.1:0", 16).unwrap();
    /// assert!(listener.local_addr().unwrap().port() != 0);
    /// ```
    pub fn bind_with_backlog(addr: impl ToSocketAddrs, backlog: u32) -> io::Result<TcpListener> {
        let listener = std::net::TcpListener::bind(&addr.resolve()?[..])?;
        super::set_backlog(&listener, backlog)?;
        TcpListener::from_std(listener)
    }

    /// Take over a std listener (made non-blocking).
    ///
    /// ```
    /// let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let listener = rt::net::TcpListener::from_std(std_listener).unwrap();
    /// # drop(listener);
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(TcpListener {
            io: Registered::new(mio::net::TcpListener::from_std(listener))?,
            backoff: super::AcceptBackoff::default(),
        })
    }

    /// Wait for a connection.
    ///
    /// Out of file descriptors (or the system out of socket memory), it
    /// waits before it returns that error — 5 ms, doubling up to 1 s,
    /// reset by the next success — so an accept loop that logs and goes on
    /// neither spins nor floods the log, and serves again once
    /// descriptors free up.
    ///
    /// ```
    /// rt::run(|| {
    ///     let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let client = rt::spawn(move || rt::net::TcpStream::connect(addr).unwrap());
    ///     let (_conn, peer) = listener.accept().unwrap();
    ///     assert_eq!(peer, client.join().unwrap().local_addr().unwrap());
    /// });
    /// ```
    #[track_caller]
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let accepted = self.io.run(Direction::Read, None, |l| l.accept());
        let (stream, addr) = self.backoff.after(accepted)?;
        Ok((TcpStream::from_mio(stream)?, addr))
    }

    /// An endless iterator of `accept` results.
    ///
    /// ```
    /// rt::run(|| {
    ///     let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     rt::spawn(move || drop(rt::net::TcpStream::connect(addr)));
    ///     assert!(listener.incoming().next().unwrap().is_ok());
    /// });
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address it listens on.
    ///
    /// ```
    /// let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert!(listener.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().local_addr()
    }

    /// Set the IP time-to-live of accepted connections.
    ///
    /// ```
    /// let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// listener.set_ttl(64).unwrap();
    /// assert_eq!(listener.ttl().unwrap(), 64);
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.source().set_ttl(ttl)
    }

    /// The IP time-to-live.
    ///
    /// ```
    /// let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert!(listener.ttl().unwrap() > 0);
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.source().ttl()
    }

    /// The pending socket error, if any (`SO_ERROR`).
    ///
    /// ```
    /// let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert!(listener.take_error().unwrap().is_none());
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.source().take_error()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("addr", &self.local_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.source().as_raw_fd()
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.source().as_fd()
    }
}

/// The iterator of [`TcpListener::incoming`]; never returns `None`.
///
/// ```
/// let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let _incoming: rt::net::Incoming<'_> = listener.incoming();
/// ```
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    #[track_caller]
    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(stream, _)| stream))
    }
}

/// A TCP connection: `std::io::Read` and `Write` (also on `&TcpStream`)
/// that park the coroutine while the socket is not ready.
///
/// Clones made with [`try_clone`](TcpStream::try_clone) share the socket,
/// so one coroutine can read while another writes; it closes when the
/// last clone is dropped.
///
/// ```
/// use std::io::{BufRead, BufReader, Write};
/// rt::run(|| {
///     let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     rt::spawn(move || {
///         let (conn, _) = listener.accept().unwrap();
///         let mut writer = conn.try_clone().unwrap();
///         for line in BufReader::new(conn).lines() {
///             writeln!(writer, "echo: {}", line.unwrap()).unwrap();
///         }
///     });
///     let stream = rt::net::TcpStream::connect(addr).unwrap();
///     let mut reader = BufReader::new(stream.try_clone().unwrap());
///     writeln!(&stream, "ping").unwrap();
///     let mut reply = String::new();
///     reader.read_line(&mut reply).unwrap();
///     assert_eq!(reply, "echo: ping\n");
/// });
/// ```
#[derive(Clone)]
pub struct TcpStream {
    inner: Arc<Conn<mio::net::TcpStream>>,
}

impl TcpStream {
    /// Connect to `addr` (each resolved address in turn, like std).
    ///
    /// ```
    /// let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = rt::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// assert_eq!(stream.peer_addr().unwrap(), listener.local_addr().unwrap());
    /// ```
    #[track_caller]
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        TcpStream::connect_each(addr, None)
    }

    /// Connect, giving up after `timeout` (`ErrorKind::TimedOut`).
    ///
    /// ```
    /// use std::time::Duration;
    /// let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// assert!(rt::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).is_ok());
    /// ```
    #[track_caller]
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        // `Duration::MAX` (past `Instant`'s range): no deadline.
        TcpStream::connect_each(addr, crate::time::deadline_after(timeout))
    }

    #[track_caller]
    fn connect_each(addr: impl ToSocketAddrs, deadline: Option<Instant>) -> io::Result<TcpStream> {
        let mut last_err = None;
        for addr in addr.resolve()? {
            match TcpStream::connect_one(addr, deadline) {
                Ok(stream) => return Ok(stream),
                Err(err) => last_err = Some(err),
            }
        }
        Err(last_err.unwrap_or_else(super::dns::no_addresses))
    }

    #[track_caller]
    fn connect_one(addr: SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
        let stream = TcpStream::from_mio(mio::net::TcpStream::connect(addr)?)?;
        let io = stream.inner.registered();
        // Writable means connected or failed; a spurious event means wait more.
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        io.run(Direction::Write, timeout, |s| {
            connected(s.take_error(), s.peer_addr())
        })?;
        Ok(stream)
    }

    fn from_mio(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            inner: Arc::new(Conn::new(stream)?),
        })
    }

    /// Take over a connected std stream (made non-blocking).
    ///
    /// ```
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let std_stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// let stream = rt::net::TcpStream::from_std(std_stream).unwrap();
    /// # drop(stream);
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::from_mio(mio::net::TcpStream::from_std(stream))
    }

    fn io(&self) -> &Conn<mio::net::TcpStream> {
        &self.inner
    }

    /// The remote address.
    ///
    /// ```
    /// let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = rt::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// assert_eq!(stream.peer_addr().unwrap(), listener.local_addr().unwrap());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io().source().peer_addr()
    }

    /// The local address.
    ///
    /// ```
    /// let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = rt::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// assert!(stream.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io().source().local_addr()
    }

    /// Shut down the read half, the write half (the peer reads EOF) or both.
    ///
    /// ```
    /// use std::io::Read;
    /// use std::net::Shutdown;
    /// rt::run(|| {
    ///     let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let client = rt::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    ///     let (mut server, _) = listener.accept().unwrap();
    ///     client.shutdown(Shutdown::Write).unwrap();
    ///     assert_eq!(server.read(&mut [0; 8]).unwrap(), 0); // EOF
    /// });
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io().source().shutdown(how)
    }

    /// Disable (or enable) Nagle's algorithm.
    ///
    /// ```
    /// let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = rt::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// stream.set_nodelay(true).unwrap();
    /// assert!(stream.nodelay().unwrap());
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io().source().set_nodelay(nodelay)
    }

    /// Whether Nagle's algorithm is disabled.
    ///
    /// ```
    /// let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = rt::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// assert!(!stream.nodelay().unwrap());
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io().source().nodelay()
    }

    /// Set the IP time-to-live.
    ///
    /// ```
    /// let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = rt::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// stream.set_ttl(32).unwrap();
    /// assert_eq!(stream.ttl().unwrap(), 32);
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io().source().set_ttl(ttl)
    }

    /// The IP time-to-live.
    ///
    /// ```
    /// let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = rt::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// assert!(stream.ttl().unwrap() > 0);
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io().source().ttl()
    }

    /// The pending socket error, if any (`SO_ERROR`).
    ///
    /// ```
    /// let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = rt::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// assert!(stream.take_error().unwrap().is_none());
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io().source().take_error()
    }

    /// Reads give up after `timeout` with `ErrorKind::TimedOut` (`None`:
    /// wait forever; zero is an error, as in std). Shared by clones.
    ///
    /// ```
    /// use std::io::Read;
    /// use std::time::Duration;
    /// rt::run(|| {
    ///     let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let mut stream = rt::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    ///     stream.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    ///     let err = stream.read(&mut [0; 1]).unwrap_err(); // the server never writes
    ///     assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// });
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_read_timeout(timeout)
    }

    /// The read timeout.
    ///
    /// ```
    /// let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = rt::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// assert_eq!(stream.read_timeout().unwrap(), None);
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.read_timeout())
    }

    /// Writes give up after `timeout` with `ErrorKind::TimedOut`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = rt::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// stream.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    /// assert_eq!(stream.write_timeout().unwrap(), Some(Duration::from_secs(1)));
    /// ```
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_write_timeout(timeout)
    }

    /// The write timeout.
    ///
    /// ```
    /// let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = rt::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// assert_eq!(stream.write_timeout().unwrap(), None);
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.write_timeout())
    }

    /// Another handle to the same connection (for reading in one coroutine
    /// and writing in another). Never fails; `io::Result` as in std.
    ///
    /// ```
    /// let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = rt::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// let clone = stream.try_clone().unwrap();
    /// assert_eq!(clone.local_addr().unwrap(), stream.local_addr().unwrap());
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(self.clone())
    }

    /// Read without consuming.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// rt::run(|| {
    ///     let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let mut client = rt::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    ///     let (mut server, _) = listener.accept().unwrap();
    ///     client.write_all(b"abc").unwrap();
    ///     let mut buf = [0; 3];
    ///     assert_eq!(server.peek(&mut buf).unwrap(), 3);
    ///     server.read_exact(&mut buf).unwrap(); // still there
    ///     assert_eq!(&buf, b"abc");
    /// });
    /// ```
    #[track_caller]
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_with(|s| s.peek(buf))
    }
}

super::registered::impl_read_write!(TcpStream);

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("addr", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io().source().as_raw_fd()
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io().source().as_fd()
    }
}
