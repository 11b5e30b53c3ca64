//! A scheduled coroutine ([`Task`]): what it runs, its state word, home,
//! per-coroutine state (defer chain, locals, result, interruption), and
//! its transitions. Around it: the running task (`current.rs`), who to
//! wake (`wake.rs`), parking and why (`wait.rs`), and the public identity
//! [`Coroutine`] (`coroutine.rs`).

mod coroutine;
mod current;
#[cfg(feature = "tracing")]
pub(crate) mod span;
mod wait;
mod wake;

pub use self::coroutine::{current, Coroutine, CoroutineId};
pub(crate) use self::current::{current_arc, current_task, in_coroutine, overflow_at};
pub(super) use self::current::{current_ptr, set_current, set_current_in_worker_loop};
pub use self::wait::yield_now;
pub(crate) use self::wait::{park, park_until, WaitReason, WaitSite};
use self::wake::GiveUp;
pub(crate) use self::wake::{GiveUpGuard, Unparker, UnparkerRef};

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

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
    /// The waiter its blocking calls reuse while nothing else holds it
    /// (see `Waiter::current`); emptied when the coroutine ends, since the
    /// waiter holds the task. Touched only by the coroutine itself.
    waiter: std::cell::UnsafeCell<Option<Arc<crate::scheduler::waiter::Waiter>>>,
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
    /// Its `tracing` span, entered while it runs (see `span.rs`).
    #[cfg(feature = "tracing")]
    pub(crate) span: span::CoroutineSpan,
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
            waiter: std::cell::UnsafeCell::new(None),
            cancel_requested: AtomicBool::new(false),
            cancelling: Cell::new(false),
            mask: crate::unwind::Mask::default(),
            injected: Cell::new(None),
            scope_depth: std::sync::atomic::AtomicU32::new(0),
            abandoned: AtomicBool::new(false),
            give_up: Cell::new(None),
            deadline: crate::unwind::deadline::Deadline::default(),
            #[cfg(feature = "tracing")]
            span: span::CoroutineSpan::default(),
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
        #[cfg(feature = "tracing")]
        self.span.clear();
        self.suspend_point = SuspendPoint::new();
        self.result = TaskResult::new();
        self.defer = DeferState::default();
        self.locals = LocalValues::default();
        // Emptied when it finished (`release_waiter`); a cached waiter
        // would hold the task, which is unshared here.
        debug_assert!(self.waiter.get_mut().is_none());
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
    /// (Inlined into the worker loop, its one caller: the hottest path.)
    #[inline(always)]
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
        #[cfg(feature = "tracing")]
        self.span.exit();
        self.suspend_point.suspend(why);
        #[cfg(feature = "tracing")]
        self.span.enter();
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

    /// Run `f` on the running coroutine's cached waiter slot.
    ///
    /// # Safety
    ///
    /// Only the coroutine itself may call this (on its home thread, while
    /// it runs), and `f` must not reach this again.
    pub(crate) unsafe fn with_waiter_slot<R>(
        &self,
        f: impl FnOnce(&mut Option<Arc<crate::scheduler::waiter::Waiter>>) -> R,
    ) -> R {
        // SAFETY: forwarded to our caller: one thread, no overlap.
        f(unsafe { &mut *self.waiter.get() })
    }

    /// The coroutine has finished (returned, or been unwound at teardown):
    /// drop its cached waiter, which holds the task (a cycle otherwise).
    /// Not earlier: code still runs on the coroutine after its body
    /// returns (an unread result's destructor may block, and cache a
    /// waiter again). Its home worker only.
    pub(super) fn release_waiter(&self) {
        // SAFETY: the coroutine is done, so nothing else touches its slot;
        // we are its home worker.
        drop(unsafe { self.with_waiter_slot(Option::take) });
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
