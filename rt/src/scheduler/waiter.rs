//! The wait queue every blocking primitive in `rt::sync` (and the reactor)
//! is built on.
//!
//! A primitive keeps its state and a [`WaitList`] under one short-held
//! `parking_lot` lock (never held across a park). A caller that must wait
//! enqueues a [`Waiter`] under that lock, releases it, and parks until the
//! waiter is notified; whoever changes the state in its favour pops the
//! waiter and notifies it, which unparks its coroutine (or thread).
//!
//! Cancellation: a coroutine can be cancelled (or torn down) while it
//! waits, unwinding out of `park`. [`wait`] then runs the primitive's
//! `abandon` callback, which removes the waiter from the list or — if it
//! had already been notified — passes the notification on, so a wakeup
//! meant for it is never lost.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::loom::sync::atomic::{AtomicBool, Ordering};

use std::time::Instant;

pub(crate) use crate::scheduler::task::WaitSite;
use crate::scheduler::task::{park, GiveUpGuard, Unparker};

/// One blocked coroutine or thread.
#[derive(Debug)]
pub(crate) struct Waiter {
    /// Set (Release) by `notify`, read (Acquire) by the waiter.
    notified: AtomicBool,
    /// Who to wake.
    unparker: Unparker,
}

impl Waiter {
    /// A waiter for the calling coroutine or thread, not notified.
    ///
    /// A coroutine reuses the one waiter it keeps while no list or
    /// notifier still holds it (a wait that ended left nothing behind):
    /// no allocation, and no new reference to its task, per blocking call.
    pub(crate) fn current() -> Arc<Waiter> {
        let Some(task) = crate::scheduler::task::current_task() else {
            return Waiter::new(Unparker::current());
        };
        let reuse = |slot: &mut Option<Arc<Waiter>>| {
            if let Some(waiter) = slot {
                // No `Weak`s exist, so a count of one is uniqueness; the
                // fence pairs with the Release decrement of whoever dropped
                // the other reference last (as in `Arc`'s own drop), so its
                // reads of `notified` come before our reset.
                if Arc::strong_count(waiter) == 1 {
                    std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
                    waiter.notified.store(false, Ordering::Relaxed);
                    return waiter.clone();
                }
            }
            let waiter = Waiter::new(Unparker::current());
            *slot = Some(waiter.clone());
            waiter
        };
        // SAFETY: the running coroutine's own slot; `reuse` does not come
        // back here (`Unparker::current` only clones the task).
        unsafe { task.with_waiter_slot(reuse) }
    }

    fn new(unparker: Unparker) -> Arc<Waiter> {
        Arc::new(Waiter {
            notified: AtomicBool::new(false),
            unparker,
        })
    }

    /// Mark notified and wake. Called with the primitive's lock held or not.
    pub(crate) fn notify(&self) {
        self.notified.store(true, Ordering::Release);
        self.unparker.unpark();
    }

    pub(crate) fn is_notified(&self) -> bool {
        self.notified.load(Ordering::Acquire)
    }
}

/// FIFO of waiters (FIFO keeps waiting fair: nobody starves).
#[derive(Debug, Default)]
pub(crate) struct WaitList(VecDeque<Arc<Waiter>>);

impl WaitList {
    pub(crate) const fn new() -> WaitList {
        WaitList(VecDeque::new())
    }

    pub(crate) fn push(&mut self, waiter: Arc<Waiter>) {
        self.0.push_back(waiter);
    }

    /// Notify the longest waiting. Returns whether there was one.
    pub(crate) fn notify_one(&mut self) -> bool {
        match self.0.pop_front() {
            Some(waiter) => {
                waiter.notify();
                true
            }
            None => false,
        }
    }

    /// Notify everyone waiting.
    pub(crate) fn notify_all(&mut self) {
        for waiter in self.0.drain(..) {
            waiter.notify();
        }
    }

    /// Remove `waiter` if it is still queued; returns whether it was.
    pub(crate) fn remove(&mut self, waiter: &Arc<Waiter>) -> bool {
        match self.0.iter().position(|w| Arc::ptr_eq(w, waiter)) {
            Some(index) => {
                self.0.remove(index);
                true
            }
            None => false,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// Park until `waiter` is notified; `site` is where and why (for dumps).
///
/// If the caller unwinds out of the wait (cancellation, teardown), or
/// shutdown abandons it there, `abandon()` runs: under the primitive's lock
/// it must take the waiter out of its list, and if it is no longer there —
/// a notifier popped it, which happens under that same lock, so it was
/// notified — hand the notification on to another waiter when the
/// primitive needs that (a released permit, an unlocked mutex). (Reading
/// `is_notified` before taking the lock instead could miss a notification
/// given in between.)
pub(crate) fn wait(waiter: &Arc<Waiter>, site: WaitSite, abandon: impl FnOnce()) {
    let notified = wait_until(waiter, None, site, abandon);
    debug_assert!(notified);
}

/// Like [`wait`], but give up at `deadline`: then `abandon` runs as for a
/// cancellation and this returns `false`. Returns `true` if notified.
pub(crate) fn wait_until<F: FnOnce()>(
    waiter: &Arc<Waiter>,
    deadline: Option<Instant>,
    site: WaitSite,
    abandon: F,
) -> bool {
    wait_until_or(waiter, deadline, site, abandon, || false) == WaitEnd::Notified
}

/// How [`wait_until_or`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum WaitEnd {
    /// The waiter was notified.
    Notified,
    /// The deadline passed first.
    TimedOut,
    /// `stop()` said so first.
    Stopped,
}

/// [`wait_until`] that also gives up (as at the deadline) as soon as
/// `stop()`, checked after every wake-up, says so: for waits that must end
/// instead of unwinding when an interruption is pending (the `hook`
/// feature's, inside C functions).
pub(crate) fn wait_until_or<F: FnOnce()>(
    waiter: &Arc<Waiter>,
    deadline: Option<Instant>,
    site: WaitSite,
    abandon: F,
    stop: impl Fn() -> bool,
) -> WaitEnd {
    struct Abandon<G: FnOnce()> {
        abandon: Option<G>,
    }
    impl<G: FnOnce()> Abandon<G> {
        fn run(&mut self) {
            if let Some(abandon) = self.abandon.take() {
                abandon();
            }
        }
    }
    impl<G: FnOnce()> Drop for Abandon<G> {
        fn drop(&mut self) {
            self.run();
        }
    }
    /// The same for a coroutine that shutdown abandons while it waits
    /// here: leave the list, or pass a notification on (a lock or permit
    /// handed to it would be lost with it).
    unsafe fn give_up_abandoned<G: FnOnce()>(guard: *const ()) {
        // SAFETY: `guard` is the `Abandon` below, on the frozen coroutine's
        // stack; nothing else will ever touch it.
        unsafe { (*(guard as *mut Abandon<G>)).run() };
    }
    let mut guard = Abandon {
        abandon: Some(abandon),
    };
    // SAFETY: `guard` outlives the hook (dropped in reverse order); the
    // abandon callbacks only take the primitive's lock and notify.
    let _abandon = unsafe {
        GiveUpGuard::install(
            waiter.unparker.task_ptr(),
            &mut guard as *mut Abandon<F> as *const (),
            give_up_abandoned::<F>,
        )
    };
    let timer = deadline.and_then(crate::scheduler::wake_at);
    // With a timer (or no deadline), the first park needs no clock read: a
    // deadline already past fires at the worker's next step.
    let mut check_clock = deadline.is_some() && timer.is_none();
    while !waiter.is_notified() {
        if stop() {
            return WaitEnd::Stopped; // `guard` abandons, as below
        }
        if let Some(deadline) = deadline {
            if std::mem::replace(&mut check_clock, true) && Instant::now() >= deadline {
                // Timed out: `guard` abandons (and may find it was
                // notified after all, and pass that on).
                return WaitEnd::TimedOut;
            }
        }
        match deadline {
            None => park(site),
            Some(deadline) => crate::scheduler::task::park_until(deadline, timer.is_some(), site),
        }
    }
    guard.abandon = None; // woken normally
    WaitEnd::Notified
}
