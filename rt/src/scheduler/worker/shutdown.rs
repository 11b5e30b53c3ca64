//! A worker's part in shutdown: cancel its coroutines, then tear down
//! what is left on its own thread (see `Phase` in `scheduler/mod.rs`).

use std::sync::Arc;

use super::Worker;
use crate::scheduler::task::Task;

/// How long a coroutine torn down at shutdown may wait, unable to switch,
/// after every other worker finished its teardown, before its worker
/// lets the runtime's drop return without it.
const STUCK_TEARDOWN_GRACE: std::time::Duration = std::time::Duration::from_millis(100);

impl Worker {
    /// Shutdown, first phase: cancel every started coroutine homed here (it
    /// unwinds, running its defers, at its next park point).
    pub(super) fn cancel_registered(&self) {
        let tasks: Vec<Arc<Task>> = self.registry.borrow().items().cloned().collect();
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
    /// after all, the teardown finishes.
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
        eprintln!(
            "rt: shutdown: {} waits, inside a destructor or an uninterruptible region, for something no coroutine can do any more; the runtime's drop returns, and worker {} keeps waiting with the runtime's memory",
            task.describe(),
            self.index
        );
        self.lingering.set(true);
        self.shared.teardown_finished(self.index, true);
    }
}
