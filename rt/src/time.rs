//! Time: sleeping that parks the coroutine, not the worker.
//!
//! Timers live on the worker that runs the coroutine (see
//! `scheduler/timers.rs`); an idle worker sleeps exactly until its next
//! deadline. Outside a coroutine these fall back to `std::thread::sleep`.

use std::time::{Duration, Instant};

use crate::scheduler::{self, task::park};

/// Park the calling coroutine for at least `duration` (Go's `time.Sleep`).
/// Other coroutines run on its worker meanwhile. On a plain thread it is
/// `std::thread::sleep`.
///
/// ```
/// use std::time::{Duration, Instant};
/// rt::run(|| {
///     let start = Instant::now();
///     let sleepers: Vec<_> = (0..1000).map(|_| rt::spawn(|| rt::sleep(Duration::from_millis(20)))).collect();
///     sleepers.into_iter().for_each(|s| s.join().unwrap());
///     // 1,000 coroutines slept concurrently, not one after another.
///     assert!(start.elapsed() >= Duration::from_millis(20));
///     assert!(start.elapsed() < Duration::from_secs(2));
/// });
/// ```
pub fn sleep(duration: Duration) {
    sleep_until(Instant::now() + duration);
}

/// Park the calling coroutine until `deadline` (at least). Never returns
/// early: a wake-up before the deadline parks again. A cancellation while
/// sleeping unwinds from here, as from any park point.
///
/// ```
/// use std::time::{Duration, Instant};
/// let deadline = Instant::now() + Duration::from_millis(5);
/// rt::run(|| rt::sleep_until(deadline));
/// assert!(Instant::now() >= deadline);
/// ```
pub fn sleep_until(deadline: Instant) {
    if !scheduler::wake_at(deadline) {
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        return;
    }
    while Instant::now() < deadline {
        park();
    }
}
