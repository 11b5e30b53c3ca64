//! The system calls rt's own sockets make, issued directly.
//!
//! Two reasons not to go through libc's `recv`/`send` wrappers (which is
//! what `std::net` and mio do):
//! - With the `hook` feature, those symbols are rt's hooks. rt's sockets
//!   are non-blocking and parked on by rt itself, so they would only pass
//!   through — but after a look-up per call. Calling the kernel directly
//!   keeps the hooks off rt's own paths entirely.
//! - In a process with more than one thread (an rt process always has its
//!   workers), glibc turns on asynchronous thread cancellation around every
//!   cancellation-point call (`recv`, `send`, `read`, ...): two extra calls
//!   per system call, about 1.5% of an HTTP server's CPU. rt never uses
//!   `pthread_cancel`, and `syscall(2)` is not a cancellation point.
//!
//! Each function behaves as std's method of the same name: the same
//! system call, the same flags (writes to a socket pass `MSG_NOSIGNAL`,
//! as std's do, so a closed peer is an `EPIPE` error, never a signal).

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::RawFd;

/// A negative result as the `errno` it left.
fn check(result: libc::c_long) -> io::Result<usize> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result as usize)
    }
}

/// `recv(fd, buf, 0)`: a stream socket's read.
pub(crate) fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which
    // is exclusively borrowed for the call; null address arguments ask for
    // no peer address.
    check(unsafe {
        libc::syscall(
            libc::SYS_recvfrom,
            fd,
            buf.as_mut_ptr(),
            buf.len(),
            0,
            std::ptr::null_mut::<libc::sockaddr>(),
            std::ptr::null_mut::<libc::socklen_t>(),
        )
    })
}

/// `send(fd, buf, MSG_NOSIGNAL)`: a stream socket's write.
pub(crate) fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: the kernel reads at most `buf.len()` bytes from `buf`, which
    // is borrowed for the call; a null address means the connected peer.
    check(unsafe {
        libc::syscall(
            libc::SYS_sendto,
            fd,
            buf.as_ptr(),
            buf.len(),
            libc::MSG_NOSIGNAL,
            std::ptr::null::<libc::sockaddr>(),
            0 as libc::socklen_t,
        )
    })
}

/// `readv(fd, bufs)`, at most `IOV_MAX` buffers (the rest are left for the
/// next call, as std does).
pub(crate) fn readv(fd: RawFd, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
    let count = bufs.len().min(libc::UIO_MAXIOV as usize);
    // SAFETY: `IoSliceMut` is ABI-compatible with `struct iovec`; each
    // buffer is exclusively borrowed for the call and the kernel writes
    // within their lengths.
    check(unsafe { libc::syscall(libc::SYS_readv, fd, bufs.as_mut_ptr(), count) })
}

/// `writev(fd, bufs)`, at most `IOV_MAX` buffers.
pub(crate) fn writev(fd: RawFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    let count = bufs.len().min(libc::UIO_MAXIOV as usize);
    // SAFETY: `IoSlice` is ABI-compatible with `struct iovec`; the kernel
    // only reads the borrowed buffers within their lengths.
    check(unsafe { libc::syscall(libc::SYS_writev, fd, bufs.as_ptr(), count) })
}

/// `poll(fds, timeout_ms)` (a negative timeout: none), as `ppoll(2)`:
/// the call every architecture has. Returns the count of ready entries.
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> io::Result<usize> {
    let mut timeout = (timeout_ms >= 0).then(|| libc::timespec {
        tv_sec: libc::time_t::from(timeout_ms / 1_000),
        tv_nsec: libc::c_long::from(timeout_ms % 1_000) * 1_000_000,
    });
    let timeout_ptr = timeout
        .as_mut()
        .map_or(std::ptr::null_mut(), |t| t as *mut libc::timespec);
    // SAFETY: `fds` is exclusively borrowed for the call and the kernel
    // writes only its `revents`; the timeout is null or a mutable local
    // (the raw ppoll writes the time left into it); a null signal mask
    // leaves the mask alone.
    check(unsafe {
        libc::syscall(
            libc::SYS_ppoll,
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            timeout_ptr,
            std::ptr::null::<libc::sigset_t>(),
            0usize,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn calls_move_exact_bytes_and_report_errno() {
        let (a, b) = UnixStream::pair().unwrap();
        assert_eq!(send(a.as_raw_fd(), b"hello").unwrap(), 5);
        let mut buf = [0u8; 8];
        assert_eq!(recv(b.as_raw_fd(), &mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"hello");
        let parts = [IoSlice::new(b"ab"), IoSlice::new(b"cde")];
        assert_eq!(writev(a.as_raw_fd(), &parts).unwrap(), 5);
        let (mut x, mut y) = ([0u8; 3], [0u8; 3]);
        let mut into = [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)];
        assert_eq!(readv(b.as_raw_fd(), &mut into).unwrap(), 5);
        assert_eq!((&x, &y[..2]), (b"abc", &b"de"[..]));
        b.set_nonblocking(true).unwrap();
        let err = recv(b.as_raw_fd(), &mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        drop(b);
        let err = send(a.as_raw_fd(), b"x").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPIPE)); // no SIGPIPE
        assert_eq!(
            recv(-1, &mut buf).unwrap_err().raw_os_error(),
            Some(libc::EBADF)
        );
    }
}
