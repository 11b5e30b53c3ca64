//! The task running on this thread, read through never-inlined accessors
//! (LLVM may cache a thread-local's address across a stack switch).

use std::cell::Cell;
use std::sync::Arc;

use super::Task;

thread_local! {
    /// The task running on this thread; null outside coroutines.
    static CURRENT: Cell<*const Task> = const { Cell::new(std::ptr::null()) };
}

/// The running task. Never inlined: LLVM may cache the address of a
/// thread-local across a call that switches stacks (see docs/scheduler.md),
/// so every use goes through a call that re-reads it.
#[inline(never)]
pub(in crate::scheduler) fn current_ptr() -> *const Task {
    CURRENT.with(Cell::get)
}

#[inline(never)]
pub(in crate::scheduler) fn set_current(task: *const Task) -> *const Task {
    CURRENT.with(|c| c.replace(task))
}

/// [`set_current`] inlined, for the worker loop alone: `Worker::drive`
/// runs on a native thread stack (a worker thread, or the owner of a
/// current-thread runtime — `LocalWorker` refuses to be driven from inside
/// a coroutine), so a resume returns to the thread that made it and a
/// thread-local address cached across the switch is still this thread's.
/// Twice per switch.
#[inline(always)]
pub(in crate::scheduler) fn set_current_in_worker_loop(task: *const Task) -> *const Task {
    CURRENT.with(|c| c.replace(task))
}

/// The running task, if this thread runs one. The reference is valid while
/// the caller runs inside that task (the worker keeps it alive).
pub(crate) fn current_task() -> Option<&'static Task> {
    // SAFETY: see above; CURRENT points into a live `Arc<Task>`.
    unsafe { current_ptr().as_ref() }
}

/// The running task, as a counted reference.
pub(crate) fn current_arc() -> Option<Arc<Task>> {
    with_current(|task| task.cloned())
}

/// The coroutine running on this thread, if `address` is in the guard
/// page below its stack. Called from the SIGSEGV handler: reads only a
/// thread-local and plain fields of the running task.
pub(crate) fn overflow_at(address: usize) -> Option<crate::coroutine::overflow::Overflow<'static>> {
    // SAFETY: as in `current_task`; the task runs (or faulted) on this thread.
    let task = unsafe { current_ptr().as_ref() }?;
    let bottom = task.stack_bottom.get();
    let guard = task.shared.stacks.guard_size();
    if bottom == 0 || address >= bottom || address < bottom - guard {
        return None;
    }
    Some(crate::coroutine::overflow::Overflow {
        id: task.id.as_u64(),
        name: task.name.as_deref(),
        stack_size: task.shared.stacks.stack_size(),
    })
}

/// Whether the caller runs inside a coroutine.
pub(crate) fn in_coroutine() -> bool {
    !current_ptr().is_null()
}

/// Run `f` with the running task, if this thread runs one.
pub(super) fn with_current<R>(f: impl FnOnce(Option<&Arc<Task>>) -> R) -> R {
    let ptr = current_ptr();
    if ptr.is_null() {
        return f(None);
    }
    // SAFETY: CURRENT points into an `Arc<Task>` that the worker keeps alive
    // while the task runs; we rebuild a borrowed Arc without touching the
    // count (ManuallyDrop) so `f` can clone it cheaply.
    let arc = std::mem::ManuallyDrop::new(unsafe { Arc::from_raw(ptr) });
    f(Some(&arc))
}
