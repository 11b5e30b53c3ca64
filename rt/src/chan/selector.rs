//! The waiting side of every blocking channel operation and `select!`.
//!
//! A coroutine (or thread) that must wait on one or more channels puts an
//! entry for each operation into the channels' wait queues, all pointing at
//! one [`Selector`] on its stack. Whoever can complete one of them — a
//! sender for a waiting receive, a receiver for a waiting send, `close` for
//! both — first *claims* the selector with one compare-and-swap from
//! `Waiting` to its arm's number. Only the winner of that CAS touches the
//! waiter's value slot; every other party sees the selector taken and drops
//! the entry as stale. So exactly one operation of a select completes, and
//! a value is never moved into (or out of) an operation that lost.
//!
//! The waiter gives up (timeout, cancellation) with the same CAS, from
//! `Waiting` to `Aborted`. If that CAS fails, an operation was claimed a
//! moment earlier and is being completed: the waiter waits for `done` and
//! takes the result, so a value handed over at the last moment is not lost.

use std::time::Instant;

use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::scheduler::task::{park, GiveUpGuard, UnparkerRef, WaitSite};

/// A selector's state word, decoded. It moves once, from `Waiting` to
/// `Aborted` or to `Claimed` (a reset after an abort starts a new round).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Nobody has claimed the selector yet.
    Waiting,
    /// The waiter gave up; nobody may claim it any more.
    Aborted,
    /// Arm `i` was claimed.
    Claimed(usize),
}

impl Status {
    /// The word that stores it.
    #[inline]
    const fn word(self) -> usize {
        match self {
            Status::Waiting => 0,
            Status::Aborted => 1,
            Status::Claimed(arm) => 2 + arm,
        }
    }

    /// Decode a stored word.
    #[inline]
    const fn of(word: usize) -> Status {
        match word {
            0 => Status::Waiting,
            1 => Status::Aborted,
            _ => Status::Claimed(word - 2),
        }
    }
}

/// One waiting party: a blocked `send`/`recv`, or a whole `select!`.
#[doc(hidden)]
#[derive(Debug)]
pub struct Selector {
    /// A [`Status`], as its word.
    state: AtomicUsize,
    /// Set (Release) once the claimed arm's transfer is finished and the
    /// waiter woken: the last thing a claimer does with the selector.
    done: AtomicBool,
    /// Who to wake. Uncounted: the waiter cannot leave before `done`.
    waker: UnparkerRef,
    /// One plain `send`/`recv`: its one entry is claimed and abandoned only
    /// under its channel's lock, so a claim needs no compare-and-swap.
    exclusive: bool,
}

/// How [`Selector::wait`] ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Woken {
    /// Arm `n` completed.
    Fired(usize),
    /// The deadline passed first; the selector is aborted.
    TimedOut,
}

impl Selector {
    /// A selector for a `select!` of the calling coroutine or thread.
    pub(crate) fn current() -> Selector {
        Selector {
            state: AtomicUsize::new(Status::Waiting.word()),
            done: AtomicBool::new(false),
            waker: UnparkerRef::current(),
            exclusive: false,
        }
    }

    /// A selector for one plain operation, whose entry sits in one queue
    /// and is only claimed or taken out under that channel's lock (then
    /// [`Selector::wait`]'s `dequeue` must do the taking out).
    pub(crate) fn exclusive() -> Selector {
        Selector {
            exclusive: true,
            ..Selector::current()
        }
    }

    /// Claim arm `arm` for completion. Only the caller that gets `true` may
    /// touch the waiter's slots, and must then call [`Selector::finish`].
    /// Called under the lock of the channel whose queue holds the entry.
    pub(crate) fn try_claim(&self, arm: usize) -> bool {
        if self.exclusive {
            // The entry was still queued, under the lock that its owner
            // also needs to give up: nobody else can have claimed it.
            self.state
                .store(Status::Claimed(arm).word(), Ordering::Relaxed);
            return true;
        }
        self.state
            .compare_exchange(
                Status::Waiting.word(),
                Status::Claimed(arm).word(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// Is it still unclaimed? (A hint for readiness checks.)
    pub(crate) fn is_waiting(&self) -> bool {
        Status::of(self.state.load(Ordering::Acquire)) == Status::Waiting
    }

    /// Finish a claim (after releasing the channel lock): wake the waiter,
    /// then publish `done`. The waiter does not return before `done`, so it
    /// and its coroutine are alive for the wake-up; after the store the
    /// selector may be gone at any moment.
    ///
    /// # Safety
    ///
    /// `this` was claimed by the caller, and `finish` was not called yet.
    pub(crate) unsafe fn finish(this: *const Selector) {
        // SAFETY: a claimed selector lives until `done` (contract above).
        let selector = unsafe { &*this };
        // SAFETY: its owner waits for `done`, stored only after this.
        unsafe { selector.waker.unpark() };
        selector.done.store(true, Ordering::Release);
    }

    /// Start loading what [`finish`](Self::finish) will touch in the
    /// waiter's task. A hint for a claimer about to finish many.
    pub(crate) fn prefetch_waiter(&self) {
        self.waker.prefetch();
    }

    /// Give up waiting. `Err(arm)` if an arm was claimed first: then its
    /// transfer is finished (or about to be) and must be honoured.
    pub(crate) fn try_abort(&self) -> Result<(), usize> {
        let aborted = self.state.compare_exchange(
            Status::Waiting.word(),
            Status::Aborted.word(),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        match aborted.map_err(Status::of) {
            Ok(_) => Ok(()),
            Err(Status::Claimed(arm)) => {
                self.wait_done();
                Err(arm)
            }
            Err(status) => unreachable!("a selector aborted while {status:?}"),
        }
    }

    /// Make an aborted selector usable for another round of registration.
    /// Only valid once no channel queue refers to it any more.
    pub(crate) fn reset(&self) {
        self.state.store(Status::Waiting.word(), Ordering::Relaxed);
    }

    /// The claimer is between its CAS and `complete`, holding a channel lock
    /// (never across a park): it is running on another thread and finishes
    /// in a moment.
    fn wait_done(&self) {
        let mut spins = 0u32;
        while !self.done.load(Ordering::Acquire) {
            crate::loom::thread::spin(&mut spins, 64);
        }
    }

    /// Give up waiting, the way this kind of selector must (see
    /// [`Selector::try_abort`]). For an exclusive one, `dequeue` takes the
    /// entry out under its channel's lock and says whether it was still
    /// queued (not claimed).
    fn give_up(&self, dequeue: &mut dyn FnMut() -> bool) -> Result<(), usize> {
        if !self.exclusive {
            return self.try_abort();
        }
        if dequeue() {
            self.state.store(Status::Aborted.word(), Ordering::Relaxed);
            return Ok(());
        }
        self.wait_done();
        match self.fired() {
            Woken::Fired(arm) => Err(arm),
            Woken::TimedOut => unreachable!("a dequeued entry was claimed"),
        }
    }

    /// Park until an arm completes or `deadline` passes.
    ///
    /// If the caller unwinds out of here (cancellation, teardown) the
    /// selector gives up first, or the claimed transfer is awaited, so that
    /// no other thread touches the waiter's entries once this frame is gone.
    /// A `select!` still has to take its entries out of the queues; an
    /// exclusive selector's `dequeue` (see [`Selector::give_up`]) did.
    pub(crate) fn wait(
        &self,
        deadline: Option<Instant>,
        site: WaitSite,
        dequeue: &mut dyn FnMut() -> bool,
    ) -> Woken {
        /// Gives up (or awaits the claimed transfer) if the wait unwinds.
        struct OnUnwind<'a, 'b>(
            &'a Selector,
            &'a mut dyn FnMut() -> bool,
            std::marker::PhantomData<&'b ()>,
        );
        impl Drop for OnUnwind<'_, '_> {
            fn drop(&mut self) {
                let _ = self.0.give_up(self.1);
            }
        }
        /// The same, for a coroutine that shutdown abandons while it
        /// waits here (it never runs `OnUnwind::drop`): abort the selector,
        /// so that no claimer hands it a value from now on.
        unsafe fn give_up_abandoned(guard: *const ()) {
            // SAFETY: `guard` is the `OnUnwind` below, on the frozen
            // coroutine's stack; nothing else will ever touch it.
            let guard = unsafe { &mut *(guard as *mut OnUnwind<'_, '_>) };
            let _ = guard.0.give_up(guard.1);
        }
        let mut guard = OnUnwind(self, dequeue, std::marker::PhantomData);
        // SAFETY: `guard` outlives the hook (dropped in reverse order), and
        // giving up only touches the selector and the channel locks.
        let abandon_hook = unsafe {
            GiveUpGuard::install(
                self.waker.task_ptr(),
                &mut guard as *mut OnUnwind<'_, '_> as *const (),
                give_up_abandoned,
            )
        };
        let timer = deadline.and_then(crate::scheduler::wake_at);
        let woken = loop {
            if self.done.load(Ordering::Acquire) {
                break self.fired();
            }
            if !self.is_waiting() {
                // Claimed, the claimer is finishing: do not park for a
                // wake-up that may already have been given.
                self.wait_done();
                break self.fired();
            }
            match deadline {
                None => park(site),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break match self.give_up(guard.1) {
                            Ok(()) => Woken::TimedOut,
                            Err(arm) => Woken::Fired(arm),
                        };
                    }
                    crate::scheduler::task::park_until(deadline, timer.is_some(), site);
                }
            }
        };
        drop(abandon_hook); // before `guard`, which it points to, goes
        std::mem::forget(guard);
        woken
    }

    /// The arm that was claimed (after `done`).
    fn fired(&self) -> Woken {
        match Status::of(self.state.load(Ordering::Acquire)) {
            Status::Claimed(arm) => Woken::Fired(arm),
            status => unreachable!("done, but {status:?}"),
        }
    }
}
