//! One worker thread: its run queues and its loop.

mod introspect;
mod local;
mod placement;
mod shutdown;
mod spin;

pub(crate) use local::LocalWorker;
pub(crate) use placement::Load;

use std::cell::{Cell, RefCell};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crossbeam_deque::{Steal, Worker as Deque};

use super::list::TaskList;
use super::registry::{Registered, Registry};
use super::task::{self, Body, Task};
use super::timers::Timers;
use super::{Counters, Phase, Shared};
use crate::coroutine::stack::{PooledStack, StackCache};
use crate::coroutine::state::Parked;
use crate::coroutine::{Resumed, Suspend};

/// A woken coroutine may jump the queue through the LIFO slot at most this
/// many times in a row, so two coroutines pinging each other cannot starve
/// the rest of the worker's queue.
const MAX_LIFO_STREAK: u32 = 3;
/// Every this many scheduling ticks, shared queues and the coroutines
/// placed here are checked first (and a busy worker polls for I/O).
const GLOBAL_QUEUE_INTERVAL: u32 = 61;
/// Every this many ticks, unstarted coroutines go before woken ones.
const UNSTARTED_QUEUE_INTERVAL: u32 = 31;
/// Finished tasks moved between a worker's cache and the shared pool at once.
const RECYCLE_BATCH: usize = 128;

/// The thread-owned half of a worker. Lives on the worker thread's stack
/// (or, for a current-thread runtime, in its [`LocalWorker`]);
/// `CURRENT_WORKER` points to it while the thread runs it.
pub(crate) struct Worker {
    /// Position in `Shared::remotes`.
    index: usize,
    /// The runtime.
    shared: Arc<Shared>,
    /// Unstarted coroutines spawned here; other workers steal from it.
    unstarted: Deque<Arc<Task>>,
    /// Where a batch taken from another queue lands first, to be counted
    /// exactly (nobody steals from it), then moved to `unstarted`.
    staging: Deque<Arc<Task>>,
    /// Started coroutines homed here that are runnable.
    ready: RefCell<TaskList>,
    /// The coroutine most recently woken on this worker: runs next.
    lifo: Cell<Option<Arc<Task>>>,
    /// How many times in a row the LIFO slot was taken.
    lifo_streak: Cell<u32>,
    /// Counts scheduling decisions, for the fairness intervals.
    tick: Cell<u32>,
    /// It slept since it last looked at its timers: the next look reads
    /// the clock, whatever the coarse clock says (`fire_timers`).
    slept: Cell<bool>,
    /// The coarse time (`Clock::now`) before which none of its timers can
    /// be due, so `fire_timers` need not read the clock (`timers.rs`).
    timers_quiet_until: Cell<u64>,
    /// The last coroutine yielded: let an unstarted coroutine run before it, so a
    /// yield gives way to every runnable coroutine, started or not.
    yielded: Cell<bool>,
    /// Whether this worker is counted as searching in `Idle`.
    searching: Cell<bool>,
    /// How long it spins before it sleeps (`spin.rs`).
    spin: spin::Spin,
    /// Its placement bookkeeping: what it saw of other workers' queues,
    /// to steal only a backlog, and its placed queue (`placement.rs`).
    balance: placement::Balance,
    /// Every started, unfinished coroutine homed here (for shutdown and
    /// dumps), uncounted (see [`Registered`]).
    registry: RefCell<Registry<Registered>>,
    /// Memory of finished tasks, for the next spawns here (`Arc`s nobody
    /// else holds); overflow goes to `Shared::recycled_tasks`. Like the
    /// stacks, kept until the runtime drops: freeing tasks let glibc trim
    /// and re-fault the heap on every burst, which made spawn-heavy
    /// workloads run 1.5x slower one process out of two.
    recycled: RefCell<TaskList>,
    /// Coroutines of this worker sleeping until a deadline.
    timers: RefCell<Timers<Arc<Task>>>,
    /// Whether `timers` is non-empty: checked on every scheduling step, so
    /// a plain flag instead of a RefCell borrow.
    has_timers: Cell<bool>,
    /// Stacks for coroutines spawned here, from coroutines finished here.
    stacks: RefCell<StackCache>,
    /// xorshift state for picking a steal victim.
    rng: Cell<u32>,
    /// Teardown: since when the coroutine being torn down has been waiting
    /// (without switching) while no other worker was still tearing down.
    stuck_since: Cell<Option<std::time::Instant>>,
    /// Teardown: it gave up waiting for its stuck coroutine to finish and
    /// let the runtime's drop return (see `teardown_wait`).
    lingering: Cell<bool>,
    /// Shutdown: it cancelled its coroutines (once).
    cancelled: Cell<bool>,
    /// A current-thread runtime's worker ([`LocalWorker`]): it keeps the
    /// runtime's coarse clock (there may be no monitor thread), and the
    /// thread that drops the runtime is its own.
    local: bool,
}

thread_local! {
    static CURRENT_WORKER: Cell<*const Worker> = const { Cell::new(std::ptr::null()) };
}

#[inline(never)]
fn current_ptr() -> *const Worker {
    CURRENT_WORKER.with(Cell::get)
}

/// The calling thread's worker, if it is a worker of `shared`.
pub(super) fn current_of(shared: &Shared) -> Option<&'static Worker> {
    let ptr = current_ptr();
    // SAFETY: CURRENT_WORKER is non-null only while `Worker::run` executes
    // on this thread, and the worker outlives everything running on it.
    let worker = unsafe { ptr.as_ref()? };
    std::ptr::eq(Arc::as_ptr(&worker.shared), shared).then_some(worker)
}

/// Cancel timer `key` of `worker`, if that is the calling thread's
/// worker (a timer can only be cancelled where it was set; elsewhere it
/// just fires, a spurious wake-up every park allows).
pub(super) fn cancel_timer(worker: *const Worker, key: super::timers::TimerKey) {
    if !std::ptr::eq(current_ptr(), worker) {
        return;
    }
    // SAFETY: as in `current_of`: it is this thread's running worker.
    let worker = unsafe { &*worker };
    // Shutdown's `clear` may hold the heap while a coroutine unwinds.
    if let Ok(mut timers) = worker.timers.try_borrow_mut() {
        timers.cancel(key);
        worker.has_timers.set(!timers.is_empty());
    }
}

/// The probe of the calling worker thread, if it is one (for the probe's
/// signal handler: reads only a thread-local and immutable fields).
pub(super) fn current_probe() -> Option<&'static super::probe::Probe> {
    // SAFETY: as in `current_of`.
    let worker = unsafe { current_ptr().as_ref()? };
    Some(&worker.shared.remotes[worker.index].probe)
}

/// The runtime of the calling worker thread, if any, lent to `f`.
pub(super) fn with_current_shared<R>(f: impl FnOnce(Option<&Arc<Shared>>) -> R) -> R {
    // SAFETY: as in `current_of`: the worker outlives `f`, which runs on
    // its thread (a coroutine `f` parks resumes on this thread too).
    f(unsafe { current_ptr().as_ref() }.map(|w| &w.shared))
}

impl Worker {
    /// The worker at `index`, owning the local FIFO `unstarted`.
    pub(crate) fn new(index: usize, shared: Arc<Shared>, unstarted: Deque<Arc<Task>>) -> Worker {
        Worker::with(index, shared, unstarted, false)
    }

    /// The one worker of a current-thread runtime.
    fn local(shared: Arc<Shared>, unstarted: Deque<Arc<Task>>) -> Worker {
        Worker::with(0, shared, unstarted, true)
    }

    fn with(index: usize, shared: Arc<Shared>, unstarted: Deque<Arc<Task>>, local: bool) -> Worker {
        let workers = shared.remotes.len();
        Worker {
            index,
            shared,
            unstarted,
            staging: Deque::new_fifo(),
            ready: RefCell::new(TaskList::default()),
            lifo: Cell::new(None),
            lifo_streak: Cell::new(0),
            tick: Cell::new(0),
            slept: Cell::new(false),
            timers_quiet_until: Cell::new(0),
            yielded: Cell::new(false),
            searching: Cell::new(false),
            spin: spin::Spin::default(),
            balance: placement::Balance::new(workers),
            registry: RefCell::new(Registry::default()),
            recycled: RefCell::new(TaskList::default()),
            timers: RefCell::new(Timers::new()),
            has_timers: Cell::new(false),
            stacks: RefCell::new(StackCache::default()),
            rng: Cell::new(0x9E37_79B9 ^ (index as u32).wrapping_mul(0x85EB_CA6B) | 1),
            stuck_since: Cell::new(None),
            lingering: Cell::new(false),
            cancelled: Cell::new(false),
            local,
        }
    }

    pub(super) fn index(&self) -> usize {
        self.index
    }

    /// A stack for a coroutine spawned on this worker.
    pub(super) fn acquire_stack(&self) -> std::io::Result<PooledStack> {
        self.stacks.borrow_mut().acquire(&self.shared.stacks)
    }

    /// Keep the stack of a coroutine that finished on this worker.
    fn release_stack(&self, stack: PooledStack) {
        self.stacks.borrow_mut().release(&self.shared.stacks, stack);
    }

    /// A finished task's memory to reuse, if any: from this worker's
    /// cache, refilled a chain at a time from the runtime's shared pool.
    pub(super) fn take_recycled(&self) -> Option<Arc<Task>> {
        let mut recycled = self.recycled.borrow_mut();
        if recycled.is_empty() && self.shared.has_recycled_tasks.load(Ordering::Relaxed) {
            let mut pool = self.shared.recycled_tasks.lock();
            if let Some(chain) = pool.pop() {
                *recycled = chain;
            }
            self.shared
                .has_recycled_tasks
                .store(!pool.is_empty(), Ordering::Relaxed);
        }
        recycled.pop_front()
    }

    /// Keep a finished task's memory for reuse if nobody else holds it. A
    /// full cache moves its older half to the shared pool, so memory freed
    /// on one worker serves spawns on another, and the total kept never
    /// exceeds the most tasks that were alive at once.
    pub(super) fn recycle(&self, task: Arc<Task>) {
        // No `Weak`s exist, so a count of one is uniqueness; the fence pairs
        // with the Release decrement of whoever dropped the other reference
        // (as in `Arc`'s own drop). Cheaper than `Arc::get_mut`'s CAS.
        if Arc::strong_count(&task) != 1 {
            return;
        }
        std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
        let mut recycled = self.recycled.borrow_mut();
        recycled.push_front(task);
        if recycled.len() >= 2 * RECYCLE_BATCH {
            let older = recycled.split_off(RECYCLE_BATCH);
            self.shared.recycled_tasks.lock().push(older);
            self.shared
                .has_recycled_tasks
                .store(true, Ordering::Relaxed);
        }
    }

    /// Unpark `task` (which must be homed here) at `deadline`.
    pub(super) fn add_timer(
        &self,
        deadline: std::time::Instant,
        task: Arc<Task>,
    ) -> super::timers::TimerKey {
        let key = self.timers.borrow_mut().add(deadline, task);
        self.has_timers.set(true);
        let quiet_until = self.shared.clock.quiet_until(deadline);
        self.timers_quiet_until
            .set(quiet_until.min(self.timers_quiet_until.get()));
        key
    }

    /// The coarse time until which no timer here can be due.
    fn quiet_until(&self, timers: &super::timers::Timers<Arc<Task>>) -> u64 {
        (timers.first_due()).map_or(u64::MAX, |first| self.shared.clock.quiet_until(first))
    }

    /// Wake the coroutines whose timers are due. Reads the clock only when
    /// one may be due (see `timers.rs`). Every scheduling step calls it:
    /// without timers it is one test.
    #[inline(always)]
    fn fire_timers(&self) {
        if self.has_timers.get() {
            self.fire_due_timers();
        }
    }

    #[inline(never)]
    fn fire_due_timers(&self) {
        let slept = self.slept.replace(false);
        let quiet = || {
            self.shared.clock.now() < self.timers_quiet_until.get()
                && !slept
                && self.tick.get() % GLOBAL_QUEUE_INTERVAL != 0
        };
        if quiet() {
            return;
        }
        let due = {
            let mut timers = self.timers.borrow_mut();
            // Cancelled timers may have left the threshold earlier than
            // it need be (only `add_timer` and firing move it): renew it.
            self.timers_quiet_until.set(self.quiet_until(&timers));
            if quiet() {
                return;
            }
            let now = std::time::Instant::now();
            if !timers.any_due(now) {
                return;
            }
            let due = timers.expired(now);
            self.has_timers.set(!timers.is_empty());
            self.timers_quiet_until.set(self.quiet_until(&timers));
            due
        };
        for task in due {
            task.unpark();
        }
    }

    /// This worker's I/O poller.
    fn reactor(&self) -> &super::reactor::Reactor {
        &self.shared.remotes[self.index].reactor
    }

    /// Collect I/O readiness without blocking, if sockets are registered
    /// here: every [`GLOBAL_QUEUE_INTERVAL`] steps of a busy worker, and
    /// now and then while it spins. Returns whether it polled.
    fn poll_io_now(&self) -> bool {
        let reactor = self.reactor();
        reactor.is_active() && reactor.poll(Some(std::time::Duration::ZERO), || true, || ())
    }

    /// Queue an unstarted coroutine spawned on this worker.
    pub(super) fn push_unstarted(&self, task: Arc<Task>) {
        self.unstarted.push(task);
    }

    /// Queue a coroutine of ours woken on this thread: it runs next.
    #[inline]
    pub(super) fn push_woken(&self, task: Arc<Task>) {
        if let Some(previous) = self.lifo.replace(Some(task)) {
            self.ready.borrow_mut().push_back(previous);
        }
    }

    /// The worker loop: run coroutines until the runtime shuts down.
    pub(crate) fn run(&self) {
        let torn_down = self.drive(None);
        debug_assert!(torn_down);
    }

    /// Run coroutines until `done()` (checked before every scheduling
    /// step; `None`: never) or until the runtime's shutdown has torn them
    /// down; returns whether it did. A current-thread runtime's worker is
    /// driven this way by `block_on`, and through its shutdown by the
    /// runtime's drop. (One loop for both, not generic: a second copy of
    /// it made the compiler stop inlining the resume path.)
    pub(super) fn drive(&self, done: Option<&dyn Fn() -> bool>) -> bool {
        let outer = CURRENT_WORKER.with(|c| c.replace(self));
        let probe = &self.shared.remotes[self.index].probe;
        probe.attach();
        self.shared.remotes[self.index].load.publish_cpu_clock();
        if self.local {
            self.shared.clock.tick(); // it stood still since the last drive
        }
        // Its timers' last clock reading may be as old (a current-thread
        // runtime between two `block_on`s): read afresh at the first look.
        self.slept.set(true);
        let counters = self.shared.counters(self.index);
        let torn_down = loop {
            if self.shared.is_shutdown() {
                match self.shared.phase() {
                    Phase::Teardown => break true,
                    Phase::Cancelling if !self.cancelled.get() => {
                        self.cancel_registered();
                        self.cancelled.set(true);
                        // Counted after the cancels: teardown waits for
                        // every worker's pass (see `Shared::is_quiescent`).
                        self.shared.cancel_passes.fetch_add(1, Ordering::AcqRel);
                    }
                    _ => {}
                }
            }
            if done.is_some_and(|done| done()) {
                // Leave the idle protocol as a running worker does.
                self.stop_searching();
                break false;
            }
            self.fire_timers();
            let task = self.next_local().or_else(|| self.search());
            if let Some(task) = task.or_else(|| self.spin()) {
                self.stop_searching();
                self.run_task(task, counters);
            } else {
                self.sleep();
            }
        };
        if torn_down {
            self.timers.borrow_mut().clear();
            self.unwind_all();
            if !self.lingering.get() || self.local {
                self.shared.teardown_finished(self.index, false);
            }
        }
        probe.detach();
        CURRENT_WORKER.with(|c| c.set(outer));
        torn_down
    }

    /// The next runnable coroutine from this worker's own queues or the
    /// injector, fairly ordered. (Inlined into the worker loop, its one
    /// caller: the hottest path.)
    #[inline(always)]
    fn next_local(&self) -> Option<Arc<Task>> {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        if tick % GLOBAL_QUEUE_INTERVAL == 0 {
            if self.local {
                self.shared.clock.tick();
            }
            self.answer_dumps();
            let _ = self.poll_io_now();
            // Coroutines placed here by others, too, wait at most this.
            if let Some(task) = self
                .take_from_injector()
                .or_else(|| self.take_from_inbox())
                .or_else(|| self.take_placed())
            {
                return Some(task);
            }
        }
        if self.lifo_streak.get() < MAX_LIFO_STREAK {
            if let Some(task) = self.lifo.take() {
                self.lifo_streak.set(self.lifo_streak.get() + 1);
                return Some(task);
            }
        }
        self.lifo_streak.set(0);
        if (self.yielded.replace(false) || tick % UNSTARTED_QUEUE_INTERVAL == 0)
            && !self.unstarted.is_empty()
        {
            if let Some(task) = self.unstarted.pop() {
                return Some(task);
            }
        }
        self.pop_ready()
            .or_else(|| self.lifo.take())
            .or_else(|| self.take_from_inbox())
            .or_else(|| self.unstarted.pop())
            .or_else(|| self.take_placed())
            .or_else(|| self.take_from_injector())
    }

    /// The oldest runnable started coroutine. With a backlog, start
    /// loading the next two while this one runs (see `prefetch.rs`): the
    /// task of the one after next, and the stack of the next, whose task
    /// was loaded a step earlier. With one or two runnable coroutines they
    /// are still in the cache: nothing to do.
    #[inline(always)]
    fn pop_ready(&self) -> Option<Arc<Task>> {
        let mut ready = self.ready.borrow_mut();
        let task = ready.pop_front();
        if ready.len() >= 2 {
            let next = ready.front().expect("len >= 2");
            super::prefetch::task(ready.next_of(next).expect("len >= 2"));
            super::prefetch::stack(next);
        }
        task
    }

    /// Move every woken coroutine from the inbox to `ready` (in O(1), however
    /// many); return the first.
    fn take_from_inbox(&self) -> Option<Arc<Task>> {
        let mut woken = self.shared.remotes[self.index].inbox.take_all();
        let taken = woken.len() as u64;
        let first = woken.pop_front()?;
        Counters::add(&self.shared.counters(self.index).remote_wakes, taken);
        self.ready.borrow_mut().append(&mut woken);
        Some(first)
    }

    /// Take a batch of unstarted coroutines from the injector (counting
    /// them on this worker, `placement.rs`).
    fn take_from_injector(&self) -> Option<Arc<Task>> {
        let (task, taken) =
            self.take_batch(|staging| self.shared.injector.steal_batch_and_pop(staging))?;
        self.load().add_own(taken);
        Some(task)
    }

    /// Leave the searching state; rule 2 of `idle.rs`. A queue the
    /// search declined counts here (unlike rule 3 in `sleep`): this
    /// worker goes off to run something, with no timer to look at it
    /// again, and its owner may be blocked waiting for what is queued.
    #[inline(always)]
    fn stop_searching(&self) {
        if self.searching.get() {
            self.stop_searching_now();
        }
    }

    #[inline(never)]
    fn stop_searching_now(&self) {
        self.searching.set(false);
        if self.shared.idle.transition_worker_from_searching() && self.shared.has_shared_work() {
            self.shared.notify_parked();
        }
    }

    /// Sleep until woken; rule 3 of `idle.rs` on the way down.
    #[inline(never)]
    fn sleep(&self) {
        self.answer_dumps();
        // Not running anything: the monitor must not think it is stuck.
        let idle_flag = &self.shared.counters(self.index).idle;
        idle_flag.store(true, Ordering::Relaxed);
        let was_searching = self.searching.replace(false);
        let idle = &self.shared.idle;
        let parked_as = idle.transition_worker_to_parked(self.index, was_searching);
        // A queue the last search declined is no reason to wake another
        // worker: this one looks at it again itself (`placement.rs`). Nor
        // are its own: they hold only what it was woken for — `unstarted`
        // is empty but for placed coroutines a dump just moved there, and
        // whoever places a coroutine here wakes it after the push and the
        // count (counted a moment after the push, a placed coroutine is
        // not yet taken: `take_placed` trusts the count).
        if self
            .shared
            .has_shared_work_besides(|index| index == self.index || self.balance.declined(index))
        {
            self.shared.notify_parked();
        }
        let remote = &self.shared.remotes[self.index];
        if parked_as.last_awake
            && self.shared.phase() == Phase::Cancelling
            && self.shared.is_quiescent()
        {
            // Shutting down and every worker is idle: the coroutines still
            // alive wait for something that will never come. Tear down.
            self.shared.set_phase(Phase::Teardown);
        }
        // A wake for our inbox leaves a sleeper token, so checking the inbox
        // here and then parking cannot miss one.
        if remote.inbox.is_empty() && self.shared.phase() != Phase::Teardown {
            // Sleep until woken, or exactly until the next timer is due —
            // in this worker's I/O poller if sockets are registered with
            // it, else on the sleeper.
            let next_timer = self
                .timers
                .borrow_mut()
                .next_timeout(std::time::Instant::now());
            // A steal put off (`placement.rs`) is looked at again soon.
            let next_timer = self.balance.recheck_within(next_timer);
            let reactor = self.reactor();
            self.spin.sleeping();
            // Whether another thread's wake ended the sleep (not I/O, not
            // the timer): what spinning is for (`spin.rs`).
            let woken = std::cell::Cell::new(true);
            let polled = reactor.is_active()
                && reactor.poll(
                    next_timer,
                    || remote.sleeper.begin_poll(),
                    || woken.set(remote.sleeper.end_poll()),
                );
            if !polled {
                match next_timer {
                    Some(timeout) => woken.set(remote.sleeper.sleep_timeout(timeout)),
                    None => remote.sleeper.sleep(),
                }
            }
            self.spin.woken(woken.get());
            self.slept.set(true);
            if self.local {
                self.shared.clock.tick();
            }
        }
        idle_flag.store(false, Ordering::Relaxed);
        if idle.transition_worker_from_parked(self.index) {
            self.searching.set(true);
        }
    }

    /// Resume `task` until it parks, yields or finishes. (Inlined into
    /// the worker loop, its one caller; starting and finishing a coroutine
    /// are kept out of line, so that the loop a switch goes round stays
    /// small.)
    #[inline(always)]
    fn run_task(&self, task: Arc<Task>, counters: &Counters) {
        task.state.transition_to_running();
        if task.home().is_none() {
            self.start_task(&task);
        }
        Counters::bump(&counters.resumes);
        let outer = task::set_current_in_worker_loop(Arc::as_ptr(&task));
        let resumed = task.resume();
        task::set_current_in_worker_loop(outer);
        Counters::bump(&counters.switches);
        match resumed {
            Resumed::Suspended(Suspend::Park) => {
                match task.state.transition_to_idle() {
                    // The IDLE state owns this reference from now on; the unpark
                    // that schedules the task takes it back (`Task::unpark`), so
                    // a park/wake cycle costs no reference-count traffic.
                    Parked::Idle => std::mem::forget(task),
                    Parked::Notified => self.ready.borrow_mut().push_back(task),
                }
            }
            Resumed::Suspended(Suspend::Yield) => {
                self.ready.borrow_mut().push_back(task);
                self.yielded.set(true);
            }
            Resumed::Finished => self.retire_task(task),
        }
        // After the switched-out coroutine is parked, queued or gone: the
        // evening may wait a little (`end_burst`).
        self.end_burst();
    }

    /// Pin a coroutine that never ran to this worker and give it a stack.
    #[inline(never)]
    fn start_task(&self, task: &Arc<Task>) {
        if self.shared.is_shutdown() {
            // Shutting down: a coroutine that has not started is
            // cancelled before it runs any code.
            task.mark_cancelled();
        }
        task.set_home(self.index);
        Counters::bump(&self.shared.counters(self.index).started);
        task.set_slot(self.registry.borrow_mut().insert(Registered::of(task)));
        task.start(|reserved| self.stacks.borrow_mut().swap_hot(reserved));
    }

    /// A coroutine finished: unregister it, keep its stack and its memory.
    #[inline(never)]
    fn retire_task(&self, task: Arc<Task>) {
        Counters::bump(&self.shared.counters(self.index).finished);
        self.count_finished();
        task.state.transition_to_done();
        task.release_waiter();
        // Unregistered before `task`, our reference, goes (in `recycle`):
        // see `Registered`.
        self.registry.borrow_mut().remove(task.slot());
        let Body::Started(fiber) = task.take_body() else {
            unreachable!("a finished task had a fiber");
        };
        self.release_stack(fiber.into_stack());
        // Detached and finished: nobody else holds it.
        self.recycle(task);
    }

    fn next_random(&self) -> u32 {
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng.set(x);
        x
    }
}

impl Worker {
    /// Take a batch from a shared queue with `steal`: return its first
    /// coroutine and how many were taken in all; the rest join
    /// `unstarted`. (Counting by the length of `unstarted` before and
    /// after would be wrong: other workers steal from it meanwhile.)
    ///
    /// While in `staging` the rest was in no queue a searcher looks at:
    /// one may have gone to sleep meanwhile, and the first coroutine may
    /// block this thread waiting for the rest. So their arrival in
    /// `unstarted` is published as new work (rule 1 of `idle.rs`). (A
    /// searcher's batch needs no such call: rule 2 follows it before the
    /// first coroutine runs, or another searcher remains, whose search or
    /// rule 3 sees the batch.)
    fn take_batch(
        &self,
        steal: impl Fn(&Deque<Arc<Task>>) -> Steal<Arc<Task>>,
    ) -> Option<(Arc<Task>, usize)> {
        let taken = self.stage_batch(steal)?;
        self.unstage();
        if taken.1 > 1 && !self.searching.get() {
            self.shared.notify_parked();
        }
        Some(taken)
    }

    /// The first half of [`take_batch`](Self::take_batch): steal into
    /// `staging` only, and count (a thief counts the batch before it lets
    /// the victim's `moving` flag go, and moves it after).
    fn stage_batch(
        &self,
        steal: impl Fn(&Deque<Arc<Task>>) -> Steal<Arc<Task>>,
    ) -> Option<(Arc<Task>, usize)> {
        let task = steal_one(|| steal(&self.staging))?;
        Some((task, 1 + self.staging.len()))
    }

    /// The second half: what was staged joins `unstarted`.
    fn unstage(&self) {
        while let Some(more) = self.staging.pop() {
            self.unstarted.push(more);
        }
    }
}

/// Retry a crossbeam steal until it gives a definite answer.
fn steal_one(mut steal: impl FnMut() -> Steal<Arc<Task>>) -> Option<Arc<Task>> {
    loop {
        match steal() {
            Steal::Success(task) => return Some(task),
            Steal::Empty => return None,
            Steal::Retry => std::hint::spin_loop(),
        }
    }
}
