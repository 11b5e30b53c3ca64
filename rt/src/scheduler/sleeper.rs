//! Puts an idle worker thread to sleep until someone has work for it.
//!
//! A token, like `std::thread::park`: a `wake` that arrives before `sleep`
//! makes the next `sleep` return at once, so "check the queues, then
//! sleep" never sleeps through a wake sent in between. (Coroutines *park*;
//! worker threads *sleep*.)

use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{Condvar, Mutex};

/// Not asleep, no token.
const EMPTY: usize = 0;
/// Asleep (or about to sleep) on the condition variable.
const PARKED: usize = 1;
/// A token is waiting: the next `sleep` returns immediately.
const NOTIFIED: usize = 2;
/// Blocked in the I/O poller: a `wake` must wake the poller instead.
const POLLING: usize = 3;

/// What the caller of [`Sleeper::wake`] must do next.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterWake {
    /// Nothing: the worker was woken, or will find the token.
    Done,
    /// The worker is blocked in the I/O poller: wake the poller (the token
    /// stays for `end_poll`).
    WakePoller,
}

/// One worker's sleep/wake point.
#[derive(Debug)]
pub struct Sleeper {
    /// EMPTY / PARKED / NOTIFIED / POLLING.
    state: AtomicUsize,
    /// Guards the sleep so a wake between "decide to sleep" and "sleep" is
    /// not lost on the condition variable.
    lock: Mutex<()>,
    /// Where the worker sleeps.
    cvar: Condvar,
}

impl Default for Sleeper {
    fn default() -> Self {
        Self::new()
    }
}

impl Sleeper {
    /// A sleeper with no token.
    pub fn new() -> Sleeper {
        Sleeper {
            state: AtomicUsize::new(EMPTY),
            lock: Mutex::new(()),
            cvar: Condvar::new(),
        }
    }

    /// Sleep until [`wake`](Self::wake) is (or was already) called.
    pub fn sleep(&self) {
        let _woken = self.sleep_inner(None);
    }

    /// Like [`sleep`](Self::sleep), but return after `timeout` at the
    /// latest. Returns whether a [`wake`](Self::wake) ended it (`false`:
    /// the time ran out).
    pub fn sleep_timeout(&self, timeout: std::time::Duration) -> bool {
        self.sleep_inner(Some(timeout))
    }

    fn sleep_inner(&self, timeout: Option<std::time::Duration>) -> bool {
        // Fast path: consume a token without touching the lock.
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            return true;
        }
        let mut guard = self.lock.lock();
        if let Err(actual) = self.state.compare_exchange(EMPTY, PARKED, SeqCst, SeqCst) {
            debug_assert_eq!(actual, NOTIFIED);
            // A swap, not a store: if another unpark landed since the CAS,
            // reading its write is what makes its effects visible to us.
            self.state.swap(EMPTY, SeqCst);
            return true;
        }
        match timeout {
            None => loop {
                self.cvar.wait(&mut guard);
                if self
                    .state
                    .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
                    .is_ok()
                {
                    return true;
                }
                // Spurious wakeup: still PARKED, sleep again.
            },
            Some(timeout) => {
                self.cvar.wait_for(&mut guard, timeout);
                // Woken, timed out or spurious: leave PARKED either way,
                // consuming a token if one arrived (the swap acquires it).
                self.state.swap(EMPTY, SeqCst) == NOTIFIED
            }
        }
    }

    /// Wake the worker if it sleeps, or leave a token for its next `sleep`.
    pub fn wake(&self) -> AfterWake {
        match self.state.swap(NOTIFIED, SeqCst) {
            PARKED => {
                // Taking the lock orders this notify after the sleeper's wait
                // began: it set PARKED while holding the lock.
                drop(self.lock.lock());
                self.cvar.notify_one();
                AfterWake::Done
            }
            POLLING => AfterWake::WakePoller,
            _ => AfterWake::Done,
        }
    }

    /// About to block in the I/O poller instead of sleeping. Returns
    /// `false` (and consumes the token) if a `wake` is already pending:
    /// then do not block.
    pub fn begin_poll(&self) -> bool {
        match self.state.compare_exchange(EMPTY, POLLING, SeqCst, SeqCst) {
            Ok(_) => true,
            Err(actual) => {
                debug_assert_eq!(actual, NOTIFIED);
                self.state.swap(EMPTY, SeqCst);
                false
            }
        }
    }

    /// Back from the poller; consumes a token that arrived meanwhile.
    /// Returns whether one did (a [`wake`](Self::wake), not I/O or the
    /// timeout, may have ended the poll).
    pub fn end_poll(&self) -> bool {
        self.state.swap(EMPTY, SeqCst) == NOTIFIED
    }
}
