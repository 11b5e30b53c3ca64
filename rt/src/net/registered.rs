//! A mio socket registered with a worker's reactor, and the retry loop
//! every blocking operation runs.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::scheduler::reactor::{Direction, IoState};
use crate::scheduler::Shared;

/// A socket of a runtime, registered for readiness with one worker's
/// reactor the first time an operation has to wait — by the worker whose
/// coroutine waits (see `Shared::register_io`), so that a socket used by
/// the coroutine that accepted or opened it (or that it was handed to
/// before its first wait) is polled by the thread that runs that
/// coroutine. Deregistered on drop (before the socket closes).
pub(crate) struct Registered<S: mio::event::Source + AsRawFd> {
    source: S,
    /// Readiness, as reported by the reactor the socket is registered with.
    state: Arc<IoState>,
    /// The worker and token it is registered with, once it is.
    registration: OnceLock<(usize, usize)>,
    /// Serializes the first registration (two halves of a split stream may
    /// first wait at once, on two workers).
    registering: parking_lot::Mutex<()>,
    /// The runtime: keeps its reactors alive while registered.
    shared: Arc<Shared>,
}

impl<S: mio::event::Source + AsRawFd> Registered<S> {
    /// A socket of the caller's runtime (or the default one).
    pub(crate) fn new(source: S) -> io::Result<Registered<S>> {
        Ok(Registered {
            source,
            state: Arc::new(IoState::default()),
            registration: OnceLock::new(),
            registering: parking_lot::Mutex::new(()),
            shared: crate::runtime::ambient(),
        })
    }

    /// Register with the reactor of the calling coroutine's worker, unless
    /// registered already. `Ok(false)`: the runtime's reactors are shut
    /// down (wait on the descriptor instead).
    fn register(&self) -> io::Result<bool> {
        if self.registration.get().is_some() {
            return Ok(true);
        }
        let _only_one = self.registering.lock();
        if self.registration.get().is_some() {
            return Ok(true);
        }
        match self
            .shared
            .register_io(self.source.as_raw_fd(), &self.state)?
        {
            Some(registration) => {
                let _ = self.registration.set(registration);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    pub(crate) fn source(&self) -> &S {
        &self.source
    }

    /// Run the non-blocking `op` until it does not say `WouldBlock`,
    /// parking for `dir` readiness in between, for at most `timeout`.
    #[track_caller]
    pub(crate) fn run<R>(
        &self,
        dir: Direction,
        timeout: Option<Duration>,
        op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        self.run_marking(dir, timeout, op, |_| false)
    }

    /// [`Registered::run`] for a stream read or write of up to `len`
    /// bytes: a short transfer marks the direction drained, and the next
    /// call waits for readiness without trying the system call first (see
    /// `IoState::set_drained`).
    #[track_caller]
    pub(crate) fn run_stream(
        &self,
        dir: Direction,
        timeout: Option<Duration>,
        len: usize,
        op: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.run_marking(dir, timeout, op, |&n| n > 0 && n < len)
    }

    /// The loop of both: `drained(result)` says whether a success left the
    /// direction known-drained.
    #[track_caller]
    fn run_marking<R>(
        &self,
        dir: Direction,
        timeout: Option<Duration>,
        mut op: impl FnMut(&S) -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> io::Result<R> {
        let mut deadline = None;
        loop {
            let seen = self.state.generation(dir);
            if !self.state.is_drained(dir, seen) {
                match op(&self.source) {
                    Ok(value) => {
                        if drained(&value) {
                            self.state.set_drained(dir, seen);
                        }
                        return Ok(value);
                    }
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                    Err(err) => return Err(err),
                }
            }
            if deadline.is_none() {
                deadline = timeout.and_then(crate::time::deadline_after);
            }
            // Registering after the failed attempt misses nothing: epoll
            // reports readiness present at registration as an edge.
            if self.shared.is_io_shut_down() || !self.register()? {
                // The runtime is gone: wait like a plain blocking socket.
                crate::scheduler::reactor::wait_on_fd(self.source.as_raw_fd(), dir, deadline)?;
                continue;
            }
            self.state.wait(dir, seen, deadline)?;
        }
    }
}

/// The result of a non-blocking `connect` once the socket is writable:
/// `Ok` if connected, the socket's error if it failed, `WouldBlock`
/// (wait more) if the readiness was spurious.
pub(crate) fn connected<A>(
    pending_error: io::Result<Option<io::Error>>,
    peer: io::Result<A>,
) -> io::Result<()> {
    if let Some(err) = pending_error? {
        return Err(err);
    }
    match peer {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotConnected => {
            Err(io::ErrorKind::WouldBlock.into())
        }
        Err(err) => Err(err),
    }
}

impl<S: mio::event::Source + AsRawFd> Drop for Registered<S> {
    fn drop(&mut self) {
        if let Some(&registration) = self.registration.get() {
            self.shared
                .deregister_io(self.source.as_raw_fd(), registration);
        }
    }
}

/// A registered connection-like socket with std-style read and write
/// timeouts (shared by its clones).
pub(crate) struct Conn<S: mio::event::Source + AsRawFd> {
    io: Registered<S>,
    /// Read timeout in nanoseconds; 0: none.
    read_timeout: AtomicU64,
    /// Write timeout in nanoseconds; 0: none.
    write_timeout: AtomicU64,
}

impl<S: mio::event::Source + AsRawFd> Conn<S> {
    pub(crate) fn new(source: S) -> io::Result<Conn<S>> {
        Ok(Conn {
            io: Registered::new(source)?,
            read_timeout: AtomicU64::new(0),
            write_timeout: AtomicU64::new(0),
        })
    }

    pub(crate) fn source(&self) -> &S {
        self.io.source()
    }

    pub(crate) fn registered(&self) -> &Registered<S> {
        &self.io
    }

    /// A read-side operation, honouring the read timeout.
    #[track_caller]
    pub(crate) fn read_with<R>(&self, op: impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        self.io.run(Direction::Read, self.read_timeout(), op)
    }

    /// A write-side operation, honouring the write timeout.
    #[track_caller]
    pub(crate) fn write_with<R>(&self, op: impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        self.io.run(Direction::Write, self.write_timeout(), op)
    }

    /// A stream read of up to `len` bytes (see [`Registered::run_stream`]).
    #[track_caller]
    pub(crate) fn stream_read(
        &self,
        len: usize,
        op: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.io
            .run_stream(Direction::Read, self.read_timeout(), len, op)
    }

    /// A stream write of up to `len` bytes (see [`Registered::run_stream`]).
    #[track_caller]
    pub(crate) fn stream_write(
        &self,
        len: usize,
        op: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.io
            .run_stream(Direction::Write, self.write_timeout(), len, op)
    }

    pub(crate) fn read_timeout(&self) -> Option<Duration> {
        load_timeout(&self.read_timeout)
    }

    pub(crate) fn write_timeout(&self) -> Option<Duration> {
        load_timeout(&self.write_timeout)
    }

    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        store_timeout(&self.read_timeout, timeout)
    }

    pub(crate) fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        store_timeout(&self.write_timeout, timeout)
    }
}

fn load_timeout(nanos: &AtomicU64) -> Option<Duration> {
    match nanos.load(Ordering::Relaxed) {
        0 => None,
        n => Some(Duration::from_nanos(n)),
    }
}

/// Zero is refused, as std does.
fn store_timeout(nanos: &AtomicU64, timeout: Option<Duration>) -> io::Result<()> {
    let value = match timeout {
        Some(t) if t.is_zero() => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ))
        }
        Some(t) => u64::try_from(t.as_nanos()).unwrap_or(u64::MAX),
        None => 0,
    };
    nanos.store(value, Ordering::Relaxed);
    Ok(())
}

/// `Read` and `Write` for a stream type `$t` (and `&$t`) whose `inner` is
/// an `Arc<Conn<S>>` of a stream socket `S`: the system calls std's
/// methods make, issued directly (see `syscall.rs`).
macro_rules! impl_read_write {
    ($t:ty) => {
        impl std::io::Read for &$t {
            #[track_caller]
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.inner.stream_read(buf.len(), |s| {
                    crate::syscall::recv(std::os::fd::AsRawFd::as_raw_fd(s), buf)
                })
            }

            #[track_caller]
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                let len = bufs.iter().map(|b| b.len()).sum();
                self.inner.stream_read(len, |s| {
                    crate::syscall::readv(std::os::fd::AsRawFd::as_raw_fd(s), bufs)
                })
            }
        }

        impl std::io::Write for &$t {
            #[track_caller]
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.inner.stream_write(buf.len(), |s| {
                    crate::syscall::send(std::os::fd::AsRawFd::as_raw_fd(s), buf)
                })
            }

            #[track_caller]
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                let len = bufs.iter().map(|b| b.len()).sum();
                self.inner.stream_write(len, |s| {
                    crate::syscall::writev(std::os::fd::AsRawFd::as_raw_fd(s), bufs)
                })
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(()) // no user-space buffer
            }
        }

        impl std::io::Read for $t {
            #[track_caller]
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                std::io::Read::read(&mut &*self, buf)
            }

            #[track_caller]
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                std::io::Read::read_vectored(&mut &*self, bufs)
            }
        }

        impl std::io::Write for $t {
            #[track_caller]
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                std::io::Write::write(&mut &*self, buf)
            }

            #[track_caller]
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                std::io::Write::write_vectored(&mut &*self, bufs)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}

pub(crate) use impl_read_write;
