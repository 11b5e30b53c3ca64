//! Who to wake when a wait ends: [`Unparker`] (counted) and [`UnparkerRef`]
//! (uncounted), and the give-up hook a wait installs for shutdown.

use std::fmt;
use std::sync::Arc;

use super::current::{current_ptr, with_current};
use super::Task;

/// Who to wake: a coroutine, or a plain OS thread blocked outside the runtime.
///
/// Every blocking operation in rt follows one pattern: record
/// `Unparker::current()` where the waker will find it, re-check the
/// condition, then [`park`] in a loop until the condition holds. `park` may
/// return spuriously; an `unpark` is never lost (it is remembered if it
/// arrives before the `park`).
#[derive(Clone)]
pub(crate) enum Unparker {
    /// A coroutine, woken through its state word.
    Task(Arc<Task>),
    /// A thread outside any runtime, woken with `Thread::unpark`.
    Thread(crate::loom::thread::Thread),
}

impl Unparker {
    /// The coroutine's task, or null for a thread.
    pub(crate) fn task_ptr(&self) -> *const Task {
        match self {
            Unparker::Task(task) => Arc::as_ptr(task),
            Unparker::Thread(_) => std::ptr::null(),
        }
    }

    /// The unparker for the caller: its coroutine, or its thread.
    pub(crate) fn current() -> Unparker {
        with_current(|task| match task {
            Some(task) => Unparker::Task(task.clone()),
            None => Unparker::Thread(crate::loom::thread::current()),
        })
    }

    /// Wake the coroutine or thread.
    pub(crate) fn unpark(&self) {
        match self {
            Unparker::Task(task) => task.unpark(),
            Unparker::Thread(thread) => thread.unpark(),
        }
    }
}

impl fmt::Debug for Unparker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unparker::Task(task) => write!(f, "Unparker({})", task.describe()),
            Unparker::Thread(_) => f.write_str("Unparker(thread)"),
        }
    }
}

/// How a wait gives up from outside: `call(data)`.
#[derive(Clone, Copy)]
pub(super) struct GiveUp {
    /// The wait's own state (on the coroutine's stack).
    pub(super) data: *const (),
    /// Gives up the wait described by `data`.
    pub(super) call: unsafe fn(*const ()),
}

/// While alive, tells the running coroutine's task how to give up the wait
/// in progress if shutdown abandons the coroutine parked in it (see
/// `docs/interruption.md`, "Shutdown"): the same thing the wait's unwind
/// guard would do — leave the channel's queue, pass a notification on,
/// detach a join — done by the home worker instead, since an abandoned
/// coroutine never runs its guards. Waits do not nest (nothing that gives
/// a wait up parks), so the hook is set and cleared, not stacked. A no-op
/// outside coroutines.
pub(crate) struct GiveUpGuard(*const Task);

impl GiveUpGuard {
    /// Install `call(data)` as the running coroutine's give-up hook.
    ///
    /// # Safety
    ///
    /// `data` must stay valid while the guard lives, and `call(data)` must
    /// be sound on the coroutine's home thread while the coroutine is
    /// suspended for good (it only touches `data` and thread-safe shared
    /// state). `task` is the running coroutine's task, or null.
    #[inline]
    pub(crate) unsafe fn install(
        task: *const Task,
        data: *const (),
        call: unsafe fn(*const ()),
    ) -> GiveUpGuard {
        // SAFETY: `task` is the running coroutine's (caller's contract),
        // alive while it runs.
        if let Some(task) = unsafe { task.as_ref() } {
            task.give_up.set(Some(GiveUp { data, call }));
        }
        GiveUpGuard(task)
    }
}

impl Drop for GiveUpGuard {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard lives on the coroutine's stack, so its task is
        // alive and this runs on its thread.
        if let Some(task) = unsafe { self.0.as_ref() } {
            task.give_up.set(None);
        }
    }
}

/// [`Unparker`] without the reference count (as a raw pointer is to an
/// `Arc`): for a waiter that cannot stop waiting before the waker is done
/// with it (see `chan/selector.rs`), so it saves two atomic operations per
/// wait, and waking through it is `unsafe`.
#[derive(Debug)]
pub(crate) enum UnparkerRef {
    /// A coroutine (inside its `Arc`).
    Task(*const Task),
    /// A thread outside any runtime.
    Thread(crate::loom::thread::Thread),
}

impl UnparkerRef {
    /// The coroutine's task, or null for a thread.
    pub(crate) fn task_ptr(&self) -> *const Task {
        match self {
            UnparkerRef::Task(task) => *task,
            UnparkerRef::Thread(_) => std::ptr::null(),
        }
    }

    /// The calling coroutine or thread.
    pub(crate) fn current() -> UnparkerRef {
        let task = current_ptr();
        if task.is_null() {
            UnparkerRef::Thread(crate::loom::thread::current())
        } else {
            UnparkerRef::Task(task)
        }
    }

    /// Wake it.
    ///
    /// # Safety
    ///
    /// The coroutine must still be alive: its owner is known to be waiting
    /// for a signal that the caller gives only after this returns.
    pub(crate) unsafe fn unpark(&self) {
        match self {
            UnparkerRef::Task(task) => {
                // SAFETY: alive per the contract; tasks live in an `Arc`.
                unsafe { &**task }.unpark();
            }
            UnparkerRef::Thread(thread) => thread.unpark(),
        }
    }

    /// Start loading what [`unpark`](Self::unpark) will touch — a task's
    /// state word, home and runtime — for a caller that claims many
    /// waiters before it wakes them. A hint only: reads nothing.
    pub(crate) fn prefetch(&self) {
        if let UnparkerRef::Task(task) = self {
            let at = *task as usize;
            for offset in [
                std::mem::offset_of!(Task, state),
                std::mem::offset_of!(Task, home),
                std::mem::offset_of!(Task, shared),
            ] {
                crate::scheduler::prefetch::line(at + offset);
            }
        }
    }
}
