//! [`Barrier`]: `n` coroutines wait for each other.

use std::fmt;

use crate::scheduler::task::WaitReason;
use crate::scheduler::waiter::{wait, WaitList, WaitSite, Waiter};

/// Lets `n` coroutines (or threads) meet: each [`wait`](Self::wait) parks
/// until `n` have arrived, then all continue; one of them is the leader.
/// The barrier can be reused.
///
/// ```
/// use std::sync::Arc;
/// let barrier = Arc::new(rt::sync::Barrier::new(3));
/// let leaders = rt::run(|| {
///     let handles: Vec<_> = (0..3)
///         .map(|_| {
///             let b = barrier.clone();
///             rt::spawn(move || b.wait().is_leader())
///         })
///         .collect();
///     handles.into_iter().filter(|_| true).map(|h| h.join().unwrap()).filter(|&l| l).count()
/// });
/// assert_eq!(leaders, 1);
/// ```
pub struct Barrier {
    /// How many must arrive.
    n: usize,
    /// Arrived in this round, the round number, and the parked.
    state: parking_lot::Mutex<(usize, u64, WaitList)>,
}

/// What [`Barrier::wait`] returns.
#[derive(Debug, Clone, Copy)]
///
/// ```
/// let barrier = rt::sync::Barrier::new(1);
/// assert!(barrier.wait().is_leader()); // alone: always the leader
/// ```
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// Whether this caller was the one whose arrival released the round.
    ///
    /// ```
    /// let barrier = rt::sync::Barrier::new(2);
    /// let leaders = rt::run(|| {
    ///     rt::scope(|s| {
    ///         let other = s.spawn(|| barrier.wait().is_leader());
    ///         let me = barrier.wait().is_leader();
    ///         usize::from(me) + usize::from(other.join().unwrap())
    ///     })
    /// });
    /// assert_eq!(leaders, 1); // exactly one per round
    /// ```
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` parties (`n = 0` behaves as 1).
    ///
    /// ```
    /// let barrier = rt::sync::Barrier::new(0); // as 1: never waits
    /// assert!(barrier.wait().is_leader());
    /// assert!(barrier.wait().is_leader());
    /// ```
    pub fn new(n: usize) -> Barrier {
        Barrier {
            n: n.max(1),
            state: parking_lot::Mutex::new((0, 0, WaitList::default())),
        }
    }

    /// Park until `n` callers have arrived in this round.
    ///
    /// ```
    /// let (barrier, log) = (rt::sync::Barrier::new(2), rt::sync::Mutex::new(Vec::new()));
    /// rt::run(|| {
    ///     rt::scope(|s| {
    ///         for _ in 0..2 {
    ///             s.spawn(|| {
    ///                 for round in 0..3 {
    ///                     log.lock().unwrap().push(round);
    ///                     barrier.wait();
    ///                 }
    ///             });
    ///         }
    ///     })
    /// });
    /// // Nobody starts a round before both finished the previous one.
    /// assert_eq!(log.into_inner().unwrap(), [0, 0, 1, 1, 2, 2]);
    /// ```
    #[track_caller]
    pub fn wait(&self) -> BarrierWaitResult {
        let (waiter, round) = {
            let mut state = self.state.lock();
            state.0 += 1;
            if state.0 == self.n {
                state.0 = 0;
                state.1 += 1;
                state.2.notify_all();
                return BarrierWaitResult(true);
            }
            let waiter = Waiter::current();
            state.2.push(waiter.clone());
            (waiter, state.1)
        };
        wait(&waiter, WaitSite::here(WaitReason::Barrier), || {
            let mut state = self.state.lock();
            if state.2.remove(&waiter) && state.1 == round {
                state.0 -= 1; // leaving before the round completed
            }
        });
        BarrierWaitResult(false)
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("n", &self.n)
            .finish_non_exhaustive()
    }
}
