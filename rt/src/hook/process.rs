//! The `waitpid`/`wait4` hooks: `std::process::Child::wait` (and
//! `Command::status`/`output`) in a coroutine park it until the child
//! exits, on the child's pidfd, instead of blocking its worker.

use libc::{c_int, pid_t, rusage};

use super::{fail, in_coroutine};
use crate::scheduler::reactor::Direction;

/// `wait4(2)` itself.
///
/// # Safety
/// `status` and `usage` null or valid.
unsafe fn raw_wait4(pid: pid_t, status: *mut c_int, options: c_int, usage: *mut rusage) -> isize {
    // SAFETY: the caller's out-pointers.
    (unsafe { libc::syscall(libc::SYS_wait4, pid, status, options, usage) }) as isize
}

/// Wait for one child `pid` without blocking the worker: park on its
/// pidfd until it is readable (the child exited), then reap it. Any
/// child (`pid <= 0`), `WNOHANG`, or a kernel without pidfds: the call as
/// made; so are waits that also return when the child stops or continues
/// (`WUNTRACED`, `WCONTINUED`).
///
/// # Safety
/// As `wait4(2)` requires.
unsafe fn wait_parking(
    pid: pid_t,
    status: *mut c_int,
    options: c_int,
    usage: *mut rusage,
) -> isize {
    // SAFETY: forwarded.
    let plain = || unsafe { raw_wait4(pid, status, options, usage) };
    // A pidfd turns readable when the child exits, not when it stops or
    // continues: waits for those pass through.
    let passes = options & (libc::WNOHANG | libc::WUNTRACED | libc::WCONTINUED) != 0;
    if !in_coroutine() || pid <= 0 || passes {
        return plain();
    }
    // SAFETY: no pointers.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as c_int;
    if pidfd < 0 {
        return plain();
    }
    // SAFETY: forwarded, made non-blocking.
    let reap = || match unsafe { raw_wait4(pid, status, options | libc::WNOHANG, usage) } {
        0 => fail(libc::EAGAIN),
        r => r,
    };
    let mut result = reap();
    if result < 0 && super::errno() == libc::EAGAIN {
        let (r, waited) = crate::unwind::uninterruptible(|| {
            super::fd::retry(pidfd, Direction::Read, super::fd::Limit::At(None), reap)
        });
        result = match waited {
            super::fd::Waited::Ready => r,
            super::fd::Waited::Interrupted => fail(libc::ECANCELED),
            super::fd::Waited::TimedOut | super::fd::Waited::Unavailable => plain(),
        };
    }
    let errno = super::errno();
    super::fd::closing(pidfd);
    // SAFETY: our own pidfd.
    unsafe { libc::syscall(libc::SYS_close, pidfd) };
    super::set_errno(errno);
    result
}

/// # Safety
/// As `waitpid(2)` requires.
#[no_mangle]
pub unsafe extern "C" fn waitpid(pid: pid_t, status: *mut c_int, options: c_int) -> pid_t {
    // SAFETY: forwarded; no usage wanted.
    unsafe { wait_parking(pid, status, options, std::ptr::null_mut()) as pid_t }
}

/// # Safety
/// As `wait4(2)` requires.
#[no_mangle]
pub unsafe extern "C" fn wait4(
    pid: pid_t,
    status: *mut c_int,
    options: c_int,
    usage: *mut rusage,
) -> pid_t {
    // SAFETY: forwarded.
    unsafe { wait_parking(pid, status, options, usage) as pid_t }
}
