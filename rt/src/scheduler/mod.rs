//! M:N scheduling: worker threads, run queues, stealing, idle parking.
//!
//! Where a coroutine waits to run depends on whether it has started:
//!
//! - **Unstarted** coroutines (fresh spawns) go to the spawning worker's
//!   `crossbeam-deque` FIFO, or to the shared injector when spawned from
//!   outside the runtime. Idle workers steal them in batches.
//! - **Started** coroutines are pinned to the worker they first ran on
//!   (their *home*): LLVM may cache the address of a thread-local across a
//!   call that switches stacks, and std's panic count is per thread, so a
//!   stack that has run on thread A must never be resumed on thread B. A
//!   started coroutine woken on its home worker goes to that worker's LIFO
//!   slot (the next thing it runs: a message ping-pong stays hot in cache),
//!   else to its home's `inbox`, and the home worker is unparked.
//!
//! See `docs/scheduler.md` for the design and `idle.rs` for the wake rules.

pub(crate) mod dump;
mod idle;
mod list;
pub(crate) mod locals;
pub(crate) mod monitor;
pub(crate) mod prefetch;
mod probe;
pub(crate) mod reactor;
pub(crate) mod registry;
pub(crate) mod result;
mod sleeper;
pub(crate) mod task;
mod timers;
pub(crate) mod waiter;
mod worker;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use crossbeam_deque::{Injector, Steal, Stealer};
use crossbeam_utils::CachePadded;

pub use self::idle::Idle;
#[cfg(loom)]
pub use self::list::{Inbox, Queue};
use self::reactor::Reactor;
pub use self::sleeper::{AfterWake, Sleeper};
use self::task::Body;
use self::task::{CoroutineId, Task};
use crate::coroutine::stack::StackPool;

/// A runtime's life, in order; it only moves forward.
///
/// 1. `Running`: normal operation.
/// 2. `Cancelling` (`begin_shutdown`): every worker cancels the coroutines
///    homed on it (one pass each, counted in `cancel_passes`); unstarted
///    ones are cancelled before they run. Cancelled coroutines unwind at
///    their next park point, running their deferred closures, which may
///    still park and wait for each other.
/// 3. `Teardown`: once every worker made its pass and all are idle at once
///    (`is_quiescent`), what is left is unwound on its worker without
///    switching (or abandoned, if it waits inside an unwind or a masked
///    region), and the workers exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Phase {
    /// 1: normal operation.
    Running = 0,
    /// 2: every coroutine is being cancelled.
    Cancelling = 1,
    /// 3: what is left is unwound without switching; workers exit.
    Teardown = 2,
}

impl Phase {
    fn from_u8(phase: u8) -> Phase {
        match phase {
            0 => Phase::Running,
            1 => Phase::Cancelling,
            _ => Phase::Teardown,
        }
    }
}

/// What one worker offers to the others.
struct Remote {
    /// Started coroutines homed here, woken from other threads.
    inbox: list::Inbox<list::TaskList>,
    /// Steals unstarted coroutines from the worker's local FIFO.
    stealer: Stealer<Arc<Task>>,
    /// Where the worker sleeps when idle (or in `reactor`, see there).
    sleeper: Sleeper,
    /// Readiness of the sockets the worker's coroutines wait on.
    reactor: Reactor,
    /// How many coroutines are counted on the worker, and those placed on
    /// it by others (`worker/placement.rs`). Written by other workers:
    /// on its own lines.
    load: CachePadded<worker::Load>,
    /// An `rt::dump` waits for this worker's answer (see `dump.rs`).
    dump_wanted: AtomicBool,
    /// Asks the worker's thread what it runs (see `probe.rs`).
    pub(crate) probe: probe::Probe,
    /// Metrics, written by the owner only (plain load + store, no
    /// read-modify-write), on their own cache line so the writes cost no
    /// sharing.
    counters: CachePadded<Counters>,
}

/// One worker's metric counters (see `crate::metrics`), and whether it
/// makes progress (for the monitor, `monitor.rs`).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) spawned: AtomicU64,
    pub(crate) finished: AtomicU64,
    /// Coroutines that started on this worker (made it their home).
    pub(crate) started: AtomicU64,
    pub(crate) steals: AtomicU64,
    /// Coroutines taken from the inbox (woken by another thread).
    pub(crate) remote_wakes: AtomicU64,
    /// Coroutines resumed so far: unchanged for long = stuck in one.
    pub(crate) resumes: AtomicU64,
    /// Coroutines that switched back out (parked, yielded, finished):
    /// one less than `resumes` while the worker runs a coroutine, so that
    /// time the worker spends in its own code (starting coroutines) does
    /// not make a thief think it is stuck in one.
    pub(crate) switches: AtomicU64,
    /// The worker sleeps (no resume for long is then no news).
    pub(crate) idle: AtomicBool,
}

impl Counters {
    /// Add one; only the owning worker writes.
    pub(crate) fn bump(counter: &AtomicU64) {
        Self::add(counter, 1);
    }

    /// Add `n`; only the owning worker writes.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.store(counter.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }
}

/// State shared by all workers of one runtime.
pub(crate) struct Shared {
    /// One entry per worker, by index.
    remotes: Box<[Remote]>,
    /// Unstarted coroutines spawned from outside the runtime's workers.
    injector: Injector<Arc<Task>>,
    /// Which workers sleep or search.
    idle: Idle,
    /// The coroutine stacks.
    pub(crate) stacks: StackPool,
    /// A [`Phase`], as its `u8` (see `begin_shutdown`). Read
    /// by every worker on every scheduling step: kept apart from written
    /// fields.
    phase: CachePadded<AtomicU8>,
    /// Finished tasks' memory beyond what the workers cache (see
    /// `Worker::recycle`).
    recycled_tasks: parking_lot::Mutex<Vec<list::TaskList>>,
    /// Whether `recycled_tasks` may be non-empty: a hint that spares an
    /// empty pool's lock on every spawn. Kept apart from hot fields.
    has_recycled_tasks: CachePadded<AtomicBool>,
    /// Coroutines spawned from outside the workers (a metric).
    spawned_outside: AtomicU64,
    /// Workers still tearing down (see `teardown_finished`), under a lock
    /// the runtime's drop waits on.
    tearing_down: parking_lot::Mutex<usize>,
    /// Signalled when `tearing_down` drops.
    teardown_progress: parking_lot::Condvar,
    /// Per worker: it gave up on a coroutine stuck in its teardown, and its
    /// thread is not to be joined.
    lingering: Box<[AtomicBool]>,
    /// Workers that have cancelled their coroutines since shutdown began.
    /// Teardown waits for all of them: a worker still asleep when shutdown
    /// began must cancel its coroutines (which then run their cleanup,
    /// and may park) before anything is torn down.
    cancel_passes: std::sync::atomic::AtomicUsize,
    /// Where a socket first waited on by a thread outside the workers is
    /// registered: round robin (see `register_io`).
    next_io_worker: std::sync::atomic::AtomicUsize,
    /// Coarse time, for `rt::dump`'s "parked for".
    pub(crate) clock: monitor::Clock,
    /// A current-thread runtime's owner: the only thread that runs its
    /// coroutines (see `worker/local.rs`).
    pub(crate) local_owner: std::sync::OnceLock<std::thread::ThreadId>,
    /// `rt::dump` requests the workers have yet to answer.
    pub(crate) dumps: dump::Requests,
}

impl Shared {
    /// Shared state for `num_workers` workers whose local FIFOs are
    /// stolen from through `stealers`.
    pub(crate) fn new(stealers: Vec<Stealer<Arc<Task>>>, stacks: StackPool) -> io::Result<Shared> {
        let num_workers = stealers.len();
        Ok(Shared {
            remotes: stealers
                .into_iter()
                .map(|stealer| -> io::Result<Remote> {
                    Ok(Remote {
                        inbox: list::Inbox::default(),
                        stealer,
                        sleeper: Sleeper::new(),
                        reactor: Reactor::new()?,
                        load: CachePadded::new(worker::Load::default()),
                        dump_wanted: AtomicBool::new(false),
                        probe: probe::Probe::default(),
                        counters: CachePadded::new(Counters::default()),
                    })
                })
                .collect::<io::Result<_>>()?,
            injector: Injector::new(),
            idle: Idle::new(num_workers),
            stacks,
            phase: CachePadded::new(AtomicU8::new(Phase::Running as u8)),
            recycled_tasks: parking_lot::Mutex::new(Vec::new()),
            has_recycled_tasks: CachePadded::new(AtomicBool::new(false)),
            spawned_outside: AtomicU64::new(0),
            cancel_passes: std::sync::atomic::AtomicUsize::new(0),
            tearing_down: parking_lot::Mutex::new(num_workers),
            teardown_progress: parking_lot::Condvar::new(),
            lingering: (0..num_workers).map(|_| AtomicBool::new(false)).collect(),
            next_io_worker: std::sync::atomic::AtomicUsize::new(0),
            clock: monitor::Clock::new(),
            local_owner: std::sync::OnceLock::new(),
            dumps: dump::Requests::default(),
        })
    }

    /// Wake worker `index` if it sleeps, wherever it sleeps.
    fn unpark_worker(&self, index: usize) {
        let remote = &self.remotes[index];
        match remote.sleeper.wake() {
            AfterWake::WakePoller => remote.reactor.wake(),
            AfterWake::Done => {}
        }
    }

    /// Register socket `fd` for readiness reported to `state`, with the
    /// reactor of the calling coroutine's home worker (round robin from a
    /// thread outside the workers). Returns the worker and the token, for
    /// [`deregister_io`](Self::deregister_io); `Ok(None)` after
    /// [`shut_down_io`](Self::shut_down_io).
    pub(crate) fn register_io(
        &self,
        fd: std::os::fd::RawFd,
        state: &Arc<reactor::IoState>,
    ) -> io::Result<Option<(usize, usize)>> {
        let own = worker::current_of(self).map(Worker::index);
        let index = own.unwrap_or_else(|| {
            self.next_io_worker.fetch_add(1, Ordering::Relaxed) % self.remotes.len()
        });
        let Some((token, first)) = self.remotes[index].reactor.register(fd, state)? else {
            return Ok(None);
        };
        if first && own != Some(index) {
            // It may sleep on its sleeper: make it sleep in its poller.
            self.unpark_worker(index);
        }
        Ok(Some((index, token)))
    }

    /// Undo [`register_io`](Self::register_io) (before the socket closes).
    pub(crate) fn deregister_io(&self, fd: std::os::fd::RawFd, (index, token): (usize, usize)) {
        self.remotes[index].reactor.deregister(fd, token);
    }

    /// Re-arm a registration made by [`register_io`](Self::register_io)
    /// (see `Reactor::rearm`).
    #[cfg(feature = "hook")]
    pub(crate) fn rearm_io(
        &self,
        fd: std::os::fd::RawFd,
        (index, token): (usize, usize),
    ) -> io::Result<()> {
        self.remotes[index].reactor.rearm(fd, token)
    }

    /// The workers are gone: wake every socket's waiters; from now on
    /// sockets wait on their own descriptors (`reactor::wait_on_fd`).
    pub(crate) fn shut_down_io(&self) {
        self.remotes.iter().for_each(|r| r.reactor.shut_down());
    }

    /// Whether [`shut_down_io`](Self::shut_down_io) ran.
    pub(crate) fn is_io_shut_down(&self) -> bool {
        // All at once, in the same call: the first says it for all.
        self.remotes[0].reactor.is_shut_down()
    }

    /// Create a coroutine running `body` and queue it.
    ///
    /// # Safety
    ///
    /// Everything `body` borrows must outlive the coroutine (the caller
    /// waits for it, as `block_on` and `scope` do), or `body: 'static`.
    pub(crate) unsafe fn spawn(
        self: &Arc<Self>,
        name: Option<Box<str>>,
        spawned_at: &'static std::panic::Location<'static>,
        body: impl FnOnce() + Send,
    ) -> io::Result<Arc<Task>> {
        let worker = worker::current_of(self);
        let stack = match worker {
            Some(worker) => worker.acquire_stack()?,
            None => self.stacks.acquire()?,
        };
        let unstarted = Body::Unstarted { stack };
        let id = CoroutineId::next();
        let task = match worker.and_then(Worker::take_recycled) {
            Some(task) => {
                debug_assert_eq!(Arc::strong_count(&task), 1, "recycled tasks are unshared");
                // SAFETY: a recycled task is unique: `Worker::recycle` keeps
                // only tasks counted once (after an Acquire fence pairing
                // with the other owners' release), no `Weak<Task>` is ever
                // made, and the recycled lists own their tasks alone.
                // (`Arc::get_mut` would check with a read-modify-write of
                // the count, on a line that the worker that ran the task
                // wrote last.)
                let reused = unsafe { &mut *Arc::as_ptr(&task).cast_mut() };
                reused.reuse(id, name, spawned_at, unstarted);
                // SAFETY: that everything `body` borrows outlives the task
                // is our caller's contract.
                unsafe { reused.set_root(body) };
                task
            }
            None => {
                let mut task = Task::new(self.clone(), id, name, spawned_at, unstarted);
                // SAFETY: as above.
                unsafe { task.set_root(body) };
                Arc::new(task)
            }
        };
        match worker {
            Some(worker) => {
                Counters::bump(&self.remotes[worker.index()].counters.spawned);
                match worker.place() {
                    here if here == worker.index() => {
                        worker.push_unstarted(task.clone());
                        self.notify_parked();
                    }
                    there => self.push_placed(there, task.clone()),
                }
            }
            None => {
                self.spawned_outside.fetch_add(1, Ordering::Relaxed);
                self.injector.push(task.clone());
                self.notify_parked();
            }
        }
        Ok(task)
    }

    /// Queue a started coroutine that an `unpark` made runnable.
    #[inline]
    fn schedule_woken(&self, task: Arc<Task>) {
        let home = task.home().expect("only started coroutines park");
        match worker::current_of(self) {
            Some(worker) if worker.index() == home => worker.push_woken(task),
            _ => self.schedule_remote(task, home),
        }
    }

    /// [`schedule_woken`](Self::schedule_woken) when the caller is not the
    /// coroutine's home worker running its loop (another thread, or the
    /// home thread of a current-thread runtime between two `block_on`s):
    /// its inbox, and a wake.
    #[inline(never)]
    fn schedule_remote(&self, task: Arc<Task>, home: usize) {
        self.remotes[home].inbox.push(task);
        self.unpark_worker(home);
    }

    /// Wake a parked worker if shared work may be waiting and nobody searches.
    fn notify_parked(&self) {
        if let Some(index) = self.idle.worker_to_notify() {
            self.unpark_worker(index);
        }
    }

    /// Shutdown: whether every worker has cancelled its coroutines and is
    /// asleep with every queue empty, so no coroutine can run again
    /// (unless a thread outside the runtime wakes one).
    fn is_quiescent(&self) -> bool {
        self.cancel_passes.load(Ordering::Acquire) == self.remotes.len()
            && self.idle.all_parked_and(|| {
                !self.has_shared_work() && self.remotes.iter().all(|r| r.inbox.is_empty())
            })
    }

    /// Whether any unstarted coroutine waits in a shared queue.
    fn has_shared_work(&self) -> bool {
        self.has_shared_work_besides(|_| false)
    }

    /// Whether any unstarted coroutine waits in the injector or in a
    /// worker's queues (its own or its placed queue: a placer wakes only
    /// the worker it placed on, whose thread may be blocked), not counting
    /// the workers `skip` names.
    fn has_shared_work_besides(&self, skip: impl Fn(usize) -> bool) -> bool {
        !self.injector.is_empty()
            || (self.remotes.iter().enumerate())
                .any(|(i, r)| !skip(i) && (!r.stealer.is_empty() || !r.load.placed.is_empty()))
    }

    /// Whether shutdown has begun.
    pub(crate) fn is_shutdown(&self) -> bool {
        self.phase.load(Ordering::Acquire) != Phase::Running as u8
    }

    fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Acquire))
    }

    /// Begin shutdown. First every coroutine is *cancelled*: it unwinds at
    /// its next park point, running its deferred closures, which may still
    /// park and wait for each other; coroutines that have not started are
    /// cancelled before they run. When every worker is idle at once, what
    /// is left is *torn down*: unwound on its worker with no more
    /// switching, and the workers exit.
    pub(crate) fn begin_shutdown(&self) {
        self.set_phase(Phase::Cancelling);
    }

    fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Release);
        (0..self.remotes.len()).for_each(|index| self.unpark_worker(index));
    }

    /// After the workers exited: cancel every coroutine still queued. None
    /// of them has started (started ones were unwound by their home
    /// worker), so this only drops their closures, which cancels their joins.
    pub(crate) fn drain_queues(&self) {
        let drain = |steal: &dyn Fn() -> Steal<Arc<Task>>| loop {
            match steal() {
                Steal::Success(task) => self.cancel_unstarted(&task),
                Steal::Retry => continue,
                Steal::Empty => break,
            }
        };
        // Recycled tasks hold the runtime (`Arc<Shared>`): let it go.
        self.recycled_tasks.lock().clear();
        drain(&|| self.injector.steal());
        for remote in self.remotes.iter() {
            drain(&|| remote.stealer.steal());
            drain(&|| remote.load.placed.steal());
            drop(remote.inbox.drain());
        }
    }

    /// Drop the closure of a coroutine that never ran (its join then reports
    /// "cancelled") and recycle its stack.
    fn cancel_unstarted(&self, task: &Task) {
        if let Body::Unstarted { stack } = task.take_body() {
            task.clear_root();
            self.stacks.release(stack);
            self::result::complete_cancelled(&task.result);
        }
    }

    /// Worker `index` finished its teardown, or (`lingering`) gave up
    /// waiting for a coroutine stuck in it.
    pub(crate) fn teardown_finished(&self, index: usize, lingering: bool) {
        self.lingering[index].store(lingering, Ordering::Release);
        let mut left = self.tearing_down.lock();
        *left -= 1;
        self.teardown_progress.notify_all();
    }

    /// Whether the caller's worker is the only one still tearing down.
    fn only_teardown_left(&self) -> bool {
        *self.tearing_down.lock() <= 1
    }

    /// Shutdown: wait until every worker finished its teardown or gave up
    /// on a stuck coroutine; returns which workers' threads may be joined.
    pub(crate) fn wait_for_teardown(&self) -> Vec<bool> {
        let mut left = self.tearing_down.lock();
        while *left > 0 {
            self.teardown_progress.wait(&mut left);
        }
        self.lingering
            .iter()
            .map(|l| !l.load(Ordering::Acquire))
            .collect()
    }

    /// The scavenger: free the memory of finished tasks kept for reuse
    /// beyond what the workers cache, and let the allocator give back what
    /// is free.
    pub(crate) fn release_recycled_tasks(&self) {
        let lists = std::mem::take(&mut *self.recycled_tasks.lock());
        if !lists.is_empty() {
            self.has_recycled_tasks.store(false, Ordering::Relaxed);
            drop(lists);
        }
        // Also what the coroutines themselves freed (their buffers).
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only returns free heap memory to the OS.
        unsafe {
            libc::malloc_trim(0);
        }
    }

    /// Panics if waiting here for `task` to finish could never end: the
    /// calling thread owns `task`'s current-thread runtime and is not
    /// running it (only that thread could).
    #[inline]
    pub(crate) fn assert_may_wait_for(task: &task::Task) {
        let shared = &task.shared;
        let Some(&owner) = shared.local_owner.get() else {
            return; // not a current-thread runtime
        };
        // A coroutine (of another runtime on this thread) only parks: this
        // thread may drive `task`'s runtime meanwhile.
        if owner == std::thread::current().id()
            && task::current_task().is_none()
            && !shared.is_own_worker()
            && !task.result.is_complete()
        {
            panic!(
                "rt: waiting outside block_on for a coroutine of a current-thread runtime this \
                 thread owns would wait forever (only this thread runs it): join it inside block_on"
            );
        }
    }

    /// How many workers the runtime has.
    pub(crate) fn workers(&self) -> usize {
        self.remotes.len()
    }

    /// Whether the calling thread is one of this runtime's workers.
    pub(crate) fn is_own_worker(&self) -> bool {
        worker::current_of(self).is_some()
    }

    /// Total coroutines spawned.
    pub(crate) fn spawned(&self) -> u64 {
        let on_workers: u64 = self
            .remotes
            .iter()
            .map(|r| r.counters.spawned.load(Ordering::Relaxed))
            .sum();
        on_workers + self.spawned_outside.load(Ordering::Relaxed)
    }

    /// A snapshot of the counters and queue depths.
    pub(crate) fn metrics(&self) -> crate::metrics::Metrics {
        let workers: Vec<crate::metrics::WorkerMetrics> = self
            .remotes
            .iter()
            .map(|r| {
                let c = &r.counters;
                crate::metrics::WorkerMetrics {
                    spawned: c.spawned.load(Ordering::Relaxed),
                    finished: c.finished.load(Ordering::Relaxed),
                    homed: c
                        .started
                        .load(Ordering::Relaxed)
                        .saturating_sub(c.finished.load(Ordering::Relaxed)),
                    // Every resume ends in a park, a yield or the end.
                    parks: c
                        .resumes
                        .load(Ordering::Relaxed)
                        .saturating_sub(c.finished.load(Ordering::Relaxed)),
                    steals: c.steals.load(Ordering::Relaxed),
                    remote_wakes: c.remote_wakes.load(Ordering::Relaxed),
                    queue_depth: r.stealer.len() + r.load.placed.len() + r.inbox.len(),
                }
            })
            .collect();
        let finished: u64 = workers.iter().map(|w| w.finished).sum();
        let spawned = self.spawned();
        crate::metrics::Metrics {
            live_coroutines: spawned.saturating_sub(finished),
            spawned,
            parks: workers.iter().map(|w| w.parks).sum(),
            steals: workers.iter().map(|w| w.steals).sum(),
            injector_depth: self.injector.len(),
            workers,
        }
    }

    /// This worker's counters.
    pub(crate) fn counters(&self, worker: usize) -> &Counters {
        &self.remotes[worker].counters
    }

    /// The coroutine worker `index` is running now, if any, and where it
    /// was spawned: asks the worker's thread (see `probe.rs`).
    pub(crate) fn running_on(
        &self,
        index: usize,
    ) -> Option<(CoroutineId, &'static std::panic::Location<'static>)> {
        self.remotes[index].probe.ask()
    }
}

/// Arrange for the calling coroutine to be unparked at `deadline`, by its
/// home worker, unless the returned [`Timer`] is dropped first. `None`
/// outside a coroutine (or while it is being torn down, when it must not
/// wait).
pub(crate) fn wake_at(deadline: std::time::Instant) -> Option<Timer> {
    let task = task::current_arc()?;
    if task.is_unwinding() {
        return None;
    }
    let worker = worker::current_of(&task.shared)?;
    let key = worker.add_timer(deadline, task);
    Some(Timer {
        worker: std::ptr::from_ref(worker),
        key,
    })
}

/// A timer set by [`wake_at`]: dropping it cancels it (a wait that ended
/// before its deadline), so it neither stays in the heap nor wakes the
/// coroutine spuriously later. Not `Send`: it is cancelled on the worker
/// that set it.
pub(crate) struct Timer {
    /// The worker whose heap holds it.
    worker: *const worker::Worker,
    key: timers::TimerKey,
}

impl Drop for Timer {
    fn drop(&mut self) {
        worker::cancel_timer(self.worker, self.key);
    }
}

/// Give a finished task's memory back for reuse by a later spawn on this
/// worker, if nothing else refers to it (otherwise it is simply dropped).
pub(crate) fn recycle(task: Arc<Task>) {
    if let Some(worker) = worker::current_of(&task.shared) {
        worker.recycle(task);
    }
}

/// The runtime of the calling worker thread, if it is one.
pub(crate) fn current_shared() -> Option<Arc<Shared>> {
    worker::with_current_shared(|shared| shared.cloned())
}

/// [`current_shared`], lent to `f` rather than cloned.
pub(crate) fn with_current_shared<R>(f: impl FnOnce(Option<&Arc<Shared>>) -> R) -> R {
    worker::with_current_shared(f)
}

pub(crate) use worker::{LocalWorker, Worker};
