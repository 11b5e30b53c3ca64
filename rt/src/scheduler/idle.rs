//! Which workers sleep, which search for work, and whom to wake.
//!
//! Waking a worker costs a syscall, so new shared work (a spawn, an injected
//! coroutine) wakes one only when nobody is already looking: if some worker
//! is *searching* (stealing), it will find the work. Three rules make this
//! free of lost wakeups:
//!
//! 1. Whoever publishes shared work calls [`Idle::worker_to_notify`] after
//!    the push, behind a `SeqCst` fence. Shared work is any unstarted
//!    coroutine a searcher may take: in the injector, in a worker's own
//!    queue, in a worker's placed queue (placing also wakes the target,
//!    but its thread may be blocked in a coroutine; a sleeping target is
//!    the one woken as the searcher), and a batch that a worker not
//!    searching took into its queue by way of `staging`, where no
//!    searcher saw it (a searcher's batch is covered by rule 2), or a
//!    queue a dump emptied and refilled.
//! 2. A worker that stops searching because it found work, and was the last
//!    searcher, wakes another if shared work is left (there may be more
//!    behind what it took).
//! 3. A worker that parks re-checks every other worker's queues and the
//!    injector after leaving the awake (and searching) count, behind a
//!    `SeqCst` fence, and wakes a worker if it finds anything. Against
//!    rule 1 this is the classic store-then-load pair: either the
//!    publisher sees no searcher and somebody asleep, and wakes someone,
//!    or the parking worker sees the work. Every parking worker, not only
//!    the last searcher (as in tokio): a worker whose search was refused
//!    (another one searched) may park just after that searcher went off
//!    to run a coroutine that queued work and then blocked its thread —
//!    rule 1 woke nobody, as everyone was awake — and the work queued
//!    behind a blocked thread must still reach a worker that keeps an eye
//!    on it (`worker/placement.rs`).
//!    A queue this worker's last search *declined* (a victim not yet
//!    busier or stuck, `worker/placement.rs`) does not count: the worker
//!    sleeps only until that victim could qualify and looks again itself.
//!    (In rule 2 it does count: that worker goes off to run something.)
//!    Nor do its own queues: they are empty, or whoever placed something
//!    there woke it.
//!
//! `loom-tests/tests/idle_workers.rs` checks the three rules;
//! `declined_queue.rs` the exception to rule 3 and the refused searcher;
//! `placed_queue.rs` and `staging_window.rs` the two less obvious
//! publishers of rule 1.
//!
//! At most half the workers search at once, so a burst of wakes does not
//! turn into every worker hammering every other's queue.

use crate::loom::sync::atomic::{fence, AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::Mutex;

/// `state` packs two counts: searching workers in the low half ...
const SEARCHING_ONE: usize = 1;
/// ... and unparked (awake) workers in the high half.
const UNPARKED_SHIFT: usize = usize::BITS as usize / 2;
const UNPARKED_ONE: usize = 1 << UNPARKED_SHIFT;
const SEARCHING_MASK: usize = UNPARKED_ONE - 1;

/// How a worker went to sleep. Whatever it says, the caller must now
/// re-check the shared queues and wake a worker if they hold work (rule
/// 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct ParkedAs {
    /// Every other worker was already asleep.
    pub last_awake: bool,
}

/// The idle-worker bookkeeping shared by all workers of a runtime.
#[derive(Debug)]
pub struct Idle {
    /// Searching and unparked worker counts, packed.
    state: AtomicUsize,
    /// Indices of parked workers, most recently parked last.
    sleepers: Mutex<Vec<usize>>,
    /// Number of workers in the runtime.
    num_workers: usize,
}

fn searching(state: usize) -> usize {
    state & SEARCHING_MASK
}

fn unparked(state: usize) -> usize {
    state >> UNPARKED_SHIFT
}

impl Idle {
    /// All `num_workers` workers start awake and not searching.
    pub fn new(num_workers: usize) -> Idle {
        Idle {
            state: AtomicUsize::new(num_workers * UNPARKED_ONE),
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
            num_workers,
        }
    }

    /// Rule 1: after publishing shared work, pick a parked worker to wake,
    /// if one is needed. The chosen worker is counted as unparked and
    /// searching; the caller must unpark it.
    pub fn worker_to_notify(&self) -> Option<usize> {
        self.worker_to_notify_preferring(None)
    }

    /// [`worker_to_notify`](Self::worker_to_notify), choosing worker
    /// `preferred` if it is asleep (the one work was placed on: woken as a
    /// searcher it takes that work, and one wake does both jobs), else the
    /// most recently parked.
    pub fn worker_to_notify_preferring(&self, preferred: Option<usize>) -> Option<usize> {
        fence(SeqCst);
        if !self.needs_wakeup(self.state.load(SeqCst)) {
            return None;
        }
        let mut sleepers = self.sleepers.lock();
        // Re-check under the lock: a worker may have woken meanwhile.
        if !self.needs_wakeup(self.state.load(SeqCst)) {
            return None;
        }
        let listed = preferred.and_then(|p| sleepers.iter().position(|&i| i == p));
        let index = match listed {
            Some(position) => sleepers.remove(position),
            None => sleepers.pop()?,
        };
        self.state.fetch_add(UNPARKED_ONE + SEARCHING_ONE, SeqCst);
        Some(index)
    }

    /// Nobody is searching, and somebody is asleep.
    fn needs_wakeup(&self, state: usize) -> bool {
        searching(state) == 0 && unparked(state) < self.num_workers
    }

    /// A worker out of local work wants to steal. Returns `false` if enough
    /// workers already search; then it should park without searching.
    pub fn transition_worker_to_searching(&self) -> bool {
        let state = self.state.load(SeqCst);
        if 2 * searching(state) >= self.num_workers.max(2) {
            return false;
        }
        self.state.fetch_add(SEARCHING_ONE, SeqCst);
        true
    }

    /// Rule 2: a searching worker found work. Returns `true` if it was the
    /// last searcher; the caller must then wake another worker.
    pub fn transition_worker_from_searching(&self) -> bool {
        let prev = self.state.fetch_sub(SEARCHING_ONE, SeqCst);
        debug_assert!(searching(prev) > 0);
        searching(prev) == 1
    }

    /// A worker goes to sleep. See [`ParkedAs`] for what the caller must do.
    pub fn transition_worker_to_parked(&self, index: usize, is_searching: bool) -> ParkedAs {
        let mut sleepers = self.sleepers.lock();
        let dec = UNPARKED_ONE + if is_searching { SEARCHING_ONE } else { 0 };
        let prev = self.state.fetch_sub(dec, SeqCst);
        sleepers.push(index);
        drop(sleepers);
        fence(SeqCst);
        ParkedAs {
            last_awake: unparked(prev) == 1,
        }
    }

    /// Whether every worker is parked and `queues_empty()` holds, evaluated
    /// under the sleepers lock: every change of the awake count takes that
    /// lock, so no worker can wake and take work from a queue between the
    /// two observations.
    pub fn all_parked_and(&self, queues_empty: impl FnOnce() -> bool) -> bool {
        let _sleepers = self.sleepers.lock();
        unparked(self.state.load(SeqCst)) == 0 && queues_empty()
    }

    /// A worker woke up. If it is still listed as a sleeper, nobody chose it
    /// through [`worker_to_notify`](Self::worker_to_notify) (it was woken
    /// for its own inbox, or spuriously): unlist it and return `false`.
    /// Otherwise it was chosen and is already counted as searching: `true`.
    pub fn transition_worker_from_parked(&self, index: usize) -> bool {
        let mut sleepers = self.sleepers.lock();
        if let Some(pos) = sleepers.iter().position(|&i| i == index) {
            sleepers.swap_remove(pos);
            self.state.fetch_add(UNPARKED_ONE, SeqCst);
            false
        } else {
            true
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Idle;

    /// A placement on a sleeping worker wakes that worker as the searcher
    /// (one wake for both jobs); otherwise the most recently parked one is
    /// chosen, and nobody once a searcher exists.
    #[test]
    fn a_sleeping_preferred_worker_is_the_one_woken() {
        let idle = Idle::new(3);
        for index in 0..3 {
            let _ = idle.transition_worker_to_parked(index, false);
        }
        assert_eq!(idle.worker_to_notify_preferring(Some(0)), Some(0));
        // It was chosen: it wakes as a searcher, and a searcher exists.
        assert!(idle.transition_worker_from_parked(0));
        assert_eq!(idle.worker_to_notify_preferring(Some(1)), None);
        assert!(idle.transition_worker_from_searching());
        // Worker 0 is awake, so another sleeper is chosen: the last parked.
        assert_eq!(idle.worker_to_notify_preferring(Some(0)), Some(2));
        assert!(idle.transition_worker_from_parked(2));
        assert!(!idle.transition_worker_from_parked(1), "never chosen");
    }
}
