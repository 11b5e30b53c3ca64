//! A worker without a thread of its own: a current-thread runtime's
//! (`Builder::current_thread`), run by the thread that built the runtime
//! while it is inside `block_on`, and through shutdown by the runtime's
//! drop.
//!
//! Started coroutines never change threads (`docs/scheduler.md`), so only
//! that thread may ever run this worker: every entry checks it. Between
//! two `block_on` calls nothing runs; what was woken or spawned meanwhile
//! runs at the next one, as in tokio's current-thread runtime.

use std::sync::Arc;
use std::thread;

use crossbeam_deque::Worker as Deque;

use super::{current_ptr, Worker};
use crate::scheduler::task::Task;
use crate::scheduler::Shared;

/// The one worker of a current-thread runtime. The thread that owns it
/// (the only one that may drive it) is `Shared::local_owner`.
pub(crate) struct LocalWorker {
    /// The worker's thread-owned state; `CURRENT_WORKER` points into this
    /// box while the owner drives it.
    worker: Box<Worker>,
}

// SAFETY: the worker (its `Cell`s, `RefCell`s, local deque and the
// coroutines it started) is only ever touched on its owner thread: `drive_until`
// and `shut_down` check the calling thread before touching it, and a drop
// elsewhere leaks it instead of dropping it (`shut_down`).
unsafe impl Send for LocalWorker {}
// SAFETY: as above; `&LocalWorker` gives nothing but those two methods.
unsafe impl Sync for LocalWorker {}

impl LocalWorker {
    /// Worker 0 of `shared`, owned by the calling thread.
    pub(crate) fn new(shared: Arc<Shared>, unstarted: Deque<Arc<Task>>) -> LocalWorker {
        let _ = shared.local_owner.set(thread::current().id());
        LocalWorker {
            worker: Box::new(Worker::local(shared, unstarted)),
        }
    }

    /// Why the calling thread may not drive the worker, if it may not.
    pub(crate) fn refusal(&self) -> Option<&'static str> {
        if self.worker.shared.local_owner.get() != Some(&thread::current().id()) {
            Some("a current-thread runtime runs only on the thread that built it")
        } else if !current_ptr().is_null() {
            Some("cannot block on a current-thread runtime from inside a coroutine")
        } else {
            None
        }
    }

    /// Run coroutines on the calling thread until `done()`. Panics where
    /// [`refusal`](Self::refusal) says why (before running anything).
    pub(crate) fn drive_until(&self, done: impl Fn() -> bool) {
        if let Some(why) = self.refusal() {
            panic!("rt::Runtime::block_on: {why}");
        }
        crate::panic::abort_on_panic("the current-thread worker", || {
            crate::unwind::beside_thread_unwind(|| self.worker.drive(Some(&done)));
        });
    }

    /// Shutdown (begun by the caller): cancel and tear down every coroutine
    /// on the owner thread. On any other thread nothing may run them, so
    /// they are abandoned: the worker and its coroutines are leaked, their
    /// destructors never run, and the runtime's teardown counts it done.
    pub(crate) fn shut_down(self) {
        if self.refusal().is_none() {
            crate::panic::abort_on_panic("the current-thread worker", || {
                crate::unwind::beside_thread_unwind(|| self.worker.drive(None));
            });
            return;
        }
        eprintln!(
            "rt: a current-thread runtime was dropped on a thread other than the one that built it \
             (or inside a coroutine): its coroutines are abandoned, not unwound"
        );
        // Leaked with counted references: an uncounted registry entry
        // (`Registered`) could otherwise lose its last owner when the
        // runtime drops the queues (a coroutine woken into the inbox),
        // and dropping a started task would unwind its stack here.
        for entry in self.worker.registry.borrow().items() {
            // SAFETY: registered, and every entry still has its counted
            // owner: nothing can drive this worker while its runtime is
            // being dropped (so reading the registry from this thread races
            // with nothing), a remote wake only moves an IDLE reference
            // into the inbox, and the queues are dropped after this.
            std::mem::forget(unsafe { entry.to_arc() });
        }
        let shared = self.worker.shared.clone();
        std::mem::forget(self);
        shared.teardown_finished(0, false);
    }
}
