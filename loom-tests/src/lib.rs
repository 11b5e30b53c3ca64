//! loom model checks of rt's synchronization protocols live in `tests/`;
//! this crate holds the pieces several models share.
//!
//! Run them with `RUSTFLAGS="--cfg loom" cargo test -p loom-tests --release`.

#[cfg(loom)]
mod shared {
    use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use rt::model::{AfterWake, Idle, Sleeper};

    /// Take one item from a queue modelled as a counter; `false` if empty.
    pub fn take_one(queue: &AtomicUsize) -> bool {
        let mut n = queue.load(SeqCst);
        while n > 0 {
            match queue.compare_exchange(n, n - 1, SeqCst, SeqCst) {
                Ok(_) => return true,
                Err(actual) => n = actual,
            }
        }
        false
    }

    /// Rule 1 of the idle protocol after publishing work: wake the
    /// sleeper `idle` picks, if any (the models have no I/O poller).
    pub fn notify_parked(idle: &Idle, sleepers: &[Sleeper]) {
        if let Some(index) = idle.worker_to_notify() {
            assert_eq!(sleepers[index].wake(), AfterWake::Done);
        }
    }
}

#[cfg(loom)]
pub use shared::{notify_parked, take_one};
