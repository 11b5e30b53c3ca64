//! Shared by tests that block a worker on purpose.

use std::time::Duration;

/// Block the calling thread for `length`, as a blocking system call does —
/// also with the `hook` feature, under which `std::thread::sleep` in a
/// coroutine parks it instead.
pub fn block_thread(length: Duration) {
    let mut left = libc::timespec {
        tv_sec: length.as_secs() as libc::time_t,
        tv_nsec: length.subsec_nanos() as libc::c_long,
    };
    loop {
        let request = left;
        // SAFETY: valid pointers to locals; a signal ends it early (EINTR)
        // with the rest in `left`.
        let r = unsafe { libc::syscall(libc::SYS_nanosleep, &request, &mut left) };
        if r == 0 {
            return;
        }
    }
}
