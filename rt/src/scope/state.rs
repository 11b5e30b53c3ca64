//! What a scope and its coroutines share: how many are unfinished, who
//! waits for them, and which to cancel when the owner is interrupted.
//!
//! The protocol (checked under loom, `loom-tests/tests/scope.rs`):
//!
//! - A child is counted (`running`) and given a slot before it is spawned,
//!   and counts itself finished — after its result is stored or its body
//!   unwound — by freeing its slot and then decrementing `running`; the one
//!   that brings it to zero wakes the waiting owner.
//! - The owner checks `running` and publishes itself as the waiter under
//!   the lock, so a child that finishes in between finds the waiter (no
//!   lost wake-up), and parks until `running` is zero.
//! - The owner's interruption is passed on under the same lock: every
//!   unfinished child is cancelled, and `cancelled` makes the spawner
//!   cancel a child it registers afterwards.

use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::loom::sync::Mutex;
use crate::scheduler::registry::Registry;
use crate::scheduler::task::{park, park_until, Unparker, WaitSite};

/// A coroutine of a scope, as the scope needs to treat it.
pub trait ScopedChild {
    /// Ask it to unwind (the scope's owner was interrupted).
    fn cancel(&self);
    /// Whether shutdown abandoned it: it will never finish.
    fn is_abandoned(&self) -> bool;
}

impl ScopedChild for std::sync::Arc<crate::scheduler::task::Task> {
    fn cancel(&self) {
        crate::scheduler::task::Task::cancel(self);
    }

    fn is_abandoned(&self) -> bool {
        crate::scheduler::task::Task::is_abandoned(self)
    }
}

/// What a scope and its coroutines share.
pub struct ScopeState<C> {
    /// Coroutines spawned in the scope that have not finished.
    running: AtomicUsize,
    /// A coroutine panicked and its handle was dropped without joining.
    unjoined_panic: AtomicBool,
    /// The owner's wait and the coroutines to pass an interruption on to.
    tracked: Mutex<Tracked<C>>,
}

/// The part of [`ScopeState`] behind its lock.
struct Tracked<C> {
    /// The scope's owner, waiting for `running` to reach zero.
    waiter: Option<Unparker>,
    /// The unfinished coroutines, by the slot each was given at spawn.
    children: Registry<Child<C>>,
    /// The owner was interrupted: children are cancelled, new ones too.
    cancelled: bool,
}

/// A scoped coroutine as its scope tracks it.
enum Child<C> {
    /// Being spawned: the spawner will fill in the handle.
    Spawning,
    /// Running (or not yet started).
    Live(C),
    /// Finished before its spawner filled in the handle.
    FinishedEarly,
}

impl<C: ScopedChild> Default for ScopeState<C> {
    fn default() -> Self {
        ScopeState {
            running: AtomicUsize::new(0),
            unjoined_panic: AtomicBool::new(false),
            tracked: Mutex::new(Tracked {
                waiter: None,
                children: Registry::default(),
                cancelled: false,
            }),
        }
    }
}

impl<C: ScopedChild> ScopeState<C> {
    /// A coroutine is about to be spawned: count it and give it a slot.
    pub fn reserve(&self) -> usize {
        let slot = self.tracked.lock().children.insert(Child::Spawning);
        self.running.fetch_add(1, Ordering::AcqRel);
        slot
    }

    /// The spawn in `slot` failed: its body will never count itself
    /// finished, so undo [`reserve`](Self::reserve).
    pub fn unreserve(&self, slot: usize) {
        self.tracked.lock().children.remove(slot);
        self.running.fetch_sub(1, Ordering::AcqRel);
    }

    /// Record the coroutine spawned into `slot` (or free the slot if it
    /// already finished). Cancels it if the owner was interrupted meanwhile.
    pub fn spawned(&self, slot: usize, child: C) {
        let mut tracked = self.tracked.lock();
        if let Child::FinishedEarly = tracked.children.get_mut(slot) {
            tracked.children.remove(slot);
        } else {
            if tracked.cancelled {
                child.cancel();
            }
            *tracked.children.get_mut(slot) = Child::Live(child);
        }
    }

    /// The coroutine in `slot` finished (its result is stored or its
    /// body unwound): forget it, and wake the owner after the last.
    pub fn finished_one(&self, slot: usize) {
        {
            let mut tracked = self.tracked.lock();
            match tracked.children.get_mut(slot) {
                Child::Spawning => *tracked.children.get_mut(slot) = Child::FinishedEarly,
                _ => drop(tracked.children.remove(slot)),
            }
        }
        if self.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            let waiter = self.tracked.lock().waiter.take();
            if let Some(waiter) = waiter {
                waiter.unpark();
            }
        }
    }

    /// A coroutine panicked and nobody joined it.
    pub(crate) fn note_unjoined_panic(&self) {
        self.unjoined_panic.store(true, Ordering::Release);
    }

    /// Whether a coroutine panicked and nobody joined it.
    pub(crate) fn has_unjoined_panic(&self) -> bool {
        self.unjoined_panic.load(Ordering::Acquire)
    }

    /// Pass the owner's interruption on: cancel every unfinished coroutine
    /// of the scope (and every one spawned from now on).
    fn cancel_children(&self) {
        let mut tracked = self.tracked.lock();
        tracked.cancelled = true;
        for child in tracked.children.items() {
            if let Child::Live(child) = child {
                child.cancel();
            }
        }
    }

    /// Park until every coroutine of the scope has finished; nothing
    /// interrupts this wait (the coroutines borrow the owner's stack). An
    /// interruption of the owner — `interrupted` if it unwound the scope's
    /// body, or one that arrives during the wait — is passed on to the
    /// coroutines as a cancellation, and otherwise stays pending.
    pub(crate) fn wait_all(&self, site: WaitSite, interrupted: bool) {
        crate::unwind::uninterruptible(|| {
            let mut passed_on = false;
            loop {
                if !passed_on && (interrupted || crate::unwind::pending()) {
                    self.cancel_children();
                    passed_on = true;
                }
                let mut tracked = self.tracked.lock();
                if self.running.load(Ordering::Acquire) == 0 || tracked.only_abandoned_left() {
                    return;
                }
                tracked.waiter = Some(Unparker::current());
                drop(tracked);
                // A plain thread must wake at its deadline to pass it on
                // (a coroutine's `rt::timeout` has a timer that wakes it).
                match crate::unwind::deadline::thread_deadline().filter(|_| !passed_on) {
                    Some(at) => park_until(at, false, site),
                    None => park(site),
                }
            }
        });
    }

    /// [`wait_all`](Self::wait_all) for the loom models.
    #[cfg(loom)]
    #[track_caller]
    pub fn wait(&self, interrupted: bool) {
        let site = WaitSite::here(crate::scheduler::task::WaitReason::Scope);
        self.wait_all(site, interrupted);
    }
}

impl<C: ScopedChild> Tracked<C> {
    /// The owner is being torn down at shutdown and every unfinished
    /// child was abandoned (blocked where it could not be unwound): they
    /// will never finish, and never run again, so nothing will use what
    /// they borrow from the owner. Torn-down children finish normally
    /// (teardown unwinds children before owners).
    fn only_abandoned_left(&self) -> bool {
        crate::scheduler::task::current_task().is_some_and(|owner| owner.is_unwinding())
            && self.children.items().all(|child| match child {
                Child::Live(child) => child.is_abandoned(),
                Child::Spawning | Child::FinishedEarly => true,
            })
    }
}
