//! Unix domain stream sockets: [`UnixListener`] and [`UnixStream`], with
//! `std::os::unix::net`'s API over the reactor.
//!
//! ```
//! use std::io::{Read, Write};
//! let path = std::env::temp_dir().join(format!("rt-unix-doc-{}.sock", std::process::id()));
//! # let _ = std::fs::remove_file(&path);
//! rt::run(|| {
//!     let listener = rt::net::unix::UnixListener::bind(&path).unwrap();
//!     let server = rt::spawn(move || {
//!         let (mut conn, _) = listener.accept().unwrap();
//!         conn.write_all(b"over a unix socket").unwrap();
//!     });
//!     let mut text = String::new();
//!     rt::net::unix::UnixStream::connect(&path).unwrap().read_to_string(&mut text).unwrap();
//!     assert_eq!(text, "over a unix socket");
//!     server.join().unwrap();
//! });
//! # std::fs::remove_file(&path).unwrap();
//! ```

use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::registered::{connected, Conn, Registered};
use crate::scheduler::reactor::Direction;

/// A Unix domain socket server.
///
/// ```
/// let path = std::env::temp_dir().join(format!("rt-unix-l-{}.sock", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let listener = rt::net::unix::UnixListener::bind(&path).unwrap();
/// assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(path.as_path()));
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub struct UnixListener {
    /// The listening socket, registered with the reactor.
    io: Registered<mio::net::UnixListener>,
    /// Slows `accept` down while the process is out of descriptors.
    backoff: super::AcceptBackoff,
}

impl UnixListener {
    /// Bind to a filesystem path (which must not exist yet), with the
    /// system's largest listen backlog (see [`TcpListener::bind`](super::TcpListener::bind)).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("rt-unix-b-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let _listener = rt::net::unix::UnixListener::bind(&path).unwrap();
    /// assert!(path.exists());
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let listener = std::os::unix::net::UnixListener::bind(path)?;
        super::set_backlog(&listener, super::max_backlog())?;
        UnixListener::from_std(listener)
    }

    /// Take over a std listener (made non-blocking).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("rt-unix-fs-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let std_listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    /// let _listener = rt::net::unix::UnixListener::from_std(std_listener).unwrap();
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            io: Registered::new(mio::net::UnixListener::from_std(listener))?,
            backoff: super::AcceptBackoff::default(),
        })
    }

    /// Wait for a connection.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("rt-unix-a-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// rt::run(|| {
    ///     let listener = rt::net::unix::UnixListener::bind(&path).unwrap();
    ///     let p = path.clone();
    ///     let client = rt::spawn(move || rt::net::unix::UnixStream::connect(p).unwrap());
    ///     assert!(listener.accept().is_ok());
    ///     client.join().unwrap();
    /// });
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    #[track_caller]
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let accepted = self.io.run(Direction::Read, None, |l| l.accept());
        let (stream, addr) = self.backoff.after(accepted)?;
        Ok((UnixStream::from_mio(stream)?, addr))
    }

    /// The address it listens on.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("rt-unix-la-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = rt::net::unix::UnixListener::bind(&path).unwrap();
    /// assert!(listener.local_addr().unwrap().as_pathname().is_some());
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().local_addr()
    }

    /// The pending socket error, if any.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("rt-unix-te-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = rt::net::unix::UnixListener::bind(&path).unwrap();
    /// assert!(listener.take_error().unwrap().is_none());
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.source().take_error()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("addr", &self.local_addr().ok())
            .finish()
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.source().as_raw_fd()
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.source().as_fd()
    }
}

/// A Unix domain stream connection: `Read`/`Write` (also on `&UnixStream`)
/// that park the coroutine; clones share the socket.
///
/// ```
/// use std::io::{Read, Write};
/// rt::run(|| {
///     let (a, b) = rt::net::unix::UnixStream::pair().unwrap();
///     (&a).write_all(b"ping").unwrap();
///     let mut buf = [0; 4];
///     (&b).read_exact(&mut buf).unwrap();
///     assert_eq!(&buf, b"ping");
/// });
/// ```
#[derive(Clone)]
pub struct UnixStream {
    inner: Arc<Conn<mio::net::UnixStream>>,
}

impl UnixStream {
    /// Connect to the socket at `path`.
    ///
    /// ```
    /// let err = rt::net::unix::UnixStream::connect("/nonexistent/rt.sock").unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// ```
    #[track_caller]
    pub fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let stream = UnixStream::from_mio(mio::net::UnixStream::connect(path)?)?;
        stream.inner.registered().run(Direction::Write, None, |s| {
            connected(s.take_error(), s.peer_addr())
        })?;
        Ok(stream)
    }

    /// Two connected sockets.
    ///
    /// ```
    /// let (a, b) = rt::net::unix::UnixStream::pair().unwrap();
    /// assert!(a.peer_addr().is_ok() && b.peer_addr().is_ok());
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::from_mio(a)?, UnixStream::from_mio(b)?))
    }

    fn from_mio(stream: mio::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            inner: Arc::new(Conn::new(stream)?),
        })
    }

    /// Take over a std stream (made non-blocking).
    ///
    /// ```
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let _a = rt::net::unix::UnixStream::from_std(a).unwrap();
    /// ```
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::from_mio(mio::net::UnixStream::from_std(stream))
    }

    /// The local address.
    ///
    /// ```
    /// let (a, _b) = rt::net::unix::UnixStream::pair().unwrap();
    /// assert!(a.local_addr().unwrap().is_unnamed());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.source().local_addr()
    }

    /// The peer's address.
    ///
    /// ```
    /// let (a, _b) = rt::net::unix::UnixStream::pair().unwrap();
    /// assert!(a.peer_addr().unwrap().is_unnamed());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.source().peer_addr()
    }

    /// Shut down one or both halves.
    ///
    /// ```
    /// use std::io::Read;
    /// let (a, mut b) = rt::net::unix::UnixStream::pair().unwrap();
    /// a.shutdown(std::net::Shutdown::Write).unwrap();
    /// assert_eq!(b.read(&mut [0; 4]).unwrap(), 0);
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.source().shutdown(how)
    }

    /// The pending socket error, if any.
    ///
    /// ```
    /// let (a, _b) = rt::net::unix::UnixStream::pair().unwrap();
    /// assert!(a.take_error().unwrap().is_none());
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.source().take_error()
    }

    /// Reads give up after `timeout` with `ErrorKind::TimedOut`.
    ///
    /// ```
    /// use std::io::Read;
    /// use std::time::Duration;
    /// let (mut a, _b) = rt::net::unix::UnixStream::pair().unwrap();
    /// a.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    /// assert_eq!(a.read(&mut [0; 1]).unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_read_timeout(timeout)
    }

    /// The read timeout.
    ///
    /// ```
    /// let (a, _b) = rt::net::unix::UnixStream::pair().unwrap();
    /// assert_eq!(a.read_timeout().unwrap(), None);
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.read_timeout())
    }

    /// Writes give up after `timeout` with `ErrorKind::TimedOut`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (a, _b) = rt::net::unix::UnixStream::pair().unwrap();
    /// a.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    /// assert_eq!(a.write_timeout().unwrap(), Some(Duration::from_secs(2)));
    /// ```
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_write_timeout(timeout)
    }

    /// The write timeout.
    ///
    /// ```
    /// let (a, _b) = rt::net::unix::UnixStream::pair().unwrap();
    /// assert_eq!(a.write_timeout().unwrap(), None);
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.write_timeout())
    }

    /// Another handle to the same connection.
    ///
    /// ```
    /// let (a, _b) = rt::net::unix::UnixStream::pair().unwrap();
    /// let _reader = a.try_clone().unwrap();
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        Ok(self.clone())
    }
}

super::registered::impl_read_write!(UnixStream);

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.source().as_raw_fd()
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.source().as_fd()
    }
}
