//! The `poll`, `ppoll` and `select` hooks: C clients (libpq, hiredis,
//! curl) wait for their socket with `poll` (or, older ones, `select`)
//! before reading or writing.

use libc::{c_int, nfds_t, pollfd};

use super::{fail, in_coroutine};
use crate::scheduler::reactor::Direction;

/// # Safety
/// As `poll(2)` requires: `fds[..nfds]` valid.
#[no_mangle]
pub unsafe extern "C" fn poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int {
    let all = if nfds == 0 {
        &mut [][..]
    } else {
        // SAFETY: the caller's array of `nfds` entries.
        unsafe { std::slice::from_raw_parts_mut(fds, nfds as usize) }
    };
    let raw = |fds: &mut [pollfd], timeout: c_int| match crate::syscall::poll(fds, timeout) {
        Ok(n) => n as c_int,
        Err(err) => fail(err.raw_os_error().unwrap_or(libc::EIO)) as c_int,
    };
    if !in_coroutine() || timeout == 0 {
        return raw(all, timeout);
    }
    let ready = raw(all, 0);
    if ready != 0 {
        return ready;
    }
    let dir = match all {
        [one] if one.events & !libc::POLLIN == 0 => Some(Direction::Read),
        [one] if one.events & !libc::POLLOUT == 0 => Some(Direction::Write),
        _ => None,
    };
    match dir {
        Some(dir) => poll_one(all, dir, timeout, raw),
        None => poll_on_pool(all, timeout),
    }
}

/// `ppoll` without a signal mask is `poll` with a finer timeout; with one
/// (the caller swaps its signal mask for the wait, atomically) it is
/// passed through: a parked coroutine's worker cannot take on its mask.
///
/// # Safety
/// As `ppoll(2)` requires.
#[no_mangle]
pub unsafe extern "C" fn ppoll(
    fds: *mut pollfd,
    nfds: nfds_t,
    timeout: *const libc::timespec,
    sigmask: *const libc::sigset_t,
) -> c_int {
    if !sigmask.is_null() || !in_coroutine() {
        // SAFETY: the caller's arguments; the kernel's sigset size.
        let r = unsafe {
            libc::syscall(
                libc::SYS_ppoll,
                fds,
                nfds,
                timeout,
                sigmask,
                std::mem::size_of::<libc::c_ulong>(),
            )
        };
        return r as c_int;
    }
    let millis = if timeout.is_null() {
        -1
    } else {
        // SAFETY: non-null: the caller's timespec.
        let t = unsafe { &*timeout };
        if t.tv_sec < 0 || !(0..1_000_000_000).contains(&t.tv_nsec) {
            return fail(libc::EINVAL) as c_int;
        }
        // Rounded up to whole milliseconds (a wait never ends early).
        let nanos = t.tv_sec as u128 * 1_000_000_000 + t.tv_nsec as u128;
        c_int::try_from(nanos.div_ceil(1_000_000)).unwrap_or(c_int::MAX)
    };
    // SAFETY: forwarded.
    unsafe { poll(fds, nfds, millis) }
}

/// One descriptor, one direction: park on the worker's poller.
fn poll_one(
    fds: &mut [pollfd],
    dir: Direction,
    timeout: c_int,
    raw: impl Fn(&mut [pollfd], c_int) -> c_int,
) -> c_int {
    let fd = fds[0].fd;
    let deadline = (timeout > 0)
        .then(|| std::time::Instant::now() + std::time::Duration::from_millis(timeout as u64));
    let cell = std::cell::RefCell::new(fds);
    let attempt = || match raw(&mut cell.borrow_mut(), 0) {
        0 => fail(libc::EAGAIN),
        n => n as isize,
    };
    let (result, waited) = crate::unwind::uninterruptible(|| {
        super::fd::retry(fd, dir, super::fd::Limit::At(deadline), attempt)
    });
    match waited {
        super::fd::Waited::Ready => result as c_int,
        super::fd::Waited::TimedOut => 0,
        super::fd::Waited::Interrupted => fail(libc::ECANCELED) as c_int,
        super::fd::Waited::Unavailable => raw(&mut cell.borrow_mut(), timeout),
    }
}

/// Several descriptors, or both directions: the wait runs on the blocking
/// pool while the coroutine parks (uninterruptibly: the pool's thread
/// uses copies, and the answer is copied back).
fn poll_on_pool(fds: &mut [pollfd], timeout: c_int) -> c_int {
    let mut copy = fds.to_vec();
    let (result, copy) = crate::unwind::uninterruptible(|| {
        crate::blocking(move || {
            let n = crate::syscall::poll(&mut copy, timeout);
            (n.map_err(|e| e.raw_os_error().unwrap_or(libc::EIO)), copy)
        })
    });
    match result {
        Ok(n) => {
            fds.copy_from_slice(&copy);
            n as c_int
        }
        Err(errno) => fail(errno) as c_int,
    }
}

/// `select` with a timeout in a coroutine runs on the blocking pool, on
/// copies of the sets and the timeout (written back, as Linux's select
/// writes the time left). x86-64 only: AArch64 has no `select` system
/// call (its libc emulates it with `pselect6`, which is not hooked).
///
/// # Safety
/// As `select(2)` requires: each set null or valid, `timeout` null or
/// valid.
#[cfg(target_arch = "x86_64")]
#[no_mangle]
pub unsafe extern "C" fn select(
    nfds: c_int,
    read: *mut libc::fd_set,
    write: *mut libc::fd_set,
    except: *mut libc::fd_set,
    timeout: *mut libc::timeval,
) -> c_int {
    let raw = |r: *mut libc::fd_set,
               w: *mut libc::fd_set,
               e: *mut libc::fd_set,
               t: *mut libc::timeval| {
        // SAFETY: valid or null sets and timeout.
        (unsafe { libc::syscall(libc::SYS_select, nfds, r, w, e, t) }) as c_int
    };
    // SAFETY: a null timeout means none; else the caller's.
    let zero = !timeout.is_null() && unsafe { (*timeout).tv_sec == 0 && (*timeout).tv_usec == 0 };
    // Sets larger than an fd_set (nfds > FD_SETSIZE, allocated by the
    // caller) cannot be copied as one: passed through.
    if !in_coroutine() || zero || !(0..=libc::FD_SETSIZE as c_int).contains(&nfds) {
        return raw(read, write, except, timeout);
    }
    // SAFETY: each pointer null or valid, as the caller guarantees.
    let copy = |set: *mut libc::fd_set| (!set.is_null()).then(|| unsafe { *set });
    let sets = [copy(read), copy(write), copy(except)];
    // SAFETY: as above.
    let limit = (!timeout.is_null()).then(|| unsafe { *timeout });
    let (result, sets, limit) = crate::unwind::uninterruptible(|| {
        crate::blocking(move || {
            let mut sets = sets;
            let mut limit = limit;
            let ptr = |s: &mut Option<libc::fd_set>| {
                s.as_mut().map_or(std::ptr::null_mut(), |s| s as *mut _)
            };
            let [r, w, e] = &mut sets;
            let t = limit
                .as_mut()
                .map_or(std::ptr::null_mut(), |t| t as *mut libc::timeval);
            // SAFETY: pointers to the copies, or null.
            let n = unsafe { libc::syscall(libc::SYS_select, nfds, ptr(r), ptr(w), ptr(e), t) };
            let errno = if n < 0 { super::errno() } else { 0 };
            ((n as c_int, errno), sets, limit)
        })
    });
    for (set, back) in [read, write, except].into_iter().zip(sets) {
        if let Some(back) = back {
            // SAFETY: non-null exactly when copied from it.
            unsafe { *set = back };
        }
    }
    if let Some(left) = limit {
        // SAFETY: non-null exactly when copied from it.
        unsafe { *timeout = left };
    }
    match result {
        (n, _) if n >= 0 => n,
        (_, errno) => fail(errno) as c_int,
    }
}
