//! The coroutine state word: who may resume a coroutine, and when.
//!
//! Exactly one party may resume a coroutine at a time, and an `unpark` must
//! never be lost. Both properties follow from one atomic byte whose every
//! transition is one function below, returning what the caller must do next.
//!
//! ```text
//!              spawn
//!                │
//!                ▼        worker pops        park (after the switch)
//!           SCHEDULED ───────────────► RUNNING ──────────────────► IDLE
//!                                       ▲ ▲ │                        │
//!                                       │ │ │ unpark                 │
//!                   consume / requeue   │ │ ▼                        │
//!                               ──────── NOTIFIED                    │
//!                                         │                          │
//!                                         └──────── unpark ──────────┘
//!   RUNNING / NOTIFIED ── returns ──► DONE
//! ```
//!
//! A woken coroutine goes from IDLE straight to RUNNING although it waits
//! in a run queue first: the queue's push/pop already orders the waker's
//! writes before the coroutine runs, so the worker need not touch the word
//! when it pops it — one atomic read-modify-write less per wake-up. Only a
//! freshly spawned coroutine is SCHEDULED (its first run takes it to
//! RUNNING). A second `unpark` while it is queued finds RUNNING and leaves
//! NOTIFIED, exactly as for a coroutine that is really running.
//!
//! `yield_now` does not change the word: a yielded coroutine waits in its
//! worker's queue still RUNNING (an `unpark` meanwhile leaves NOTIFIED,
//! which its next `park` consumes), so a yield costs no atomic writes.
//!
//! The key ordering: a parking coroutine first switches *off* its stack, and
//! only then does the worker move `RUNNING → IDLE`. From that moment an
//! `unpark` may hand it to another queue, and the stack is no longer in use.
//! An `unpark` that arrives earlier finds `RUNNING`, leaves `NOTIFIED`, and
//! the worker re-queues the coroutine instead of idling it: no lost wakeup.

use crate::loom::sync::atomic::{
    AtomicU8,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};

/// Suspended in `park`, in no queue: the next `unpark` must schedule it.
const IDLE: u8 = 0;
/// In a run queue, or about to be pushed to one by whoever set this state.
const SCHEDULED: u8 = 1;
/// Being resumed by a worker.
const RUNNING: u8 = 2;
/// Running, and an `unpark` arrived: the next `park` must not sleep.
const NOTIFIED: u8 = 3;
/// Returned (or unwound); nothing will resume it again.
const DONE: u8 = 4;

/// The state word of one coroutine.
#[derive(Debug)]
pub struct State(AtomicU8);

/// What the caller of [`State::unpark`] must do next.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
#[must_use]
pub enum Unpark {
    /// The coroutine was idle and is now `RUNNING`: push it to a run queue.
    Schedule,
    /// Nothing: it is queued, running (and will see the notification), or done.
    Nothing,
}

/// What the worker must do with a coroutine that just switched out in `park`.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
#[must_use]
pub enum Parked {
    /// It is `IDLE`: forget it until an `unpark` schedules it.
    Idle,
    /// An `unpark` arrived while it ran: it is `RUNNING` again, re-queue it.
    Notified,
}

impl State {
    /// A new coroutine, about to be pushed to a run queue.
    pub fn new_scheduled() -> State {
        State(AtomicU8::new(SCHEDULED))
    }

    /// A worker took the coroutine from a run queue and will resume it.
    ///
    /// Only a new coroutine is SCHEDULED; a woken or yielded one is already
    /// RUNNING (or NOTIFIED, which it keeps), and this costs one plain load.
    pub fn transition_to_running(&self) {
        if self.0.load(Relaxed) == SCHEDULED {
            // The swap acquires what the unparker published.
            let prev = self.0.swap(RUNNING, AcqRel);
            debug_assert_eq!(
                prev, SCHEDULED,
                "resumed a coroutine that was not scheduled"
            );
        }
    }

    /// The coroutine has switched out in `park`; decide whether it sleeps.
    pub fn transition_to_idle(&self) -> Parked {
        match self.0.compare_exchange(RUNNING, IDLE, AcqRel, Acquire) {
            Ok(_) => Parked::Idle,
            Err(actual) => {
                debug_assert_eq!(actual, NOTIFIED);
                // Nobody else writes a NOTIFIED word, so a store would do; the
                // swap keeps the Acquire of the notifier's writes obvious.
                self.0.swap(RUNNING, AcqRel);
                Parked::Notified
            }
        }
    }

    /// Inside `park`, before switching: consume a pending notification.
    /// Returns `true` if there was one (then `park` returns at once).
    ///
    /// Usually there is none, and a plain load says so without the cost of
    /// a failing read-modify-write: a notification that arrives after the
    /// load is caught by the worker's `transition_to_idle`.
    pub fn try_consume_notification(&self) -> bool {
        self.0.load(Relaxed) == NOTIFIED
            && self
                .0
                .compare_exchange(NOTIFIED, RUNNING, AcqRel, Acquire)
                .is_ok()
    }

    /// Make the coroutine runnable. Safe to call from any thread, any time.
    /// An IDLE coroutine becomes RUNNING (see the module docs) and the
    /// caller must queue it.
    ///
    /// Even when there is nothing to change (already SCHEDULED or NOTIFIED)
    /// this writes the word: the write is a release that the worker's next
    /// transition acquires, so the coroutine, when it runs, sees everything
    /// the unparker did before calling `unpark`. A plain load would leave no
    /// such edge, and the coroutine could miss the very condition it was
    /// woken for (loom finds that interleaving).
    pub fn unpark(&self) -> Unpark {
        let mut current = self.0.load(Acquire);
        loop {
            let next = match current {
                IDLE => RUNNING,
                RUNNING => NOTIFIED,
                DONE => return Unpark::Nothing,
                same => same,
            };
            match self.0.compare_exchange(current, next, AcqRel, Acquire) {
                Ok(IDLE) => return Unpark::Schedule,
                Ok(_) => return Unpark::Nothing,
                Err(actual) => current = actual,
            }
        }
    }

    /// Whether it sleeps in `park` with no wake-up pending (for dumps: a
    /// snapshot, stale as soon as it is read).
    pub fn is_parked(&self) -> bool {
        self.0.load(Relaxed) == IDLE
    }

    /// The coroutine returned or was unwound; later `unpark`s do nothing.
    ///
    /// A store, not a swap: a racing `unpark` may still turn RUNNING into
    /// NOTIFIED just before, which DONE simply overwrites, and nothing the
    /// finished coroutine could acquire from an unparker is read again.
    /// The release is for `unpark`'s acquire load of DONE.
    pub fn transition_to_done(&self) {
        self.0.store(DONE, Release);
    }
}
