//! The I/O hooks: socket and pipe reads and writes, `connect`, `accept`,
//! and the descriptor bookkeeping (`socket`, `socketpair`, `close`, `dup2`,
//! `dup3`). See the module doc of `hook` for the rules.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use libc::{c_int, c_long, c_void, iovec, msghdr, size_t, sockaddr, socklen_t, ssize_t};

use super::fd::{self, Kind};
use super::{errno, fail, in_coroutine, park_on, set_errno, sys};
use crate::scheduler::reactor::Direction;

/// The kernel refused `RWF_NOWAIT` on a pipe (older than Linux 5.x):
/// pipes are then passed through.
static FIFO_NOWAIT_REFUSED: AtomicBool = AtomicBool::new(false);

// ---- reads ----

/// `recvfrom` made blocking-by-parking. With `MSG_WAITALL`, keeps reading
/// until `len` bytes, EOF or an error, as the blocking call does.
///
/// # Safety
/// The caller's pointers, as `recvfrom(2)` requires.
unsafe fn recv_parking(
    fd: RawFd,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> isize {
    let mut got = 0usize;
    loop {
        // SAFETY: within the caller's buffer (`got <= len`).
        let at = unsafe { buf.cast::<u8>().add(got) }.cast::<c_void>();
        let left = len - got;
        let call = |flags: c_int| {
            // SAFETY: the caller's pointers, as for recvfrom(2).
            sys(unsafe { libc::syscall(libc::SYS_recvfrom, fd, at, left, flags, addr, addrlen) })
        };
        let r = park_on(
            fd,
            Direction::Read,
            libc::EAGAIN,
            || call(flags | libc::MSG_DONTWAIT),
            || call(flags),
        );
        if r < 0 {
            return if got > 0 { got as isize } else { r };
        }
        got += r as usize;
        let wait_all = flags & libc::MSG_WAITALL != 0 && flags & libc::MSG_PEEK == 0;
        if !wait_all || r == 0 || got >= len || !is_stream(fd) {
            return got as isize;
        }
    }
}

/// Whether `fd` is a stream socket (`MSG_WAITALL` means something only
/// there).
fn is_stream(fd: RawFd) -> bool {
    fd::socket_option(fd, libc::SO_TYPE, 0 as c_int) == Some(libc::SOCK_STREAM)
}

/// `recvmsg` made blocking-by-parking.
///
/// # Safety
/// As `recvmsg(2)` requires.
unsafe fn recvmsg_parking(fd: RawFd, msg: *mut msghdr, flags: c_int) -> isize {
    // SAFETY: the caller's message header.
    let call = |flags: c_int| sys(unsafe { libc::syscall(libc::SYS_recvmsg, fd, msg, flags) });
    park_on(
        fd,
        Direction::Read,
        libc::EAGAIN,
        || call(flags | libc::MSG_DONTWAIT),
        || call(flags),
    )
}

/// `preadv2(.., -1, RWF_NOWAIT)` (a read at the current position that
/// never blocks) made blocking-by-parking, for pipes; `read`/`readv`
/// themselves where the kernel refuses it.
///
/// # Safety
/// As `readv(2)` requires.
unsafe fn fifo_readv(fd: RawFd, iov: *const iovec, count: c_int) -> isize {
    // SAFETY: the caller's buffers, as for readv(2).
    let blocking = || sys(unsafe { libc::syscall(libc::SYS_readv, fd, iov, c_long::from(count)) });
    if FIFO_NOWAIT_REFUSED.load(Ordering::Relaxed) {
        return blocking();
    }
    let attempt = || {
        // SAFETY: as above; offset -1 is the current position.
        sys(unsafe {
            libc::syscall(
                libc::SYS_preadv2,
                fd,
                iov,
                count,
                -1 as c_long,
                0 as c_long,
                libc::RWF_NOWAIT,
            )
        })
    };
    let r = park_on(fd, Direction::Read, libc::EAGAIN, attempt, blocking);
    if r < 0 && errno() == libc::EOPNOTSUPP {
        FIFO_NOWAIT_REFUSED.store(true, Ordering::Relaxed);
        return blocking();
    }
    r
}

/// # Safety
/// As `read(2)` requires.
#[no_mangle]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t {
    // SAFETY: the caller's buffer, as for read(2).
    let plain = || sys(unsafe { libc::syscall(libc::SYS_read, fd, buf, count) });
    if !in_coroutine() {
        return plain();
    }
    match fd::kind(fd) {
        // SAFETY: the caller's buffer; null: no peer address wanted.
        Kind::Socket => unsafe {
            recv_parking(
                fd,
                buf,
                count,
                0,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        },
        Kind::Fifo => {
            let iov = iovec {
                iov_base: buf,
                iov_len: count,
            };
            // SAFETY: one iovec over the caller's buffer.
            unsafe { fifo_readv(fd, &iov, 1) }
        }
        Kind::Other => plain(),
    }
}

/// # Safety
/// As `readv(2)` requires.
#[no_mangle]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const iovec, count: c_int) -> ssize_t {
    // SAFETY: the caller's buffers, as for readv(2).
    let plain = || sys(unsafe { libc::syscall(libc::SYS_readv, fd, iov, c_long::from(count)) });
    if !in_coroutine() || count <= 0 {
        return plain(); // the kernel answers EINVAL for a negative count
    }
    match fd::kind(fd) {
        Kind::Socket => {
            // SAFETY: a message header over the caller's buffers.
            let mut msg: msghdr = unsafe { std::mem::zeroed() };
            msg.msg_iov = iov.cast_mut();
            msg.msg_iovlen = count.max(0) as _;
            // SAFETY: as above.
            unsafe { recvmsg_parking(fd, &mut msg, 0) }
        }
        // SAFETY: the caller's buffers.
        Kind::Fifo => unsafe { fifo_readv(fd, iov, count) },
        Kind::Other => plain(),
    }
}

/// # Safety
/// As `recv(2)` requires.
#[no_mangle]
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t {
    // SAFETY: forwarded with the caller's pointers.
    unsafe {
        recvfrom(
            fd,
            buf,
            len,
            flags,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    }
}

/// # Safety
/// As `recvfrom(2)` requires.
#[no_mangle]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> ssize_t {
    if !in_coroutine() {
        // SAFETY: the caller's pointers, as for recvfrom(2).
        return sys(unsafe {
            libc::syscall(libc::SYS_recvfrom, fd, buf, len, flags, addr, addrlen)
        });
    }
    // SAFETY: as above.
    unsafe { recv_parking(fd, buf, len, flags, addr, addrlen) }
}

/// # Safety
/// As `recvmsg(2)` requires.
#[no_mangle]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    if !in_coroutine() {
        // SAFETY: the caller's message header.
        return sys(unsafe { libc::syscall(libc::SYS_recvmsg, fd, msg, flags) });
    }
    // SAFETY: as above.
    unsafe { recvmsg_parking(fd, msg, flags) }
}

// ---- writes ----

/// Send all of `msg`'s bytes, parking whenever the socket (or pipe) is
/// full, as a blocking write to a stream does: a partial write goes on
/// from where it stopped (ancillary data only with the first part). After
/// a partial write, an error or timeout returns the count sent so far.
/// `send(iov, count, dontwait)` makes one non-blocking (or, with
/// `dontwait == false`, blocking) call.
///
/// # Safety
/// `iov[..count]` must be valid buffers, as for `writev(2)`.
unsafe fn write_all_parking(
    fd: RawFd,
    iov: *const iovec,
    count: usize,
    send: impl Fn(*const iovec, usize, bool) -> isize,
) -> isize {
    // SAFETY: the caller's iovecs.
    let mut parts: Vec<iovec> = unsafe { std::slice::from_raw_parts(iov, count) }.to_vec();
    let total: usize = parts.iter().map(|p| p.iov_len).sum();
    let (mut first, mut sent) = (0usize, 0usize);
    loop {
        let rest = &parts[first..];
        let r = park_on(
            fd,
            Direction::Write,
            libc::EAGAIN,
            || send(rest.as_ptr(), rest.len(), true),
            || send(rest.as_ptr(), rest.len(), false),
        );
        if r < 0 {
            return if sent > 0 { sent as isize } else { r };
        }
        sent += r as usize;
        if sent >= total || r == 0 {
            return sent as isize;
        }
        // Skip what went out.
        let mut n = r as usize;
        while n > 0 && n >= parts[first].iov_len {
            n -= parts[first].iov_len;
            first += 1;
        }
        if n > 0 {
            let part = &mut parts[first];
            // SAFETY: `n` < this part's length: still inside it.
            part.iov_base = unsafe { part.iov_base.cast::<u8>().add(n) }.cast();
            part.iov_len -= n;
        }
    }
}

/// A socket write as `sendmsg(fd, {name, iov}, flags)`, or a pipe write
/// as `pwritev2(RWF_NOWAIT)`, parking while full. `None`: pass through.
///
/// # Safety
/// Valid `iov[..count]` and `name`/`namelen` (or null), as for sendmsg(2).
unsafe fn write_parking(
    fd: RawFd,
    iov: *const iovec,
    count: usize,
    flags: c_int,
    name: *const sockaddr,
    namelen: socklen_t,
    control: Option<(*mut c_void, usize)>,
) -> Option<isize> {
    match fd::kind(fd) {
        Kind::Socket => {
            let first = std::cell::Cell::new(true);
            let send = |iov: *const iovec, count: usize, dontwait: bool| {
                // SAFETY: an all-zero msghdr is valid; filled below.
                let mut msg: msghdr = unsafe { std::mem::zeroed() };
                msg.msg_name = name.cast_mut().cast();
                msg.msg_namelen = namelen;
                msg.msg_iov = iov.cast_mut();
                msg.msg_iovlen = count as _;
                if let (Some((ptr, len)), true) = (control, first.get()) {
                    msg.msg_control = ptr;
                    msg.msg_controllen = len as _;
                }
                let flags = if dontwait {
                    flags | libc::MSG_DONTWAIT
                } else {
                    flags
                };
                // SAFETY: the caller's buffers and address.
                let r = sys(unsafe { libc::syscall(libc::SYS_sendmsg, fd, &msg, flags) });
                if r > 0 {
                    first.set(false);
                }
                r
            };
            // SAFETY: the caller's iovecs.
            Some(unsafe { write_all_parking(fd, iov, count, send) })
        }
        Kind::Fifo if !FIFO_NOWAIT_REFUSED.load(Ordering::Relaxed) => {
            let send = |iov: *const iovec, count: usize, dontwait: bool| {
                let flags = if dontwait { libc::RWF_NOWAIT } else { 0 };
                // SAFETY: the caller's buffers; offset -1: the current one.
                sys(unsafe {
                    libc::syscall(
                        libc::SYS_pwritev2,
                        fd,
                        iov,
                        count,
                        -1 as c_long,
                        0 as c_long,
                        flags,
                    )
                })
            };
            // SAFETY: the caller's iovecs.
            let r = unsafe { write_all_parking(fd, iov, count, send) };
            if r < 0 && errno() == libc::EOPNOTSUPP {
                FIFO_NOWAIT_REFUSED.store(true, Ordering::Relaxed);
                return None;
            }
            Some(r)
        }
        _ => None,
    }
}

/// # Safety
/// As `write(2)` requires.
#[no_mangle]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t {
    // SAFETY: the caller's buffer, as for write(2).
    let plain = || sys(unsafe { libc::syscall(libc::SYS_write, fd, buf, count) });
    if !in_coroutine() {
        return plain();
    }
    let iov = iovec {
        iov_base: buf.cast_mut(),
        iov_len: count,
    };
    // SAFETY: one iovec over the caller's buffer; no address. A socket's
    // write(2) is send(2) with no flags (SIGPIPE included, as write's).
    unsafe { write_parking(fd, &iov, 1, 0, std::ptr::null(), 0, None) }.unwrap_or_else(plain)
}

/// # Safety
/// As `writev(2)` requires.
#[no_mangle]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const iovec, count: c_int) -> ssize_t {
    // SAFETY: the caller's buffers, as for writev(2).
    let plain = || sys(unsafe { libc::syscall(libc::SYS_writev, fd, iov, c_long::from(count)) });
    if !in_coroutine() || count <= 0 {
        return plain();
    }
    // SAFETY: as above.
    unsafe { write_parking(fd, iov, count as usize, 0, std::ptr::null(), 0, None) }
        .unwrap_or_else(plain)
}

/// # Safety
/// As `send(2)` requires.
#[no_mangle]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t {
    // SAFETY: forwarded with the caller's pointers.
    unsafe { sendto(fd, buf, len, flags, std::ptr::null(), 0) }
}

/// # Safety
/// As `sendto(2)` requires.
#[no_mangle]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    addrlen: socklen_t,
) -> ssize_t {
    // SAFETY: the caller's pointers, as for sendto(2).
    let plain =
        || sys(unsafe { libc::syscall(libc::SYS_sendto, fd, buf, len, flags, addr, addrlen) });
    if !in_coroutine() || fd::kind(fd) != Kind::Socket {
        return plain();
    }
    let iov = iovec {
        iov_base: buf.cast_mut(),
        iov_len: len,
    };
    // SAFETY: one iovec over the caller's buffer, the caller's address.
    unsafe { write_parking(fd, &iov, 1, flags, addr, addrlen, None) }.unwrap_or_else(plain)
}

/// # Safety
/// As `sendmsg(2)` requires.
#[no_mangle]
#[allow(clippy::unnecessary_cast)] // msghdr's field types differ between libcs
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    // SAFETY: the caller's message header, as for sendmsg(2).
    let plain = || sys(unsafe { libc::syscall(libc::SYS_sendmsg, fd, msg, flags) });
    if !in_coroutine() || msg.is_null() || fd::kind(fd) != Kind::Socket {
        return plain();
    }
    // SAFETY: checked non-null; the caller's header.
    let m = unsafe { &*msg };
    if m.msg_iov.is_null() || m.msg_iovlen == 0 {
        return plain(); // ancillary data alone: nothing to split or wait for
    }
    let control = (!m.msg_control.is_null()).then_some((m.msg_control, m.msg_controllen as usize));
    // SAFETY: the caller's buffers, address and ancillary data.
    unsafe {
        write_parking(
            fd,
            m.msg_iov,
            m.msg_iovlen as usize,
            flags,
            m.msg_name.cast(),
            m.msg_namelen,
            control,
        )
    }
    .unwrap_or_else(plain)
}

// ---- connections ----

/// Whether `fd` polls ready for `events` right now.
fn ready_now(fd: RawFd, events: libc::c_short) -> bool {
    let mut pollfd = [libc::pollfd {
        fd,
        events,
        revents: 0,
    }];
    crate::syscall::poll(&mut pollfd, 0).is_ok_and(|n| n > 0)
}

/// # Safety
/// As `connect(2)` requires.
#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    // SAFETY: the caller's address, as for connect(2).
    let plain = || unsafe { libc::syscall(libc::SYS_connect, fd, addr, len) } as c_int;
    if !in_coroutine() {
        return plain();
    }
    // SAFETY: F_GETFL/F_SETFL with an int argument touch no memory.
    let flags = unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_GETFL) } as c_int;
    if flags < 0 || flags & libc::O_NONBLOCK != 0 {
        return plain();
    }
    // A connect cannot be made non-blocking per call: the socket is made
    // non-blocking for the call alone (a socket being connected is not in
    // use elsewhere), and the handshake goes on after the mode is back.
    let start = || {
        // SAFETY: as above.
        unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_SETFL, flags | libc::O_NONBLOCK) };
        let r = plain();
        let started = errno();
        // SAFETY: as above.
        unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_SETFL, flags) };
        (r, started)
    };
    let (mut r, mut started) = start();
    // SAFETY: a connect that got this far read a whole address.
    let unix = unsafe { (*addr).sa_family } == libc::AF_UNIX as libc::sa_family_t;
    if r < 0 && started == libc::EAGAIN && unix {
        // A Unix socket whose listener's backlog is full: the blocking
        // call would wait for room, which no readiness event announces.
        (r, started) = retry_while_full(fd, start);
    }
    if r == 0 || started != libc::EINPROGRESS {
        set_errno(started);
        return r;
    }
    let wait = || {
        if ready_now(fd, libc::POLLOUT) {
            0
        } else {
            fail(libc::EAGAIN)
        }
    };
    // A blocking connect bounded by SO_SNDTIMEO fails with EINPROGRESS.
    let done = park_on(fd, Direction::Write, libc::EINPROGRESS, wait, || {
        // Cannot park: wait the blocking way.
        let mut pollfd = [libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        }];
        match crate::syscall::poll(&mut pollfd, -1) {
            Ok(n) => n as isize,
            Err(err) => fail(err.raw_os_error().unwrap_or(libc::EIO)),
        }
    });
    if done < 0 {
        return -1;
    }
    let Some(error) = fd::socket_option(fd, libc::SO_ERROR, 0 as c_int) else {
        return -1;
    };
    if error != 0 {
        set_errno(error);
        return -1;
    }
    0
}

/// Retry a Unix `connect` that found the listener's backlog full, parking
/// a little longer each time (1 ms to 64 ms), until it goes through, the
/// socket's `SO_SNDTIMEO` passes (`EAGAIN`, as the blocking call says) or
/// an interruption is pending (`ECANCELED`).
fn retry_while_full(fd: RawFd, start: impl Fn() -> (c_int, c_int)) -> (c_int, c_int) {
    let deadline =
        fd::timeout(fd, Direction::Write).and_then(|t| std::time::Instant::now().checked_add(t));
    let mut pause = std::time::Duration::from_millis(1);
    loop {
        super::sleep::park_for(pause);
        if crate::unwind::pending() {
            return (-1, libc::ECANCELED);
        }
        let (r, started) = start();
        if r == 0 || started != libc::EAGAIN {
            return (r, started);
        }
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            return (-1, libc::EAGAIN);
        }
        pause = (pause * 2).min(std::time::Duration::from_millis(64));
    }
}

/// # Safety
/// As `accept(2)` requires.
#[no_mangle]
pub unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    // SAFETY: forwarded with the caller's pointers.
    unsafe { accept4(fd, addr, len, 0) }
}

/// # Safety
/// As `accept4(2)` requires.
#[no_mangle]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    // SAFETY: the caller's pointers, as for accept4(2).
    let plain = || sys(unsafe { libc::syscall(libc::SYS_accept4, fd, addr, len, flags) });
    let accepted = if in_coroutine() {
        // No per-call non-blocking accept: wait until the listener polls
        // readable, then accept (see the module doc for the race).
        let attempt = || {
            if ready_now(fd, libc::POLLIN) {
                plain()
            } else {
                fail(libc::EAGAIN)
            }
        };
        park_on(fd, Direction::Read, libc::EAGAIN, attempt, plain)
    } else {
        plain()
    };
    if accepted >= 0 {
        fd::set_kind(accepted as RawFd, Some(Kind::Socket));
        fd::set_nonblocking(accepted as RawFd, Some(flags & libc::SOCK_NONBLOCK != 0));
    }
    accepted as c_int
}

// ---- descriptor bookkeeping ----

/// # Safety
/// None beyond `socket(2)`'s.
#[no_mangle]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    // SAFETY: no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_socket, domain, ty, protocol) } as c_int;
    if fd >= 0 {
        fd::set_kind(fd, Some(Kind::Socket));
        fd::set_nonblocking(fd, Some(ty & libc::SOCK_NONBLOCK != 0));
    }
    fd
}

/// # Safety
/// As `socketpair(2)` requires.
#[no_mangle]
pub unsafe extern "C" fn socketpair(
    domain: c_int,
    ty: c_int,
    protocol: c_int,
    fds: *mut c_int,
) -> c_int {
    // SAFETY: the caller's two-int array.
    let r = unsafe { libc::syscall(libc::SYS_socketpair, domain, ty, protocol, fds) } as c_int;
    if r == 0 {
        // SAFETY: filled by the kernel on success.
        let pair = unsafe { [*fds, *fds.add(1)] };
        for fd in pair {
            fd::set_kind(fd, Some(Kind::Socket));
            fd::set_nonblocking(fd, Some(ty & libc::SOCK_NONBLOCK != 0));
        }
    }
    r
}

/// # Safety
/// None beyond `close(2)`'s.
#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    fd::closing(fd);
    // SAFETY: no pointers.
    unsafe { libc::syscall(libc::SYS_close, fd) as c_int }
}

/// # Safety
/// None beyond `dup2(2)`'s.
#[no_mangle]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    if old == new {
        // dup2 checks `old` and returns it; dup3 would refuse equal fds.
        // SAFETY: F_GETFD touches no memory.
        let valid = unsafe { libc::syscall(libc::SYS_fcntl, old, libc::F_GETFD) } >= 0;
        return if valid { new } else { -1 };
    }
    // SAFETY: forwarded.
    unsafe { dup3(old, new, 0) }
}

/// # Safety
/// None beyond `dup3(2)`'s.
#[no_mangle]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    // `new` is closed by the call: deregister it while it names its file.
    fd::closing(new);
    // SAFETY: no pointers.
    unsafe { libc::syscall(libc::SYS_dup3, old, new, flags) as c_int }
}

// ---- the owner's decisions: forget what the hooks cached ----

/// `fcntl`, declared with its optional argument as a machine word: on the
/// targets the hooks support (x86-64 and AArch64 Linux) a variadic
/// argument travels in the register a fixed one would, whether it is an
/// `int` or a pointer.
///
/// # Safety
/// As `fcntl(2)` requires for `cmd`.
#[no_mangle]
pub unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: libc::c_ulong) -> c_int {
    if cmd == libc::F_GETOWN {
        // As glibc: a process group owner is answered negative, which the
        // raw F_GETOWN cannot tell from an error. `struct f_owner_ex`:
        // the owner's type (F_OWNER_PGRP = 2), then its id.
        const F_GETOWN_EX: c_int = 16;
        const F_OWNER_PGRP: c_int = 2;
        let mut owner: [c_int; 2] = [0, 0];
        // SAFETY: a valid out-pointer of f_owner_ex's size.
        let r = unsafe { libc::syscall(libc::SYS_fcntl, fd, F_GETOWN_EX, owner.as_mut_ptr()) };
        if r < 0 {
            return -1;
        }
        return if owner[0] == F_OWNER_PGRP {
            -owner[1]
        } else {
            owner[1]
        };
    }
    // SAFETY: the caller's argument for `cmd`, forwarded.
    let r = unsafe { libc::syscall(libc::SYS_fcntl, fd, cmd, arg) } as c_int;
    match cmd {
        libc::F_SETFL if r >= 0 => {
            fd::mode_changed(fd, arg & libc::O_NONBLOCK as libc::c_ulong != 0)
        }
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC if r >= 0 => {
            fd::set_kind(r, None);
            fd::set_nonblocking(r, None);
        }
        _ => {}
    }
    r
}

/// glibc's name for `fcntl` in code built with 64-bit file offsets.
///
/// # Safety
/// As `fcntl(2)` requires for `cmd`.
#[no_mangle]
pub unsafe extern "C" fn fcntl64(fd: c_int, cmd: c_int, arg: libc::c_ulong) -> c_int {
    // SAFETY: forwarded.
    unsafe { fcntl(fd, cmd, arg) }
}

/// `ioctl`, its argument declared as a pointer (see [`fcntl`]).
///
/// # Safety
/// As `ioctl(2)` requires for `request`.
#[no_mangle]
pub unsafe extern "C" fn ioctl(fd: c_int, request: libc::c_ulong, arg: *mut c_void) -> c_int {
    // SAFETY: the caller's argument for `request`, forwarded.
    let r = unsafe { libc::syscall(libc::SYS_ioctl, fd, request, arg) } as c_int;
    if request == libc::FIONBIO as libc::c_ulong && r >= 0 && !arg.is_null() {
        // SAFETY: the kernel just read this int through the same pointer.
        let on = unsafe { *arg.cast::<c_int>() } != 0;
        fd::mode_changed(fd, on);
    }
    r
}

/// # Safety
/// As `setsockopt(2)` requires.
#[no_mangle]
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: socklen_t,
) -> c_int {
    // SAFETY: the caller's option value, forwarded.
    let r = unsafe { libc::syscall(libc::SYS_setsockopt, fd, level, name, value, len) } as c_int;
    // SO_RCVTIMEO_NEW and SO_SNDTIMEO_NEW (66, 67): the 64-bit time forms.
    let timeout = matches!(name, libc::SO_RCVTIMEO | libc::SO_SNDTIMEO | 66 | 67);
    if level == libc::SOL_SOCKET && timeout && r == 0 {
        fd::timeouts_changed();
    }
    r
}
