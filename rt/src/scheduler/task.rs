//! A scheduled coroutine ([`Task`]), the park/unpark primitive every
//! blocking operation is built on, and the public identity [`Coroutine`].

use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU64;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use super::locals::LocalValues;
use super::result::TaskResult;
use super::Shared;
use crate::coroutine::root_fn::RootFn;
use crate::coroutine::stack::PooledStack;
use crate::coroutine::state::{State, Unpark};
use crate::coroutine::{Fiber, Resumed, Suspend, SuspendPoint};
use crate::loom::cell::UnsafeCell;
use crate::unwind::unwinding::DeferState;
use crate::unwind::CancelSignal;

/// What a task has to run, through its life.
pub(crate) enum Body {
    /// Spawned, never run: the closure, and the stack reserved for it (not
    /// yet touched; see `docs/stacks.md` on why binding waits for the first
    /// run).
    Unstarted {
        /// Reserved at spawn so that running out of stacks is a spawn error.
        stack: PooledStack,
    },
    /// Running or suspended on its stack.
    Started(Fiber),
    /// Returned, unwound or cancelled.
    Finished,
}

/// `Task::home` before the coroutine first runs.
const NO_HOME: usize = usize::MAX;

/// One coroutine as the scheduler sees it.
pub(crate) struct Task {
    /// Who may resume it; see `coroutine::state`.
    pub(super) state: State,
    /// Unique in the process, never reused.
    id: CoroutineId,
    /// Optional name, for messages and dumps.
    name: Option<Box<str>>,
    /// Where it was spawned (for the monitor's and dump's messages).
    spawned_at: &'static std::panic::Location<'static>,
    /// Index of the worker it first ran on and must always run on (written
    /// once, by that worker, before anyone can unpark it).
    home: AtomicUsize,
    /// Its root function until it first runs (inline when small: no
    /// allocation per spawn). Same access rule as `body`.
    root: std::cell::UnsafeCell<RootFn>,
    /// The coroutine itself. Only the worker that moved `state` to RUNNING
    /// (or the home worker at shutdown) touches it.
    body: UnsafeCell<Body>,
    /// Set by the home worker while it tears the coroutine down: `park`
    /// must then return at once instead of switching.
    unwinding: Cell<bool>,
    /// Parked where no interruption may be delivered (inside a destructor
    /// during an unwind, where a forced unwind would abort, or inside an
    /// `rt::uninterruptible` region): shutdown must not unwind it.
    parked_uninterruptible: Cell<bool>,
    /// Index in the home worker's registry (home thread only).
    slot: Cell<usize>,
    /// How the running coroutine switches back to its worker.
    suspend_point: SuspendPoint,
    /// Where its result waits for the joiner.
    pub(crate) result: TaskResult,
    /// Its deferred closures and the panic it is handling.
    pub(crate) defer: DeferState,
    /// Its `rt::local!` values.
    pub(crate) locals: LocalValues,
    /// `JoinHandle::cancel` was called (from any thread).
    cancel_requested: AtomicBool,
    /// The cancellation unwind has started (home thread only): later park
    /// points block normally, so deferred cleanup may wait.
    cancelling: Cell<bool>,
    /// Its `rt::uninterruptible` depth (see `crate::unwind`).
    pub(crate) mask: crate::unwind::Mask,
    /// How many `rt::scope`s enclose it: 0 for a plain spawn, its owner's
    /// depth + 1 for a scoped one. Teardown unwinds the deepest first, so
    /// a scope's owner never waits for a child its worker has yet to tear
    /// down. Written by the coroutine itself as it starts, read at teardown.
    scope_depth: std::sync::atomic::AtomicU32,
    /// Shutdown abandoned it: it will never run or finish (read by the
    /// scope that spawned it, on any worker, while it is torn down).
    abandoned: AtomicBool,
    /// How its current wait gives up if shutdown abandons it while parked
    /// (see [`GiveUpGuard`]). Home thread only.
    give_up: Cell<Option<GiveUp>>,
    /// A test harness asked for an interruption after this many more
    /// interruption checks (see `crate::unwind::inject`).
    injected: Cell<Option<(u32, crate::unwind::Injected)>>,
    /// Its innermost `rt::timeout` scope.
    pub(crate) deadline: crate::unwind::deadline::Deadline,
    /// Lowest usable address of its stack once started (the guard page is
    /// just below), for the stack overflow handler; 0 before.
    stack_bottom: Cell<usize>,
    /// Where and why it last parked or yielded (for `rt::dump`).
    wait_site: Cell<Option<WaitSite>>,
    /// The runtime's coarse clock when it was spawned or last switched out.
    switched_at: Cell<u64>,
    /// About where its stack pointer was when it last switched out: the
    /// first stack lines a resume touches (see `prefetch.rs`). Only read
    /// for a coroutine queued after a switch-out, which wrote it: a reused
    /// task's stale value is never read, so `reuse` leaves it.
    parked_sp: Cell<usize>,
    /// The next task in the one list that holds this one, if any: a
    /// worker's run queue or inbox, or a chain of finished tasks kept for
    /// reuse (see `list.rs`). Only that list's owner touches it.
    next: std::cell::UnsafeCell<Option<Arc<Task>>>,
    /// The runtime it belongs to.
    pub(super) shared: Arc<Shared>,
}

// SAFETY: `body`, `root` and the `Cell` fields (`unwinding`, `cancelling`,
// `mask`, `give_up`, `injected`, `wait_site`, ...) are only accessed by the
// single thread that the state word (or shutdown, on the home worker)
// grants the coroutine to — its home worker, running it or tearing it
// down; `next` only by the owner of the one list holding the task (a
// worker, or whoever holds an inbox's lock); everything else is atomic or
// immutable.
unsafe impl Send for Task {}
// SAFETY: as above.
unsafe impl Sync for Task {}

impl Task {
    pub(super) fn new(
        shared: Arc<Shared>,
        id: CoroutineId,
        name: Option<Box<str>>,
        spawned_at: &'static std::panic::Location<'static>,
        body: Body,
    ) -> Task {
        Task {
            state: State::new_scheduled(),
            id,
            name,
            spawned_at,
            home: AtomicUsize::new(NO_HOME),
            root: std::cell::UnsafeCell::new(RootFn::empty()),
            body: UnsafeCell::new(body),
            unwinding: Cell::new(false),
            parked_uninterruptible: Cell::new(false),
            slot: Cell::new(usize::MAX),
            suspend_point: SuspendPoint::new(),
            result: TaskResult::new(),
            defer: DeferState::default(),
            locals: LocalValues::default(),
            cancel_requested: AtomicBool::new(false),
            cancelling: Cell::new(false),
            mask: crate::unwind::Mask::default(),
            injected: Cell::new(None),
            scope_depth: std::sync::atomic::AtomicU32::new(0),
            abandoned: AtomicBool::new(false),
            give_up: Cell::new(None),
            deadline: crate::unwind::deadline::Deadline::default(),
            stack_bottom: Cell::new(0),
            wait_site: Cell::new(None),
            switched_at: Cell::new(shared.clock.now()),
            parked_sp: Cell::new(0),
            next: std::cell::UnsafeCell::new(None),
            shared,
        }
    }

    /// Make a finished, unshared task a new one (see `Worker::recycle`),
    /// keeping its allocation and its runtime.
    pub(super) fn reuse(
        &mut self,
        id: CoroutineId,
        name: Option<Box<str>>,
        spawned_at: &'static std::panic::Location<'static>,
        body: Body,
    ) {
        self.state = State::new_scheduled();
        self.id = id;
        self.name = name;
        self.spawned_at = spawned_at;
        *self.home.get_mut() = NO_HOME;
        self.body = UnsafeCell::new(body);
        self.unwinding.set(false);
        self.parked_uninterruptible.set(false);
        self.slot.set(usize::MAX);
        self.suspend_point = SuspendPoint::new();
        self.result = TaskResult::new();
        self.defer = DeferState::default();
        self.locals = LocalValues::default();
        *self.cancel_requested.get_mut() = false;
        self.cancelling.set(false);
        self.mask = crate::unwind::Mask::default();
        self.injected.set(None);
        *self.scope_depth.get_mut() = 0;
        *self.abandoned.get_mut() = false;
        self.give_up.set(None);
        self.deadline = crate::unwind::deadline::Deadline::default();
        self.stack_bottom.set(0);
        self.wait_site.set(None);
        self.switched_at.set(self.shared.clock.now());
    }

    /// Link `next` after this task in the list that holds it.
    ///
    /// # Safety
    ///
    /// The caller owns the list this task is in (or joining): nobody else
    /// touches the link meanwhile.
    pub(super) unsafe fn set_next(&self, next: Option<Arc<Task>>) {
        // SAFETY: our caller owns the link.
        unsafe { *self.next.get() = next };
    }

    /// The task after this one in its list.
    ///
    /// # Safety
    ///
    /// As for [`set_next`](Self::set_next), for as long as the result lives.
    pub(super) unsafe fn next(&self) -> Option<&Task> {
        // SAFETY: as above.
        unsafe { (*self.next.get()).as_deref() }
    }

    /// Unlink and return the task after this one in its list.
    ///
    /// # Safety
    ///
    /// As for [`set_next`](Self::set_next).
    pub(super) unsafe fn take_next(&self) -> Option<Arc<Task>> {
        // SAFETY: as above.
        unsafe { (*self.next.get()).take() }
    }

    /// Give an unstarted, unshared task the function it will run.
    ///
    /// # Safety
    ///
    /// Everything `run` borrows must outlive the task's run (or its
    /// cancellation before it starts).
    pub(super) unsafe fn set_root(&mut self, run: impl FnOnce() + Send) {
        // SAFETY: forwarded to our caller.
        unsafe { self.root.get_mut().set(run) };
    }

    /// Drop the root function of a coroutine that never ran. Same access
    /// rule as `take_body`.
    pub(super) fn clear_root(&self) {
        // SAFETY: as in `start`: only the owning thread calls this.
        unsafe { (*self.root.get()).clear() };
    }

    /// The worker this coroutine is pinned to, if it has started.
    pub(super) fn home(&self) -> Option<usize> {
        match self.home.load(Relaxed) {
            NO_HOME => None,
            index => Some(index),
        }
    }

    /// Pin an unstarted coroutine to worker `index` (the one about to run it).
    pub(super) fn set_home(&self, index: usize) {
        self.home.store(index, Relaxed);
    }

    /// Bind an unstarted coroutine to a stack so it can run. `pick` gets
    /// the stack reserved at spawn and returns the one to use (a worker
    /// swaps in a cache-hot stack). The caller holds it RUNNING.
    pub(super) fn start(&self, pick: impl FnOnce(PooledStack) -> PooledStack) {
        // SAFETY: the state word grants this thread exclusive use of `body`.
        self.body.with_mut(|body| unsafe {
            let Body::Unstarted { stack } = std::mem::replace(&mut *body, Body::Finished) else {
                unreachable!("started a coroutine twice");
            };
            let stack = pick(stack);
            self.stack_bottom.set(stack.bottom());
            // The fiber outlives neither the task nor its root function.
            let root = self.root.get() as usize;
            // SAFETY: the root function's borrows outlive the task (spawn's
            // contract), and bodies built by `crate::join` catch every panic.
            *body = Body::Started(Fiber::new_unchecked(
                stack,
                &self.suspend_point,
                move || {
                    // SAFETY: the task is alive while its coroutine runs, and
                    // only the coroutine uses `root` once started.
                    RootFn::call(root as *mut RootFn)
                },
            ));
        });
    }

    /// Resume the coroutine on this thread. The caller holds it RUNNING.
    pub(super) fn resume(&self) -> Resumed {
        // SAFETY: as in `start`.
        self.body.with_mut(|body| match unsafe { &mut *body } {
            Body::Started(fiber) => fiber.resume(),
            _ => unreachable!("resumed a coroutine that is not started"),
        })
    }

    /// Take the body out (finished, cancelled, or to unwind it at shutdown),
    /// leaving `Finished`.
    pub(super) fn take_body(&self) -> Body {
        // SAFETY: as in `start`: only the owning thread calls this.
        self.body
            .with_mut(|body| unsafe { std::mem::replace(&mut *body, Body::Finished) })
    }

    /// Index in the home worker's registry.
    pub(super) fn slot(&self) -> usize {
        self.slot.get()
    }

    pub(super) fn set_slot(&self, slot: usize) {
        self.slot.set(slot);
    }

    /// Ask the coroutine to unwind at its next park point, and wake it.
    pub(crate) fn cancel(self: &Arc<Self>) {
        self.mark_cancelled();
        self.unpark();
    }

    /// Ask the coroutine to unwind at its next park point (or before it
    /// starts), without waking it.
    pub(super) fn mark_cancelled(&self) {
        self.cancel_requested
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// At a park point (or before the body starts): deliver a pending
    /// cancellation or an expired `rt::timeout` as an unwind, if this is an
    /// interruptible point (see `crate::unwind`). One load and one
    /// plain read when nothing is pending.
    #[inline]
    pub(crate) fn check_interrupts(&self) {
        if self.cancel_pending() || self.deadline.pending().is_some() {
            self.deliver_interrupts();
        }
    }

    #[cold]
    #[inline(never)]
    fn deliver_interrupts(&self) {
        if let Some((checks, kind)) = self.injected.get() {
            if checks > 1 {
                self.injected.set(Some((checks - 1, kind)));
                return;
            }
            // Due: it becomes a real request from here on.
            self.injected.set(None);
            if kind == crate::unwind::Injected::Timeout {
                self.cancel_requested
                    .store(false, std::sync::atomic::Ordering::Relaxed);
                self.deadline.expire_now();
            }
        }
        if !self.mask.allows_delivery() {
            return; // stays pending
        }
        if self.cancel_pending() {
            self.cancelling.set(true);
            self.mask.begin_forced_unwind();
            crate::unwind::resume_unwind(Box::new(CancelSignal));
        }
        self.deadline.check(&self.mask);
    }

    /// A cancel was requested and its unwind has not begun.
    fn cancel_pending(&self) -> bool {
        self.cancel_requested
            .load(std::sync::atomic::Ordering::Acquire)
            && !self.cancelling.get()
    }

    /// Test harness: make a request of `kind` due at the `checks`-th
    /// interruption check from now (two per park: before and after).
    /// Rides on the cancel flag, so the checks take the slow path.
    pub(crate) fn inject(&self, checks: u32, kind: crate::unwind::Injected) {
        self.injected.set(Some((checks.max(1), kind)));
        self.mark_cancelled();
    }

    /// Whether an injected request is still counting down.
    pub(crate) fn injection_pending(&self) -> bool {
        self.injected.get().is_some()
    }

    /// Whether a cancellation or an expired deadline waits to be delivered
    /// (for waits that cannot be interrupted but can pass the request on,
    /// like a scope's wait for its children).
    pub(crate) fn interrupt_pending(&self) -> bool {
        // An injected request still counting down is not due yet.
        self.injected.get().is_none() && (self.cancel_pending() || self.deadline.expired())
    }

    /// Whether shutdown abandoned it (see `give_up_wait`).
    pub(crate) fn is_abandoned(&self) -> bool {
        self.abandoned.load(std::sync::atomic::Ordering::Acquire)
    }

    /// How many scopes enclose it (see `scope_depth`).
    pub(crate) fn scope_depth(&self) -> u32 {
        self.scope_depth.load(Relaxed)
    }

    /// Record that it was spawned in a scope whose owner has `owner_depth`.
    pub(crate) fn set_scope_depth(&self, owner_depth: u32) {
        self.scope_depth.store(owner_depth + 1, Relaxed);
    }

    /// Shutdown abandons this coroutine (it will never run or unwind
    /// again): give up the wait it is parked in, so that nothing is handed
    /// to it from now on. Called on its home thread.
    pub(super) fn give_up_wait(&self) {
        if let Some(hook) = self.give_up.take() {
            // SAFETY: the hook's data lives on this coroutine's stack, which
            // stays mapped (an abandoned coroutine's task is never freed,
            // and it holds the runtime's stack slabs), and the coroutine is
            // suspended for good: nothing else uses that data now
            // (`GiveUpGuard::install`'s contract).
            unsafe { (hook.call)(hook.data) };
        }
        // Only now: a scope owner that sees this may end the scope, and
        // the hook above may still have been using what the owner lends.
        self.abandoned
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether it is suspended where it may not be unwound (see
    /// `parked_uninterruptible`).
    pub(super) fn parked_uninterruptible(&self) -> bool {
        self.parked_uninterruptible.get()
    }

    /// Whether the home worker is unwinding it at shutdown.
    pub(crate) fn is_unwinding(&self) -> bool {
        self.unwinding.get()
    }

    /// Mark that the home worker is unwinding this coroutine at shutdown
    /// (an unwind that rt's own raise points do not see start).
    pub(super) fn set_unwinding(&self) {
        self.unwinding.set(true);
        self.mask.unwind_starts();
    }

    /// A park or yield while the home worker tears this coroutine down:
    /// it cannot switch out, and nothing it waits for on this worker can
    /// happen. Where an interruption may be delivered (deferred cleanup,
    /// run after a frame caught the teardown), cut the wait short with a
    /// second teardown unwind, so that every remaining cleanup runs up to
    /// its first wait and teardown ends. Elsewhere — in a destructor
    /// mid-unwind (a second unwind would abort) or an uninterruptible
    /// region (a scope waiting for children, which are torn down first) —
    /// act as a spurious wake-up after letting other threads run.
    fn at_teardown_point(&self) {
        if self.mask.allows_delivery() {
            self.mask.begin_forced_unwind();
            crate::unwind::resume_unwind(Box::new(crate::unwind::TeardownSignal));
        }
        match super::worker::current_of(&self.shared) {
            Some(worker) => worker.teardown_wait(self),
            None => std::thread::yield_now(),
        }
    }

    /// Make the coroutine runnable if it is parked; see [`Unparker`].
    pub(crate) fn unpark(&self) {
        if self.state.unpark() == Unpark::Schedule {
            // SAFETY: we moved it out of IDLE, so the reference the worker
            // left with the IDLE state is ours now (`Worker::run_task`).
            let task = unsafe { Arc::from_raw(self) };
            self.shared.schedule_woken(task);
        }
    }

    /// Shutdown, on the home worker: if the coroutine is parked, take back
    /// the reference its IDLE state owns (it will never be scheduled now).
    pub(super) fn release_idle_reference(&self) {
        if self.state.unpark() == Unpark::Schedule {
            // SAFETY: as in `unpark`; the state says RUNNING but no queue
            // holds it, and teardown follows.
            drop(unsafe { Arc::from_raw(self) });
        }
    }

    /// Its id.
    pub(crate) fn id(&self) -> CoroutineId {
        self.id
    }

    /// Where it was spawned.
    pub(crate) fn spawned_at(&self) -> &'static std::panic::Location<'static> {
        self.spawned_at
    }

    /// About to park or yield at `site`: note it, and the time, for dumps
    /// and where its stack is, for prefetching (four plain stores; the
    /// clock is a shared, rarely written word).
    fn switch_out(&self, site: WaitSite) {
        // A local's address: this frame is a few words above the switch.
        let here = 0u8;
        self.parked_sp
            .set(std::hint::black_box(&here) as *const u8 as usize);
        self.wait_site.set(Some(site));
        self.switched_at.set(self.shared.clock.now());
    }

    /// Switch back to the worker (park or yield). A coroutine suspended
    /// where no interruption may be delivered is marked so (shutdown must
    /// not unwind it there); the common case costs two tests.
    #[inline]
    fn suspend(&self, why: Suspend) {
        let uninterruptible = !self.mask.suspending();
        if uninterruptible {
            self.parked_uninterruptible.set(true);
        }
        self.suspend_point.suspend(why);
        if uninterruptible {
            self.mask.resumed();
            self.parked_uninterruptible.set(false);
        }
    }

    /// What `rt::dump` shows of it. Only its home worker (or the coroutine
    /// itself) may call this: the fields read are its own.
    pub(super) fn snapshot(
        &self,
        state: super::dump::CoroutineState,
        now: u64,
    ) -> super::dump::CoroutineInfo {
        use super::dump::CoroutineState::{Parked, Runnable};
        // Where a parked coroutine waits, and where a runnable one resumes.
        let site = match state {
            Parked | Runnable => self.wait_site.get(),
            _ => None,
        };
        super::dump::CoroutineInfo {
            id: self.id,
            name: self.name.as_deref().map(str::to_owned),
            state,
            since: std::time::Duration::from_millis(now.saturating_sub(self.switched_at.get())),
            waiting_for: site.map(|s| s.why.as_str()),
            parked_at: site.map(|s| s.at),
            spawned_at: self.spawned_at,
            pending_defers: self.defer.pending(),
            worker: self.home(),
        }
    }

    /// About where its stack pointer was when it last switched out (0 for
    /// a task never run; stale for a reused one until it switches out).
    /// Read by its home worker only.
    pub(super) fn parked_sp(&self) -> usize {
        self.parked_sp.get()
    }

    /// A printable name: `coroutine 7 "name"`.
    pub(crate) fn describe(&self) -> String {
        match &self.name {
            Some(name) => format!("coroutine {} \"{name}\"", self.id),
            None => format!("coroutine {}", self.id),
        }
    }
}

thread_local! {
    /// The task running on this thread; null outside coroutines.
    static CURRENT: Cell<*const Task> = const { Cell::new(std::ptr::null()) };
}

/// The running task. Never inlined: LLVM may cache the address of a
/// thread-local across a call that switches stacks (see docs/scheduler.md),
/// so every use goes through a call that re-reads it.
#[inline(never)]
pub(super) fn current_ptr() -> *const Task {
    CURRENT.with(Cell::get)
}

#[inline(never)]
pub(super) fn set_current(task: *const Task) -> *const Task {
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
fn with_current<R>(f: impl FnOnce(Option<&Arc<Task>>) -> R) -> R {
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
struct GiveUp {
    /// The wait's own state (on the coroutine's stack).
    data: *const (),
    /// Gives up the wait described by `data`.
    call: unsafe fn(*const ()),
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

/// Who to wake, without holding a reference count: for a waiter that
/// cannot stop waiting before the waker is done with it (see
/// `chan/selector.rs`), so it saves two atomic operations per wait.
#[derive(Debug)]
pub(crate) enum WakeRef {
    /// A coroutine (inside its `Arc`).
    Task(*const Task),
    /// A thread outside any runtime.
    Thread(crate::loom::thread::Thread),
}

impl WakeRef {
    /// The coroutine's task, or null for a thread.
    pub(crate) fn task_ptr(&self) -> *const Task {
        match self {
            WakeRef::Task(task) => *task,
            WakeRef::Thread(_) => std::ptr::null(),
        }
    }

    /// The calling coroutine or thread.
    pub(crate) fn current() -> WakeRef {
        let task = current_ptr();
        if task.is_null() {
            WakeRef::Thread(crate::loom::thread::current())
        } else {
            WakeRef::Task(task)
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
            WakeRef::Task(task) => {
                // SAFETY: alive per the contract; tasks live in an `Arc`.
                unsafe { &**task }.unpark();
            }
            WakeRef::Thread(thread) => thread.unpark(),
        }
    }

    /// Start loading what [`unpark`](Self::unpark) will touch — a task's
    /// state word, home and runtime — for a caller that claims many
    /// waiters before it wakes them. A hint only: reads nothing.
    pub(crate) fn prefetch(&self) {
        if let WakeRef::Task(task) = self {
            let at = *task as usize;
            for offset in [
                std::mem::offset_of!(Task, state),
                std::mem::offset_of!(Task, home),
                std::mem::offset_of!(Task, shared),
            ] {
                super::prefetch::line(at + offset);
            }
        }
    }
}

/// What a parked coroutine waits for (`rt::dump` shows it as text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitReason {
    ChanReceive,
    ChanSend,
    Select,
    SelectNoArms,
    Sleep,
    Ticker,
    Yield,
    Join,
    Scope,
    BlockOn,
    Blocking,
    Dump,
    Mutex,
    RwLockRead,
    RwLockWrite,
    Condvar,
    WaitGroup,
    Semaphore,
    Barrier,
    Once,
    IoRead,
    IoWrite,
}

impl WaitReason {
    /// In a few words, naming the call.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            WaitReason::ChanReceive => "chan receive",
            WaitReason::ChanSend => "chan send",
            WaitReason::Select => "select",
            WaitReason::SelectNoArms => "select (no arms)",
            WaitReason::Sleep => "sleep",
            WaitReason::Ticker => "Ticker::tick",
            WaitReason::Yield => "yield",
            WaitReason::Join => "join",
            WaitReason::Scope => "scope",
            WaitReason::BlockOn => "block_on",
            WaitReason::Blocking => "rt::blocking",
            WaitReason::Dump => "rt::dump",
            WaitReason::Mutex => "Mutex::lock",
            WaitReason::RwLockRead => "RwLock::read",
            WaitReason::RwLockWrite => "RwLock::write",
            WaitReason::Condvar => "Condvar::wait",
            WaitReason::WaitGroup => "WaitGroup::wait",
            WaitReason::Semaphore => "Semaphore::acquire",
            WaitReason::Barrier => "Barrier::wait",
            WaitReason::Once => "Once::call_once",
            WaitReason::IoRead => "I/O read",
            WaitReason::IoWrite => "I/O write",
        }
    }
}

/// Where and why a coroutine waits, recorded when it parks and shown by
/// `rt::dump`: the public blocking call that parked it (captured with
/// `#[track_caller]`) and what it waits for. Two words, passed in
/// registers down to `park`, which stores them only if it really parks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WaitSite {
    /// What it waits for.
    pub(crate) why: WaitReason,
    /// The user's call that waits.
    pub(crate) at: &'static Location<'static>,
}

impl WaitSite {
    /// The caller's caller (a `#[track_caller]` public API), waiting for `why`.
    #[track_caller]
    pub(crate) fn here(why: WaitReason) -> WaitSite {
        WaitSite {
            why,
            at: Location::caller(),
        }
    }
}

/// Block the caller until its [`Unparker`] is used (or spuriously).
///
/// In a coroutine this parks the coroutine, not the worker thread; `site`
/// says where and why, for `rt::dump`.
pub(crate) fn park(site: WaitSite) {
    let task = current_ptr();
    if task.is_null() {
        park_thread(None);
        return;
    }
    // SAFETY: the running task outlives its own execution (see with_current).
    let task = unsafe { &*task };
    if task.unwinding.get() {
        task.at_teardown_point();
        return;
    }
    task.check_interrupts();
    if !task.state.try_consume_notification() {
        task.switch_out(site);
        task.suspend(Suspend::Park);
    }
    // No check on the way out: the wake-up may have completed the wait (a
    // value handed over, a lock passed on), and raising now would drop
    // that. The caller re-checks its condition; if it must wait again, the
    // check above delivers the request at the next park.
}

/// Park a plain thread until unparked, `until` or the end of its innermost
/// `rt::timeout` scope, whichever comes first (spurious returns allowed).
fn park_thread(until: Option<Instant>) {
    crate::unwind::deadline::with_thread_deadline(|scope| {
        crate::unwind::with_mask(|mask| scope.check(mask));
        // A deadline that cannot be delivered here must not wake the
        // thread over and over.
        let pending = scope
            .pending()
            .filter(|_| crate::unwind::with_mask(|m| m.allows_delivery()));
        let until = match (until, pending) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match until {
            Some(until) => {
                crate::loom::thread::park_timeout(until.saturating_duration_since(Instant::now()))
            }
            None => crate::loom::thread::park(),
        }
        crate::unwind::with_mask(|mask| scope.check(mask));
    });
}

/// [`park`] that also returns around `deadline`: `timer` is what
/// `scheduler::wake_at(deadline)` said — a coroutine with a timer parks
/// normally, anything else (a plain thread, a coroutine being torn down)
/// parks its thread with a timeout.
pub(crate) fn park_until(deadline: Instant, timer: bool, site: WaitSite) {
    if timer {
        park(site);
    } else {
        park_thread(Some(deadline));
    }
}

/// Let other coroutines on this worker run, then continue.
///
/// Outside a coroutine this is `std::thread::yield_now`.
///
/// ```
/// rt::run(|| {
///     let other = rt::spawn(|| 1);
///     rt::yield_now(); // on one worker, `other` may run now
///     assert_eq!(other.join().unwrap(), 1);
/// });
/// ```
#[track_caller]
pub fn yield_now() {
    // SAFETY: as in `park`.
    match unsafe { current_ptr().as_ref() } {
        Some(task) if task.unwinding.get() => task.at_teardown_point(),
        Some(task) => {
            task.check_interrupts();
            task.switch_out(WaitSite::here(WaitReason::Yield));
            task.suspend(Suspend::Yield);
            task.check_interrupts();
        }
        _ => std::thread::yield_now(),
    }
}

/// A coroutine's unique id. Ids are never reused within a process.
///
/// ```
/// let (a, b) = rt::run(|| (rt::spawn(|| ()), rt::spawn(|| ())));
/// assert_ne!(a.coroutine().id(), b.coroutine().id());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CoroutineId(NonZeroU64);

impl CoroutineId {
    /// The next unused id. Each thread takes ids from the global counter
    /// in blocks, so spawning threads do not contend on one cache line.
    pub(super) fn next() -> CoroutineId {
        const BLOCK: u64 = 1024;
        static NEXT_BLOCK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        thread_local! {
            /// Next id of this thread's block, and the block's end.
            static RANGE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
        }
        let id = RANGE.with(|range| {
            let (mut next, mut end) = range.get();
            if next == end {
                next = NEXT_BLOCK.fetch_add(BLOCK, Relaxed);
                end = next + BLOCK;
            }
            range.set((next + 1, end));
            next
        });
        CoroutineId(NonZeroU64::new(id).expect("ids start at 1"))
    }

    /// The id that `as_u64` gave, or `None` for 0.
    pub(crate) fn from_raw(id: u64) -> Option<CoroutineId> {
        NonZeroU64::new(id).map(CoroutineId)
    }

    /// The id as a number, for logs. Ids are unique and never reused, but
    /// not ordered across threads (each thread draws them in blocks).
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for CoroutineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A handle to a coroutine's identity: its id and name.
///
/// ```
/// rt::run(|| {
///     let me = rt::current().expect("inside a coroutine");
///     println!("I am {me:?}");
/// });
/// assert!(rt::current().is_none()); // a plain thread
/// ```
#[derive(Clone)]
pub struct Coroutine(pub(crate) Arc<Task>);

impl Coroutine {
    /// The coroutine's id.
    pub fn id(&self) -> CoroutineId {
        self.0.id
    }

    /// The coroutine's name, if it was given one
    /// (see [`CoroutineBuilder::name`](crate::CoroutineBuilder::name)).
    pub fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
}

impl fmt::Debug for Coroutine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coroutine")
            .field("id", &self.id().as_u64())
            .field("name", &self.name())
            .finish()
    }
}

/// The coroutine the caller runs in, or `None` on a plain thread.
///
/// ```
/// assert!(rt::current().is_none()); // a plain thread
/// let named = rt::run(|| rt::current().map(|c| c.id()));
/// assert!(named.is_some());
/// ```
pub fn current() -> Option<Coroutine> {
    with_current(|task| task.map(|t| Coroutine(t.clone())))
}
#[cfg(test)]
mod size_probe {
    #[test]
    fn print_task_size() {
        eprintln!("TASK SIZE {}", std::mem::size_of::<super::Task>());
    }
}
