//! Stackful coroutines: a body running on its own pooled stack, which can
//! switch back to the worker that resumed it and be resumed later.
//!
//! This module knows nothing of queues or workers. A [`Fiber`] is resumed
//! by whoever owns it; inside it, [`suspend`] switches back to that owner,
//! saying why ([`Suspend`]). The owner (the scheduler) decides what happens
//! next using the coroutine's [`state::State`].

pub(crate) mod stack;
pub mod state;

use std::cell::Cell;

use corosensei::{Coroutine, CoroutineResult, Yielder};

use self::stack::PooledStack;

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

/// A coroutine body bound to a stack.
pub(crate) struct Fiber {
    /// The corosensei coroutine; its initial closure lives on its stack.
    coroutine: Coroutine<(), Suspend, (), PooledStack>,
}

thread_local! {
    /// The yielder of the fiber running on this thread, null outside one.
    static CURRENT: Cell<*const Switch> = const { Cell::new(std::ptr::null()) };
}

// LLVM may cache the address of a thread-local across a call that switches
// stacks; these accessors are never inlined so every use re-reads it.
#[inline(never)]
fn current_switch() -> *const Switch {
    CURRENT.with(Cell::get)
}

#[inline(never)]
fn set_current_switch(switch: *const Switch) -> *const Switch {
    CURRENT.with(|c| c.replace(switch))
}

impl Fiber {
    /// A fiber that will run `body` on `stack` when first resumed.
    ///
    /// # Safety
    ///
    /// Everything `body` borrows must outlive the fiber: it must be resumed
    /// to completion or dropped (which unwinds it) before the borrow ends.
    /// `body` must not let a panic escape (the scheduler's bodies catch
    /// every panic at their root).
    pub(crate) unsafe fn new_unchecked(stack: PooledStack, body: impl FnOnce() + Send) -> Fiber {
        let root = move |switch: &Switch, ()| {
            set_current_switch(switch);
            body();
        };
        // SAFETY: forwarded to our caller (lifetime of `body`'s borrows).
        let coroutine = unsafe { Coroutine::with_stack_unchecked(stack, root) };
        Fiber { coroutine }
    }

    /// Run the fiber until it suspends or finishes. Must be called on the
    /// thread that first resumed it (see `docs/scheduler.md`).
    pub(crate) fn resume(&mut self) -> Resumed {
        // The fiber's own yielder is installed on entry (first resume) and
        // restored after each suspend; save the caller's so nesting works.
        let outer = current_switch();
        let result = self.coroutine.resume(());
        set_current_switch(outer);
        match result {
            CoroutineResult::Yield(why) => Resumed::Suspended(why),
            CoroutineResult::Return(()) => Resumed::Finished,
        }
    }

    /// Unwind a suspended fiber to its root, running every destructor on
    /// its stack, on this thread. Returns its stack.
    pub(crate) fn unwind(mut self) -> PooledStack {
        let outer = current_switch();
        self.coroutine.force_unwind();
        set_current_switch(outer);
        self.coroutine.into_stack()
    }

    /// The stack of a finished fiber, for reuse.
    pub(crate) fn into_stack(self) -> PooledStack {
        self.coroutine.into_stack()
    }
}

/// Whether this thread is running a fiber right now.
pub(crate) fn in_fiber() -> bool {
    !current_switch().is_null()
}

/// Switch from the running fiber back to its resumer.
///
/// Panics if called outside a fiber. Unwinds (with corosensei's forced
/// unwind payload) if the fiber is being torn down while suspended.
pub(crate) fn suspend(why: Suspend) {
    let switch = current_switch();
    assert!(!switch.is_null(), "suspend called outside a coroutine");
    // Back on this fiber the resumer has reset CURRENT: reinstall ours, on
    // a normal return and also when the fiber resumes into a forced unwind
    // (its destructors then still run "inside" the fiber).
    struct Reinstall(*const Switch);
    impl Drop for Reinstall {
        fn drop(&mut self) {
            set_current_switch(self.0);
        }
    }
    let _reinstall = Reinstall(switch);
    // SAFETY: CURRENT is only non-null while the fiber whose root frame owns
    // this yielder runs on this thread, so the yielder is alive.
    unsafe { (*switch).suspend(why) };
}
