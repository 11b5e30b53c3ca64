//! The sleep hooks: `std::thread::sleep` (which calls `clock_nanosleep`
//! or `nanosleep`), `usleep` and `sleep` in a coroutine park it with a
//! timer instead of sleeping its worker.

use std::time::{Duration, Instant};

use libc::{c_int, c_uint, clockid_t, timespec};

use super::{fail, in_coroutine};
use crate::scheduler::waiter::{wait_until_or, WaitSite, Waiter};

/// Park the calling coroutine for `length`. An interruption pending
/// (or arriving) ends the sleep early — it is delivered at the next park
/// point outside the hook; a C sleep cannot unwind, and answering `EINTR`
/// would make std's sleep loop call again at once.
pub(super) fn park_for(length: Duration) {
    // Too far to represent (`thread::sleep(Duration::MAX)`): for ever.
    let deadline = Instant::now().checked_add(length);
    let waiter = Waiter::current(); // never notified: only the timer ends it
    crate::unwind::uninterruptible(|| {
        let site = WaitSite::here(crate::scheduler::task::WaitReason::Sleep);
        let _ = wait_until_or(&waiter, deadline, site, || {}, crate::unwind::pending);
    });
}

/// A `timespec` as a duration, if valid.
fn duration_of(ts: &timespec) -> Option<Duration> {
    let valid = ts.tv_sec >= 0 && (0..1_000_000_000).contains(&ts.tv_nsec);
    valid.then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// The current time of `clock`, if it can be read.
fn now_of(clock: clockid_t) -> Option<Duration> {
    let mut now = timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer.
    let r = unsafe { libc::syscall(libc::SYS_clock_gettime, clock, &mut now) };
    (r == 0).then(|| duration_of(&now)).flatten()
}

/// # Safety
/// As `nanosleep(2)` requires.
#[no_mangle]
pub unsafe extern "C" fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int {
    if !in_coroutine() || req.is_null() {
        // SAFETY: the caller's pointers.
        return unsafe { libc::syscall(libc::SYS_nanosleep, req, rem) } as c_int;
    }
    // SAFETY: checked non-null; the caller's request.
    let Some(length) = duration_of(unsafe { &*req }) else {
        return fail(libc::EINVAL) as c_int;
    };
    park_for(length);
    0
}

/// # Safety
/// As `clock_nanosleep(2)` requires. Returns the error number (not -1).
#[no_mangle]
pub unsafe extern "C" fn clock_nanosleep(
    clock: clockid_t,
    flags: c_int,
    req: *const timespec,
    rem: *mut timespec,
) -> c_int {
    let parks = in_coroutine()
        && !req.is_null()
        && matches!(
            clock,
            libc::CLOCK_MONOTONIC | libc::CLOCK_REALTIME | libc::CLOCK_BOOTTIME
        );
    if !parks {
        // SAFETY: the caller's pointers.
        let r = unsafe { libc::syscall(libc::SYS_clock_nanosleep, clock, flags, req, rem) };
        return if r < 0 { super::errno() } else { 0 };
    }
    // SAFETY: checked non-null; the caller's request.
    let Some(request) = duration_of(unsafe { &*req }) else {
        return libc::EINVAL;
    };
    let length = if flags & libc::TIMER_ABSTIME != 0 {
        match now_of(clock) {
            Some(now) => request.saturating_sub(now),
            None => return libc::EINVAL,
        }
    } else {
        request
    };
    park_for(length);
    0
}

/// # Safety
/// None.
#[no_mangle]
pub unsafe extern "C" fn usleep(micros: libc::useconds_t) -> c_int {
    let ts = timespec {
        tv_sec: (micros / 1_000_000) as libc::time_t,
        tv_nsec: (micros % 1_000_000) as libc::c_long * 1_000,
    };
    // SAFETY: a valid request; no remainder wanted.
    unsafe { nanosleep(&ts, std::ptr::null_mut()) }
}

/// # Safety
/// None.
#[no_mangle]
pub unsafe extern "C" fn sleep(seconds: c_uint) -> c_uint {
    let ts = timespec {
        tv_sec: seconds as libc::time_t,
        tv_nsec: 0,
    };
    let mut rem = timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointers.
    if unsafe { nanosleep(&ts, &mut rem) } == 0 {
        return 0;
    }
    rem.tv_sec as c_uint + c_uint::from(rem.tv_nsec > 0)
}
