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
            wake(&sleepers[index]);
        }
    }

    /// Wake a worker's sleeper. A worker in a timed sleep is "polling"
    /// (see [`park`]): the token left is what ends it, as the real
    /// poller's `end_poll` takes it; there is no poller to interrupt.
    pub fn wake(sleeper: &Sleeper) {
        assert!(matches!(
            sleeper.wake(),
            AfterWake::Done | AfterWake::WakePoller
        ));
    }

    /// Worker `index` goes to sleep as `Worker::sleep` does: leave the
    /// awake (and searching) count, re-check the queues (rule 3:
    /// `work_visible`, which leaves out the worker's own queues and those
    /// it declined), sleep unless `finished()` — or, if it declined a
    /// queue (`timed`), sleep only until that victim could qualify, which
    /// in a model without time is over at once but, like the real timed
    /// sleep in the poller, takes a token left meanwhile — and come back.
    /// Returns whether it comes back as a searcher (a waker chose it).
    pub fn park(
        idle: &Idle,
        sleepers: &[Sleeper],
        index: usize,
        was_searching: bool,
        work_visible: impl Fn() -> bool,
        timed: bool,
        finished: impl Fn() -> bool,
    ) -> bool {
        let _ = idle.transition_worker_to_parked(index, was_searching);
        if work_visible() {
            notify_parked(idle, sleepers);
        }
        if timed {
            if sleepers[index].begin_poll() {
                let _ = sleepers[index].end_poll();
            }
        } else if !finished() {
            sleepers[index].sleep();
        }
        idle.transition_worker_from_parked(index)
    }
}

#[cfg(loom)]
pub use shared::{notify_parked, park, take_one, wake};
