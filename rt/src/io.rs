//! Waiting for any file descriptor without blocking the worker: stdin,
//! pipes, a child process's output, a C library's own socket.
//!
//! [`Async`] wraps anything that owns a descriptor ([`AsFd`]), makes the
//! descriptor non-blocking, and turns every operation that would block
//! into a park of the calling coroutine until the descriptor is ready, as
//! [`rt::net`](crate::net) does for sockets (and as smol's
//! `async_io::Async` does for futures). The descriptor is registered with
//! the I/O poller of the worker whose coroutine first waits on it.
//!
//! (A Unix socket pair stands in for any descriptor here; a pipe from
//! `libc::pipe` or a child's `ChildStdout` works the same.)
//!
//! ```
//! use std::io::{Read, Write};
//! rt::run(|| {
//!     let (mut reader, mut writer) = std::os::unix::net::UnixStream::pair().unwrap();
//!     let reader = rt::io::Async::new(reader).unwrap();
//!     let writing = rt::spawn(move || {
//!         rt::sleep(std::time::Duration::from_millis(10));
//!         writer.write_all(b"hello").unwrap();
//!     });
//!     let mut buf = [0; 5];
//!     // Parks this coroutine (not its worker) until data arrives.
//!     (&reader).read_exact(&mut buf).unwrap();
//!     assert_eq!(&buf, b"hello");
//!     writing.join().unwrap();
//! });
//! ```

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Duration;

use crate::net::registered::Registered;
use crate::scheduler::reactor::Direction;

/// A descriptor number, as the poller registers it (the descriptor itself
/// stays owned by [`Async::inner`], which outlives the registration).
struct Fd(RawFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

impl mio::event::Source for Fd {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        mio::unix::SourceFd(&self.0).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        mio::unix::SourceFd(&self.0).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        mio::unix::SourceFd(&self.0).deregister(registry)
    }
}

/// A descriptor-owning `T` whose blocking operations park the calling
/// coroutine instead of its worker thread. See the [module](self).
///
/// The descriptor is set non-blocking ([`Async::new`]): an operation that
/// would block returns `WouldBlock` to the closures given to
/// [`read_with`](Async::read_with) and friends, which then wait for
/// readiness and try again. Also works from plain threads (the thread
/// waits).
pub struct Async<T: AsFd> {
    /// The registration, dropped (deregistered) before `inner` closes
    /// the descriptor: fields drop in declaration order.
    io: Registered<Fd>,
    /// What owns the descriptor.
    inner: T,
}

impl<T: AsFd> Async<T> {
    /// Wrap `inner`, making its descriptor non-blocking. Every user of the
    /// same open file (a terminal shared with the parent shell, say) sees
    /// that flag too, as with smol's `Async`.
    ///
    /// ```
    /// rt::run(|| {
    ///     let (reader, _writer) = std::os::unix::net::UnixStream::pair().unwrap();
    ///     let reader = rt::io::Async::new(reader).unwrap();
    ///     assert!(reader.get_ref().try_clone().is_ok());
    /// });
    /// ```
    pub fn new(inner: T) -> io::Result<Async<T>> {
        let fd = inner.as_fd().as_raw_fd();
        set_nonblocking(fd)?;
        Ok(Async {
            io: Registered::new(Fd(fd))?,
            inner,
        })
    }

    /// The wrapped value.
    ///
    /// ```
    /// rt::run(|| {
    ///     let (reader, _writer) = std::os::unix::net::UnixStream::pair().unwrap();
    ///     let reader = rt::io::Async::new(reader).unwrap();
    ///     let _: &std::os::unix::net::UnixStream = reader.get_ref();
    /// });
    /// ```
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped value, mutably (for operations through `&mut T`; see
    /// also [`read_with_mut`](Async::read_with_mut)).
    ///
    /// ```
    /// rt::run(|| {
    ///     let (reader, _writer) = std::os::unix::net::UnixStream::pair().unwrap();
    ///     let mut reader = rt::io::Async::new(reader).unwrap();
    ///     let _: &mut std::os::unix::net::UnixStream = reader.get_mut();
    /// });
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Run the non-blocking `op` until it does not fail with
    /// `WouldBlock`, waiting for the descriptor to become readable in
    /// between.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// rt::run(|| {
    ///     let (reader, mut writer) = std::os::unix::net::UnixStream::pair().unwrap();
    ///     let reader = rt::io::Async::new(reader).unwrap();
    ///     writer.write_all(b"hi").unwrap();
    ///     let mut buf = [0; 2];
    ///     let n = reader.read_with(|mut r| r.read(&mut buf)).unwrap();
    ///     assert_eq!(&buf[..n], b"hi");
    /// });
    /// ```
    #[track_caller]
    pub fn read_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        self.io.run(Direction::Read, None, |_| op(&self.inner))
    }

    /// [`read_with`](Async::read_with) for operations that need `&mut T`.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// rt::run(|| {
    ///     let (reader, mut writer) = std::os::unix::net::UnixStream::pair().unwrap();
    ///     let mut reader = rt::io::Async::new(reader).unwrap();
    ///     writer.write_all(b"hi").unwrap();
    ///     let mut buf = [0; 2];
    ///     let n = reader.read_with_mut(|r| r.read(&mut buf)).unwrap();
    ///     assert_eq!(n, 2);
    /// });
    /// ```
    #[track_caller]
    pub fn read_with_mut<R>(
        &mut self,
        mut op: impl FnMut(&mut T) -> io::Result<R>,
    ) -> io::Result<R> {
        let Async { io, inner } = self;
        io.run(Direction::Read, None, |_| op(inner))
    }

    /// Like [`read_with`](Async::read_with), for writing.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// rt::run(|| {
    ///     let (mut reader, writer) = std::os::unix::net::UnixStream::pair().unwrap();
    ///     let writer = rt::io::Async::new(writer).unwrap();
    ///     writer.write_with(|mut w| w.write(b"hi")).unwrap();
    ///     let mut buf = [0; 2];
    ///     reader.read_exact(&mut buf).unwrap();
    ///     assert_eq!(&buf, b"hi");
    /// });
    /// ```
    #[track_caller]
    pub fn write_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        self.io.run(Direction::Write, None, |_| op(&self.inner))
    }

    /// [`write_with`](Async::write_with) for operations that need `&mut T`.
    ///
    /// ```
    /// use std::io::Write;
    /// rt::run(|| {
    ///     let (_reader, writer) = std::os::unix::net::UnixStream::pair().unwrap();
    ///     let mut writer = rt::io::Async::new(writer).unwrap();
    ///     assert_eq!(writer.write_with_mut(|w| w.write(b"hi")).unwrap(), 2);
    /// });
    /// ```
    #[track_caller]
    pub fn write_with_mut<R>(
        &mut self,
        mut op: impl FnMut(&mut T) -> io::Result<R>,
    ) -> io::Result<R> {
        let Async { io, inner } = self;
        io.run(Direction::Write, None, |_| op(inner))
    }

    /// Wait until the descriptor is readable (data, end of file or an
    /// error is waiting), for at most `timeout` (`None`: no limit;
    /// `ErrorKind::TimedOut` when it passes).
    ///
    /// ```
    /// use std::io::Write;
    /// use std::time::Duration;
    /// rt::run(|| {
    ///     let (reader, mut writer) = std::os::unix::net::UnixStream::pair().unwrap();
    ///     let reader = rt::io::Async::new(reader).unwrap();
    ///     let err = reader.readable(Some(Duration::from_millis(5))).unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    ///     writer.write_all(b"x").unwrap();
    ///     reader.readable(None).unwrap();
    /// });
    /// ```
    #[track_caller]
    pub fn readable(&self, timeout: Option<Duration>) -> io::Result<()> {
        let fd = self.io.source().0;
        self.io
            .run(Direction::Read, timeout, |_| poll_now(fd, libc::POLLIN))
    }

    /// Wait until the descriptor is writable, for at most `timeout`, as
    /// [`readable`](Async::readable) does.
    ///
    /// ```
    /// rt::run(|| {
    ///     let (_reader, writer) = std::os::unix::net::UnixStream::pair().unwrap();
    ///     let writer = rt::io::Async::new(writer).unwrap();
    ///     writer.writable(None).unwrap(); // an empty buffer has room
    /// });
    /// ```
    #[track_caller]
    pub fn writable(&self, timeout: Option<Duration>) -> io::Result<()> {
        let fd = self.io.source().0;
        self.io
            .run(Direction::Write, timeout, |_| poll_now(fd, libc::POLLOUT))
    }
}

impl<T: AsFd + Read> Read for Async<T> {
    #[track_caller]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_with_mut(|inner| inner.read(buf))
    }
}

impl<T: AsFd> Read for &Async<T>
where
    for<'a> &'a T: Read,
{
    #[track_caller]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_with(|mut inner| inner.read(buf))
    }
}

impl<T: AsFd + Write> Write for Async<T> {
    #[track_caller]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_with_mut(|inner| inner.write(buf))
    }

    #[track_caller]
    fn flush(&mut self) -> io::Result<()> {
        self.write_with_mut(|inner| inner.flush())
    }
}

impl<T: AsFd> Write for &Async<T>
where
    for<'a> &'a T: Write,
{
    #[track_caller]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_with(|mut inner| inner.write(buf))
    }

    #[track_caller]
    fn flush(&mut self) -> io::Result<()> {
        self.write_with(|mut inner| inner.flush())
    }
}

impl<T: AsFd + std::fmt::Debug> std::fmt::Debug for Async<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Async").field("inner", &self.inner).finish()
    }
}

/// Set `O_NONBLOCK` on `fd`.
fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor the caller owns (borrowed from its
    // `AsFd` owner for the call); F_GETFL/F_SETFL touch only its flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & libc::O_NONBLOCK == 0 {
        // SAFETY: as above.
        if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Whether `fd` is ready for `events` right now: `Ok` if so (or if it
/// reports an error or hang-up, which the next operation will see),
/// `WouldBlock` if not.
fn poll_now(fd: RawFd, events: libc::c_short) -> io::Result<()> {
    let mut pollfd = [libc::pollfd {
        fd,
        events,
        revents: 0,
    }];
    match crate::syscall::poll(&mut pollfd, 0)? {
        0 => Err(io::ErrorKind::WouldBlock.into()),
        _ => Ok(()),
    }
}
