//! The `hook` feature: blocking libc calls made inside a coroutine park
//! the coroutine instead of its worker thread.
//!
//! With the feature on, rt defines the C symbols `read`, `write`, `readv`,
//! `writev`, `recv`, `recvfrom`, `recvmsg`, `send`, `sendto`, `sendmsg`,
//! `connect`, `accept`, `accept4`, `poll`, `ppoll`, `select`, `nanosleep`,
//! `clock_nanosleep`, `usleep`, `sleep`, `getaddrinfo`, `waitpid` and
//! `wait4` (and `socket`,
//! `socketpair`, `close`, `dup2`, `dup3`, only to keep a cache of what
//! each descriptor is and to deregister it when it closes; and `fcntl`,
//! `fcntl64`, `ioctl` and `setsockopt`, only to notice when an owner
//! changes its blocking mode or timeouts). A Rust program's own code, std
//! and every crate or C library linked into the executable call these
//! instead of libc's; so do shared libraries that reach them through the
//! dynamic linker.
//!
//! Each hook passes straight through to the kernel (a raw system call,
//! no extra work) unless the caller is a coroutine. In a coroutine it
//! makes the call non-blocking for this call only (`MSG_DONTWAIT`,
//! `RWF_NOWAIT`, a poll of the descriptor), and if that would block and
//! the descriptor is a blocking one, parks the coroutine on its worker's
//! poller until the descriptor is ready, honouring the socket's
//! `SO_RCVTIMEO`/`SO_SNDTIMEO` — exactly the calls std's
//! `TcpStream::read`, `write`, `connect`, `TcpListener::accept`,
//! `thread::sleep` and `ToSocketAddrs` make. A descriptor's mode is never
//! changed (but for the duration of a `connect` call), so other users of it (plain threads, other processes) see the
//! file as its owner left it, and a descriptor its owner made
//! non-blocking (rt's, mio's, tokio's) gets `EAGAIN` as before. Sleeps
//! park with a timer; `getaddrinfo` runs on the blocking pool (glibc's
//! resolver makes calls no hook sees).
//!
//! The rules and pitfalls are in docs/ecosystem.md. In short:
//! - Nothing unwinds out of a C function, so a hooked call is not an
//!   interruption point: a cancellation or an expired `rt::timeout` makes
//!   a parked hooked call fail with `ECANCELED` (a sleep returns early),
//!   and the unwind happens at the coroutine's next rt park point.
//! - `accept` on a blocking listener waits for readiness, then accepts
//!   with a blocking call: with several acceptors on one listener, one can
//!   lose the race and block its worker until the next connection (use
//!   `rt::net` or a non-blocking listener there).
//! - `poll` of one descriptor for one direction parks on the poller;
//!   other polls run on the blocking pool.
//! - Not helped: locks (std's futex-based `Mutex`), `epoll_wait`, crates
//!   embedding their own tokio runtime, and calls libc makes internally.

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
compile_error!("the `hook` feature supports Linux on x86-64 and AArch64");

mod dns;
mod fd;
mod poll;
mod process;
mod sleep;
mod socket;

use std::os::fd::RawFd;

use crate::scheduler::reactor::Direction;
use fd::Waited;

/// The calling thread's `errno`.
fn errno() -> libc::c_int {
    // SAFETY: `__errno_location` returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() }
}

fn set_errno(value: libc::c_int) {
    // SAFETY: as in `errno`.
    unsafe { *libc::__errno_location() = value };
}

/// Fail a call with `errno = value`.
fn fail(value: libc::c_int) -> isize {
    set_errno(value);
    -1
}

/// Whether the caller is a coroutine (the only callers a hook parks).
fn in_coroutine() -> bool {
    crate::scheduler::task::in_coroutine()
}

/// A raw system call's result as a C function's: -1 with `errno` set.
fn sys(result: libc::c_long) -> isize {
    result as isize
}

/// The heart of every I/O hook, in a coroutine: run `attempt` (the call
/// made non-blocking for this call only); if it would block and `fd` is a
/// blocking descriptor, park for `dir` readiness and try again, until it
/// completes, the socket's own timeout passes (`timed_out` is then the
/// errno, as the kernel's blocking call would set it), or an interruption
/// is pending (`ECANCELED`). If the descriptor cannot be polled, falls
/// back to `blocking`, the call as the caller made it.
fn park_on(
    fd: RawFd,
    dir: Direction,
    timed_out: libc::c_int,
    mut attempt: impl FnMut() -> isize,
    blocking: impl FnOnce() -> isize,
) -> isize {
    let result = attempt();
    if result >= 0 || errno() != libc::EAGAIN {
        return result;
    }
    if fd::nonblocking(fd) {
        set_errno(libc::EAGAIN);
        return result;
    }
    let limit = fd::Limit::SocketTimeout;
    let (result, waited) =
        crate::unwind::uninterruptible(|| fd::retry(fd, dir, limit, &mut attempt));
    match waited {
        Waited::Ready => result,
        Waited::TimedOut => fail(timed_out),
        Waited::Interrupted => fail(libc::ECANCELED),
        Waited::Unavailable => blocking(),
    }
}
