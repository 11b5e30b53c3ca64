//! What a worker tells `rt::dump`: its coroutines, listed on its own
//! thread when a dump asks (see `scheduler/dump.rs`).

use std::sync::atomic::Ordering;

use super::Worker;
use crate::scheduler::task;

impl Worker {
    /// Answer the `rt::dump` requests in progress, if any (see `dump.rs`).
    /// Checked every `GLOBAL_QUEUE_INTERVAL` steps of a busy worker and
    /// before an idle one sleeps (a dump wakes it), not on every step.
    pub(super) fn answer_dumps(&self) {
        let remote = &self.shared.remotes[self.index];
        if remote.dump_wanted.load(Ordering::Relaxed) {
            self.answer_dumps_now();
        }
    }

    #[cold]
    fn answer_dumps_now(&self) {
        let remote = &self.shared.remotes[self.index];
        // Acquire: see the requests posted before the flag was set.
        remote.dump_wanted.swap(false, Ordering::Acquire);
        for request in self.shared.dumps.pending() {
            if request.wants(self.index) {
                request.answer(self.index, self.list_coroutines(request.now));
            }
        }
    }

    /// For `rt::dump`: this worker's coroutines — the started ones it owns
    /// and the unstarted ones in its queue. Called on this worker's thread
    /// between coroutines, or by the one coroutine running on it (which
    /// shows as running).
    pub(in crate::scheduler) fn list_coroutines(
        &self,
        now: u64,
    ) -> Vec<crate::scheduler::dump::CoroutineInfo> {
        use crate::scheduler::dump::CoroutineState;
        let running = task::current_ptr();
        let mut rows: Vec<_> = self
            .registry
            .borrow()
            .items()
            .map(|entry| {
                // SAFETY: registered, read on this worker's thread.
                let task = unsafe { entry.task() };
                let state = if std::ptr::eq(task, running) {
                    CoroutineState::Running
                } else if task.state.is_parked() {
                    CoroutineState::Parked
                } else {
                    CoroutineState::Runnable
                };
                task.snapshot(state, now)
            })
            .collect();
        // Those placed here join the FIFO, which cannot be walked: empty
        // it and refill it in order.
        while let Some(task) = self.take_placed() {
            self.unstarted.push(task);
        }
        let mut unstarted = Vec::new();
        while let Some(task) = self.unstarted.pop() {
            unstarted.push(task);
        }
        let refilled = !unstarted.is_empty();
        for task in unstarted {
            rows.push(task.snapshot(CoroutineState::Unstarted, now));
            self.unstarted.push(task);
        }
        if refilled {
            // For a moment the queue looked empty to searchers: publish it
            // again (rule 1 of `idle.rs`, like a batch in `take_batch`).
            self.shared.notify_parked();
        }
        rows
    }
}
