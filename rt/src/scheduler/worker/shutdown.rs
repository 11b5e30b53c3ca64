//! A worker's part in shutdown: cancel its coroutines, then tear down
//! what is left on its own thread (see `Phase` in `scheduler/mod.rs`).

use std::sync::Arc;

use super::Worker;
use crate::scheduler::task::{self, Body, Task};

/// How long a coroutine torn down at shutdown may wait, unable to switch,
/// after every other worker finished its teardown, before its worker
/// lets the runtime's drop return without it.
const STUCK_TEARDOWN_GRACE: std::time::Duration = std::time::Duration::from_millis(100);

impl Worker {
    /// Shutdown, first phase: cancel every started coroutine homed here (it
    /// unwinds, running its defers, at its next park point).
    pub(super) fn cancel_registered(&self) {
        let tasks: Vec<Arc<Task>> = (self.registry.borrow().items())
            // SAFETY: registered, read on this worker's thread.
            .map(|entry| unsafe { entry.to_arc() })
            .collect();
        for task in tasks {
            task.cancel();
        }
    }

    /// A coroutine being torn down waits where it can neither switch nor be
    /// interrupted (a destructor mid-unwind, an uninterruptible region):
    /// let what it waits for be torn down elsewhere. Once no other worker
    /// is tearing down any more and it has kept waiting for
    /// [`STUCK_TEARDOWN_GRACE`], nothing in the runtime can end the wait
    /// (Go would report a deadlock): say so, count this worker done so
    /// that dropping the runtime returns, and keep polling every 10 ms —
    /// the thread and the runtime's memory stay, and if the wait ends
    /// after all, the teardown finishes. (A current-thread runtime's
    /// worker runs on the dropping thread: it says so and keeps waiting.)
    pub(in crate::scheduler) fn teardown_wait(&self, task: &Task) {
        if self.lingering.get() {
            std::thread::sleep(std::time::Duration::from_millis(10));
            return;
        }
        if !self.shared.only_teardown_left() {
            self.stuck_since.set(None);
            std::thread::yield_now();
            return;
        }
        let since = *self
            .stuck_since
            .get()
            .get_or_insert_with(std::time::Instant::now);
        self.stuck_since.set(Some(since));
        if since.elapsed() < STUCK_TEARDOWN_GRACE {
            std::thread::yield_now();
            return;
        }
        // A current-thread runtime's drop runs on this very thread: it
        // can only keep waiting here.
        let then = match self.local {
            true => "the current-thread runtime's drop waits with it".to_owned(),
            false => format!(
                "the runtime's drop returns, and worker {} keeps waiting with the runtime's memory",
                self.index
            ),
        };
        eprintln!(
            "rt: shutdown: {} waits, inside a destructor or an uninterruptible region, for something no coroutine can do any more; {then}",
            task.describe()
        );
        self.lingering.set(true);
        if !self.local {
            self.shared.teardown_finished(self.index, true);
        }
    }

    /// Shutdown: unwind every started coroutine homed here, on this thread
    /// (its stack must not move threads), running its destructors.
    pub(super) fn unwind_all(&self) {
        // Counted references first: dropping the queues below may drop
        // the only other owner of a registered coroutine (`Registered`).
        let mut tasks = Vec::new();
        while let Some(entry) = self.registry.borrow_mut().pop() {
            // SAFETY: registered until this pop, on this worker's thread,
            // and nothing changed owners in between.
            tasks.push(unsafe { entry.to_arc() });
        }
        drop(self.lifo.take());
        drop(std::mem::take(&mut *self.ready.borrow_mut()));
        while let Some(task) = self.unstarted.pop().or_else(|| self.take_placed()) {
            self.shared.cancel_unstarted(&task);
        }
        // Scoped children before their scopes' owners: an owner unwound
        // first would wait, without switching, for children this thread
        // has yet to tear down (other workers tear theirs down meanwhile,
        // deepest first too, so no two of them wait for each other).
        tasks.sort_by_key(|task| std::cmp::Reverse(task.scope_depth()));
        for task in tasks {
            self.stuck_since.set(None);
            let Body::Started(fiber) = task.take_body() else {
                continue;
            };
            if task.parked_uninterruptible() {
                // It blocked inside a destructor while unwinding (a forced
                // unwind from there would be a panic during unwinding, which
                // aborts the process), or inside an uninterruptible region
                // (whose wait safety depends on). Abandon it instead:
                // nothing runs on its stack again. Its task keeps its IDLE
                // reference, and through it the runtime's shared state and
                // stack slabs: they stay allocated until the process exits,
                // because channel entries may still point into its stack.
                eprintln!(
                    "rt: {} was blocked where it cannot be interrupted during shutdown; it is abandoned, not unwound",
                    task.describe()
                );
                std::mem::forget(fiber);
                // Whatever unparks it later (a neighbour torn down after
                // it) takes the IDLE reference into a queue that is then
                // dropped: keep one that nothing ever drops.
                std::mem::forget(task.clone());
                task.give_up_wait();
                task.locals.forget();
                crate::scheduler::result::complete_cancelled(&task.result);
                task.state.transition_to_done();
                continue;
            }
            task.release_idle_reference();
            task.set_unwinding();
            let outer = task::set_current(Arc::as_ptr(&task));
            let stack = fiber.unwind();
            task::set_current(outer);
            task.state.transition_to_done();
            task.release_waiter();
            self.shared.stacks.release(stack);
        }
        self.stacks.borrow_mut().flush(&self.shared.stacks);
    }
}
