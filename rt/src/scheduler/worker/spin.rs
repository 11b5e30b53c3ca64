//! Spinning before sleeping, like Go's spinning Ms: a worker that runs out
//! of work keeps looking (its own queues and inbox, then stealing) for a
//! little while before it sleeps, so that a hand-off from another worker
//! finds it awake — a token store instead of a futex wake (6–50 µs).
//!
//! Only a *searching* worker spins, so at most half the workers spin at
//! once (`Idle::transition_worker_to_searching`), and while one spins the
//! others' new work wakes nobody (rule 1 of `idle.rs`: a searcher will
//! find it). The time spent is adaptive, per worker: it doubles (up to
//! [`MAX_SPIN`]) when spinning found work another thread handed over, or
//! when another thread's wake cut a sleep short within [`MAX_SPIN`]
//! (spinning would have caught that wake), and halves when a spin found
//! nothing. A runtime with nothing to do, or woken only every millisecond
//! by a ticker, soon spins not at all.
//!
//! A spinning worker also polls its I/O (its first look, then every
//! [`LOOKS_PER_POLL`]th), but readiness (or a timer) found that way counts
//! as a miss, and a sleep ended by I/O or by its timeout does not raise
//! the budget: such a wake-up is a system call either way (the poller's),
//! so spinning for it would only trade idle time for CPU time — on a
//! 1-worker HTTP server under load, +8% CPU per request.
//!
//! Every [`LOOKS_PER_YIELD`]th look the spinner also offers its CPU to
//! the kernel (`sched_yield`: back at once if nothing else is runnable
//! there). On a host with more runnable threads than cores, a spinner
//! that never yields keeps the CPU from the very thread that would hand
//! it work, or that runs the coroutines it waits for: beside one busy
//! loop on 2 cores (one run), the pipeline started apart ran 2,067 ns per
//! item (tokio 349) and the hub 769 ns per request; yielding, 261 and 162. On
//! a quiet host it costs nothing measurable (docs/benchmarks.md).

use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Worker;
use crate::scheduler::task::Task;

/// The longest a worker spins before it sleeps.
const MAX_SPIN: Duration = Duration::from_micros(50);
/// Where the budget starts, and what a short sleep raises it to at least.
const START_SPIN: Duration = Duration::from_micros(8);
/// Below this a spin is not worth starting.
const MIN_SPIN: Duration = Duration::from_micros(1);
/// Pause hints between two looks at the queues (not to hammer them).
const PAUSES: u32 = 16;
/// Every this many looks, the worker also polls its I/O (a system call,
/// so not on every look).
const LOOKS_PER_POLL: u32 = 4;
/// Every this many looks (between two polls), the worker offers its CPU
/// to another runnable thread.
const LOOKS_PER_YIELD: u32 = 4;

/// One worker's spinning budget.
pub(super) struct Spin {
    /// How long the next spin may last.
    budget: Cell<Duration>,
    /// When the worker last went to sleep (to see whether a wake came
    /// soon enough for a spin to have caught it).
    slept_at: Cell<Option<Instant>>,
}

impl Default for Spin {
    fn default() -> Self {
        Spin {
            budget: Cell::new(START_SPIN),
            slept_at: Cell::new(None),
        }
    }
}

impl Spin {
    fn found(&self) {
        self.budget.set((self.budget.get() * 2).min(MAX_SPIN));
    }

    fn missed(&self) {
        self.budget.set(self.budget.get() / 2);
    }

    /// About to sleep.
    pub(super) fn sleeping(&self) {
        self.slept_at.set(Some(Instant::now()));
    }

    /// Awake again; `by_wake`: another thread's wake ended the sleep. Such
    /// a wake within [`MAX_SPIN`] is one a spin would have caught without
    /// the sleep.
    pub(super) fn woken(&self, by_wake: bool) {
        if let Some(at) = self.slept_at.take() {
            if by_wake && at.elapsed() < MAX_SPIN {
                self.budget
                    .set((self.budget.get() * 2).clamp(START_SPIN, MAX_SPIN));
            }
        }
    }
}

impl Worker {
    /// Work this worker took from other threads so far: coroutines woken
    /// into its inbox, and steals.
    fn handoffs(&self) -> u64 {
        let counters = self.shared.counters(self.index);
        counters.remote_wakes.load(Ordering::Relaxed) + counters.steals.load(Ordering::Relaxed)
    }

    /// Out of work, searching: keep looking for up to the spin budget.
    /// Returns the coroutine found, or `None`: then sleep.
    #[inline(never)]
    pub(super) fn spin(&self) -> Option<Arc<Task>> {
        let budget = self.spin.budget.get();
        if budget < MIN_SPIN || self.shared.is_shutdown() {
            return None;
        }
        let deadline = Instant::now() + budget;
        let mut looks = 0u32;
        loop {
            for _ in 0..PAUSES {
                std::hint::spin_loop();
            }
            if looks % LOOKS_PER_YIELD == LOOKS_PER_YIELD - 1 {
                std::thread::yield_now();
            }
            if looks % LOOKS_PER_POLL == 0 {
                let _ = self.poll_io_now();
            }
            looks = looks.wrapping_add(1);
            self.fire_timers();
            let handoffs = self.handoffs();
            // Only a searcher steals; any spinner watches its own queues
            // and inbox (where the coroutines homed on it are woken).
            let stolen = || self.searching.get().then(|| self.search()).flatten();
            if let Some(task) = self.next_local().or_else(stolen) {
                // What the poll or a timer woke is local; only work another
                // thread handed over (through the inbox, or stolen) is
                // what spinning is for (see the module's comment).
                if self.handoffs() != handoffs {
                    self.spin.found();
                } else {
                    self.spin.missed();
                }
                return Some(task);
            }
            if Instant::now() >= deadline {
                self.spin.missed();
                return None;
            }
        }
    }
}
