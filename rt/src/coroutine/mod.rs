//! Stackful coroutines: a body running on its own pooled stack, which can
//! switch back to the worker that resumed it and be resumed later.
//!
//! This module knows nothing of queues or workers. A [`Fiber`] is resumed
//! by whoever owns it; inside it, [`suspend`] switches back to that owner,
//! saying why ([`Suspend`]). The owner (the scheduler) decides what happens
//! next using the coroutine's [`state::State`].

pub(crate) mod overflow;
pub(crate) mod root_fn;
pub(crate) mod stack;
pub mod state;

use std::any::{Any, TypeId};
use std::cell::Cell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use corosensei::{Coroutine, CoroutineResult, Yielder};

use self::stack::PooledStack;

/// Whether `payload` is corosensei's forced-unwind payload: the unwind
/// that tears down a suspended coroutine (dropping or force-unwinding it).
///
/// corosensei keeps that type private, so its `TypeId` is learned once by
/// tearing down a throwaway coroutine and looking at what unwinds.
pub(crate) fn is_forced_unwind(payload: &(dyn Any + Send)) -> bool {
    static FORCED_UNWIND: OnceLock<TypeId> = OnceLock::new();
    let forced = *FORCED_UNWIND.get_or_init(|| {
        let seen = Arc::new(Mutex::new(None));
        let record = seen.clone();
        let mut probe = corosensei::Coroutine::<(), (), ()>::new(move |yielder, ()| {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| yielder.suspend(()))) {
                *record.lock() = Some((*payload).type_id());
                resume_unwind(payload);
            }
        });
        assert!(
            probe.resume(()).as_yield().is_some(),
            "the probe suspends once"
        );
        drop(probe); // forces the unwind
        let forced = seen.lock().take();
        forced.expect("dropping a suspended coroutine unwinds it")
    });
    payload.type_id() == forced
}

/// Why a coroutine switched back to its worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Suspend {
    /// It waits for an `unpark`.
    Park,
    /// It gives the worker a chance to run others, and stays runnable.
    Yield,
}

/// What a [`Fiber::resume`] came back with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resumed {
    /// The body switched out and can be resumed again.
    Suspended(Suspend),
    /// The body returned; the fiber is done.
    Finished,
}

type Switch = Yielder<(), Suspend>;

/// Where a fiber keeps the handle it switches back through. Owned by
/// whoever owns the fiber (the task), so suspending needs no thread-local
/// lookup; set by the fiber itself when it first runs.
#[derive(Debug)]
pub(crate) struct SuspendPoint(Cell<*const Switch>);

impl SuspendPoint {
    pub(crate) const fn new() -> SuspendPoint {
        SuspendPoint(Cell::new(std::ptr::null()))
    }

    /// Switch from the running fiber back to its resumer.
    ///
    /// Must be called from inside the fiber this point belongs to. Unwinds
    /// (with corosensei's forced-unwind payload) if the fiber is being torn
    /// down while suspended.
    pub(crate) fn suspend(&self, why: Suspend) {
        let switch = self.0.get();
        assert!(!switch.is_null(), "suspend outside a running coroutine");
        // SAFETY: the pointer was set by this point's fiber on entry and
        // names the yielder in its root frame, which lives as long as the
        // fiber; the caller runs inside that fiber.
        unsafe { (*switch).suspend(why) };
    }
}

/// A coroutine body bound to a stack.
pub(crate) struct Fiber {
    /// The corosensei coroutine; its initial closure lives on its stack.
    coroutine: Coroutine<(), Suspend, (), PooledStack>,
}

impl Fiber {
    /// A fiber that will run `body` on `stack` when first resumed, and
    /// publish its switch handle in `point`.
    ///
    /// # Safety
    ///
    /// Everything `body` borrows must outlive the fiber: it must be resumed
    /// to completion or dropped (which unwinds it) before the borrow ends.
    /// `point` must outlive the fiber. `body` must not let a panic escape
    /// (the scheduler's bodies catch every panic at their root).
    pub(crate) unsafe fn new_unchecked(
        stack: PooledStack,
        point: *const SuspendPoint,
        body: impl FnOnce() + Send,
    ) -> Fiber {
        // Carried into the fiber as an address: the caller guarantees it
        // outlives the fiber.
        let point = point as usize;
        let root = move |switch: &Switch, ()| {
            // SAFETY: `point` outlives the fiber (caller's contract).
            unsafe { (*(point as *const SuspendPoint)).0.set(switch) };
            body();
        };
        // SAFETY: forwarded to our caller (lifetime of `body`'s borrows).
        let coroutine = unsafe { Coroutine::with_stack_unchecked(stack, root) };
        Fiber { coroutine }
    }

    /// Run the fiber until it suspends or finishes. Must be called on the
    /// thread that first resumed it (see `docs/scheduler.md`).
    pub(crate) fn resume(&mut self) -> Resumed {
        match self.coroutine.resume(()) {
            CoroutineResult::Yield(why) => Resumed::Suspended(why),
            CoroutineResult::Return(()) => Resumed::Finished,
        }
    }

    /// Unwind a suspended fiber to its root, running every destructor on
    /// its stack, on this thread. Returns its stack.
    pub(crate) fn unwind(mut self) -> PooledStack {
        self.coroutine.force_unwind();
        self.coroutine.into_stack()
    }

    /// The stack of a finished fiber, for reuse.
    pub(crate) fn into_stack(self) -> PooledStack {
        self.coroutine.into_stack()
    }
}
