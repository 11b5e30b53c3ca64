//! Go's `defer` / `panic` / `recover`, in Rust.
//!
//! A [`Frame`] is what a Go function is: [`frame`] runs a closure, and the
//! closures it [`defer`](Frame::defer)s run when it exits — normally, by
//! `?`, by panic, by [`exit`], or by cancellation — last registered first.
//! `defer!` is the block-scoped Rust flavour. [`recover`], called while a
//! deferred closure of a panicking frame runs, stops the panic.
//!
//! How it works (see `docs/defer.md`): the frame *catches* the unwind
//! first and only then runs its deferred closures, outside any `Drop`, so a
//! deferred closure may panic (the new panic replaces the old one, which
//! stays reachable through [`Panic::previous`]), block, park or recover.
//! Every coroutine (or, outside the runtime, every thread) owns a
//! [`DeferState`]: the arena holding its frames' deferred closures and the
//! panic being handled.

use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::unwind::unwinding::{
    classify_for_frame, panic_raised, state, with_state, CaughtPanic, DeferState, Handling,
    Inflight, PendingRecover,
};
use crate::unwind::{self, resume_unwind, ExitSignal};

use crate::panic::Panic;
use crate::scheduler::task;

thread_local! {
    /// This thread hands every panic on to a coroutine (an `rt::blocking`
    /// pool thread): record, never print.
    static RECORD_ON_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Make the hook record (not print) panics raised on this thread: its
/// panics are resumed in the coroutine that waits for it, which reports
/// them if nobody recovers them.
pub(crate) fn record_panics_on_this_thread() {
    RECORD_ON_THREAD.with(|r| r.set(true));
}

/// Install the recording hook once per process, chaining to the previous
/// one: inside a coroutine or an `rt::frame` a panic is recorded (printed
/// only if nobody recovers it), elsewhere the previous hook prints it.
pub(crate) fn install_hook() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if panics_are_recorded() {
                crate::panic::record(info);
                panic_raised();
                unwind::unwind_starts();
            } else {
                previous(info);
            }
        }));
    });
}

/// Whether the panic hook should record panics instead of printing them:
/// inside a coroutine, or inside an `rt::frame` on a plain thread.
pub(crate) fn panics_are_recorded() -> bool {
    task::in_coroutine()
        || RECORD_ON_THREAD.try_with(Cell::get).unwrap_or(false)
        || crate::unwind::unwinding::thread_in_frame()
}

/// A Go-style function scope: the closures it defers run when it exits.
///
/// Created by [`frame`]. `'env` is what deferred closures may borrow:
/// anything that outlives the `frame` call.
///
/// ```
/// let r = rt::frame(|f| {
///     f.defer(|| println!("runs last"));
///     "value"
/// });
/// assert_eq!(r.unwrap(), "value");
/// ```
pub struct Frame<'env> {
    /// The defer state of the coroutine or thread the frame runs on.
    state: *const DeferState,
    /// Nesting depth of this frame (1 = outermost).
    depth: usize,
    /// Invariant in 'env, and neither Send nor Sync (the state is per thread).
    env: PhantomData<(&'env mut &'env (), *const ())>,
}

impl<'env> Frame<'env> {
    /// Register `f` to run when the frame exits, after everything deferred
    /// later. `f` captures by `move`, so it sees the values it captured when
    /// it was deferred (Go evaluates a deferred call's arguments then too).
    ///
    /// Panics if a frame nested inside this one is active (a deferred call
    /// belongs to the innermost function, as in Go).
    ///
    /// ```
    /// let log = std::cell::RefCell::new(Vec::new());
    /// rt::frame(|f| {
    ///     for i in 0..3 {
    ///         let log = &log;
    ///         f.defer(move || log.borrow_mut().push(i));
    ///     }
    /// })
    /// .unwrap();
    /// assert_eq!(log.into_inner(), [2, 1, 0]);
    /// ```
    pub fn defer(&self, f: impl FnOnce() + 'env) {
        // SAFETY: see `with_state`; a Frame never leaves its thread.
        let state = unsafe { &*self.state };
        assert_eq!(
            state.depth.get(),
            self.depth,
            "Frame::defer on a frame that is not the innermost active frame"
        );
        state.arena().push(f);
    }
}

/// Run `body` as a Go-style function: when it exits, the closures it
/// deferred run in reverse order; a panic is caught first, so they may
/// recover it.
///
/// Returns `Ok(value)`, or `Err(Recovered)` if a deferred closure called
/// [`recover`] and stopped a panic. A panic nobody recovers continues to the
/// enclosing frame (and, at the top of a plain thread, is printed Go-style).
/// [`exit`] and cancellation run every deferred closure and continue.
///
/// ```
/// let r = rt::frame(|f| {
///     f.defer(|| {
///         let p = rt::recover().expect("panicking");
///         assert_eq!(p.message(), Some("boom"));
///     });
///     panic!("boom");
/// });
/// assert_eq!(r.unwrap_err().panic().message(), Some("boom"));
/// ```
pub fn frame<'env, T>(body: impl FnOnce(&Frame<'env>) -> T) -> Result<T, Recovered> {
    // This function is the frame that catches the unwind: it is kept small
    // (everything else is out of line, non-generic) because the unwinder
    // scans the catching function's call-site table in both of its phases.
    let entered = enter();
    let frame = Frame {
        state: entered.state,
        depth: entered.depth,
        env: PhantomData,
    };
    match catch_unwind(AssertUnwindSafe(|| body(&frame))) {
        Ok(value) => match leave(&entered, None) {
            None => Ok(value),
            Some(recovered) => Err(recovered),
        },
        Err(payload) => Err(leave(&entered, Some(payload))
            .expect("a caught panic either continues or is recovered")),
    }
}

/// Where a frame started.
struct Entered {
    /// The defer state of the coroutine or thread.
    state: *const DeferState,
    /// Arena entries below this belong to enclosing frames.
    mark: usize,
    /// Nesting depth of the new frame.
    depth: usize,
    /// The panic handling of the deferred closure this frame runs inside
    /// of, if any; hidden while the frame runs.
    outer_handling: *mut Handling,
}

/// Start a frame: count it, and hide the enclosing deferred closure's panic
/// (recover() inside a nested frame must not see it).
#[inline(never)]
fn enter() -> Entered {
    install_hook();
    let state_ptr = state();
    // SAFETY: see `with_state`.
    let state = unsafe { &*state_ptr };
    let depth = state.depth.get() + 1;
    state.depth.set(depth);
    let outer_handling = state.handling.replace(std::ptr::null_mut());
    Entered {
        state: state_ptr,
        mark: state.arena().len(),
        depth,
        outer_handling,
    }
}

/// End a frame: sort what its body threw (if anything), run its deferred
/// closures, and decide. Returns `None` to return the body's value,
/// `Some(Recovered)` if a deferred closure recovered, or re-raises.
#[inline(never)]
fn leave(entered: &Entered, thrown: Option<Box<dyn Any + Send>>) -> Option<Recovered> {
    // SAFETY: see `with_state`.
    let state = unsafe { &*entered.state };
    let mut handling = Handling::default();
    // A recover made for this frame is used now or never.
    let pending = if state.has_pending_recover.get() {
        take_pending_recover(state, entered.depth)
    } else {
        None
    };
    if let Some(payload) = thrown {
        match classify_for_frame(payload) {
            Ok(forced) => handling.forced = Some(forced),
            Err(CaughtPanic { panic, suspended }) => {
                // A panic that interrupted an exit or cancellation below
                // is on top of it here too.
                handling.panic_over_forced = suspended.is_some();
                handling.forced = suspended;
                if pending
                    .as_ref()
                    .is_some_and(|p| p.matches(entered.depth, &panic))
                {
                    // A defer! recovered it while it unwound.
                    handling.recovered = Some(panic.recovered_copy());
                } else {
                    handling.panic = Some(panic);
                }
            }
        }
    }
    run_deferred(state, entered.mark, &mut handling);
    state.handling.set(entered.outer_handling);
    state.depth.set(entered.depth - 1);
    finish(state, handling)
}

/// Take the pending recover if it was made for the frame at `depth` (or a
/// deeper one that is gone).
#[cold]
fn take_pending_recover(state: &DeferState, depth: usize) -> Option<Box<PendingRecover>> {
    let pending = state.recover_pending.take()?;
    if pending.depth >= depth {
        state.has_pending_recover.set(false);
        Some(pending)
    } else {
        state.recover_pending.set(Some(pending));
        None
    }
}

/// Run the deferred closures above `mark`, last first, each with
/// `handling` visible to `recover`.
///
/// One `catch_unwind` covers the whole run; when a deferred closure panics
/// the run resumes with the next one inside a fresh `catch_unwind`.
fn run_deferred(state: &DeferState, mark: usize, handling: &mut Handling) {
    loop {
        state.handling.set(handling);
        let result = catch_unwind(AssertUnwindSafe(|| {
            while state.arena().len() > mark {
                let popped = state.arena().pop_into().expect("non-empty");
                // SAFETY: consumed at once, before anything else touches the arena.
                unsafe { popped.run() };
            }
        }));
        state.handling.set(std::ptr::null_mut());
        let Err(payload) = result else {
            return;
        };
        // corosensei's teardown unwind must reach the coroutine's root as
        // itself: nothing raised during it (a wait cut short raises a
        // second one; a deferred closure may panic) replaces it.
        let tearing_down = handling
            .forced
            .as_ref()
            .is_some_and(|f| crate::coroutine::is_forced_unwind(&**f));
        match classify_for_frame(payload) {
            Ok(forced) => {
                // exit(), cancellation or teardown inside a deferred
                // closure: the remaining defers still run, then it
                // continues. The newest wins, over a panic too (Go's
                // GoexitInPanic: the panic is abandoned).
                if !tearing_down {
                    handling.forced = Some(forced);
                    handling.panic_over_forced = false;
                }
            }
            Err(CaughtPanic {
                mut panic,
                suspended,
            }) => {
                // The new panic replaces the one being handled (or the one
                // just recovered), which stays in its chain. Raised while
                // an exit or cancellation runs the defers, it goes on top
                // of it (Go's PanicAfterGoexit). One it interrupted in a
                // nested frame is the newest forced unwind here.
                let replaced = handling.panic.take().or_else(|| handling.recovered.take());
                panic.set_previous(replaced);
                handling.panic = Some(panic);
                if !tearing_down {
                    if let Some(suspended) = suspended {
                        handling.forced = Some(suspended);
                    }
                    handling.panic_over_forced = handling.forced.is_some();
                }
            }
        }
    }
}

/// Decide what the frame returns (`None`: its value; `Some`: recovered),
/// or re-raise.
fn finish(state: &DeferState, handling: Handling) -> Option<Recovered> {
    let suspended = match handling.forced {
        // A panic raised on top of it and not recovered continues instead.
        Some(forced) if handling.panic_over_forced && handling.panic.is_some() => Some(forced),
        Some(forced) => {
            unwind::begin_forced_unwind();
            resume_unwind(forced);
        }
        None => None,
    };
    if let Some(panic) = handling.panic {
        let panic = if state.depth.get() == 0 && !task::in_coroutine() {
            // Leaving the outermost frame of a plain thread: the hook did
            // not print this panic when it was raised, so print it now.
            let thread = std::thread::current();
            eprint!(
                "{}",
                panic.report(&format!(
                    "thread '{}'",
                    thread.name().unwrap_or("<unnamed>")
                ))
            );
            panic
        } else {
            panic
        };
        let (payload, info) = panic.into_parts();
        let address = &*payload as *const (dyn Any + Send) as *const () as usize;
        *state.inflight.borrow_mut() = Some(Box::new(Inflight {
            address,
            raised: state.panics_raised.get(),
            info,
            suspended,
        }));
        resume_unwind(payload);
    }
    handling.recovered.map(Recovered)
}

/// Stop the panic of the frame whose deferred closure is running, and
/// return it. Returns `None` when not panicking, for a second call, inside a
/// nested [`frame`] started by the deferred closure (it has its own panic
/// state), and for [`exit`] and cancellation (which cannot be stopped).
/// A panic raised by a deferred closure while an exit or cancellation runs
/// them is a real panic (Go's PanicAfterGoexit): `recover` stops it, and
/// then the exit or cancellation carries on — nothing after the frame
/// runs; unrecovered, the coroutine dies of the panic.
///
/// Unlike Go, a helper function called by the deferred closure may recover
/// too: "directly in a deferred call" is a property of Go's stack frames,
/// and rt tracks the deferred call, not the frames below it.
///
/// ```
/// assert!(rt::recover().is_none()); // not panicking: as in Go
/// let r = rt::frame(|f| {
///     f.defer(|| {
///         assert!(rt::recover().is_some());
///         assert!(rt::recover().is_none()); // recovered once
///     });
///     panic!("stop me");
/// });
/// assert!(r.is_err());
/// ```
pub fn recover() -> Option<Panic> {
    with_state(|state| {
        let handling = state.handling.get();
        if !handling.is_null() {
            // SAFETY: `handling` points at the Handling of the frame whose
            // deferred closure is running on this thread; it outlives it.
            let handling = unsafe { &mut *handling };
            if !handling.recoverable() {
                return None;
            }
            let panic = handling.panic.take()?;
            handling.recovered = Some(panic.recovered_copy());
            return Some(panic);
        }
        // A defer! running while the thread unwinds, inside a frame that
        // will catch the panic: stop it there.
        let in_guard = state.guards_unwinding.get() > 0;
        if in_guard
            && state.depth.get() > 0
            && !unwind::forced_in_flight()
            && !recovered_this_panic(state)
        {
            if task::current_task().is_some_and(|t| t.is_unwinding()) {
                return None;
            }
            let panic = Panic::from_recorded();
            state.recover_pending.set(Some(Box::new(PendingRecover {
                depth: state.depth.get(),
                raised: state.panics_raised.get(),
                message: panic.message().map(str::to_owned),
            })));
            state.has_pending_recover.set(true);
            return Some(panic);
        }
        None
    })
}

/// Whether a `defer!` already recovered the panic unwinding now.
fn recovered_this_panic(state: &DeferState) -> bool {
    let pending = state.recover_pending.take();
    let recovered = pending
        .as_ref()
        .is_some_and(|p| p.raised == state.panics_raised.get());
    state.recover_pending.set(pending);
    recovered
}

/// End the calling coroutine (Go's `runtime.Goexit`): every deferred
/// closure of every frame runs, nothing can recover it, and its `join`
/// reports [`JoinError::is_exited`](crate::JoinError::is_exited). On a plain
/// thread it unwinds the thread the same way.
///
/// ```
/// let h = rt::run(|| {
///     rt::spawn(|| {
///         rt::frame(|f| {
///             f.defer(|| println!("cleanup runs"));
///             rt::exit();
///         })
///     })
/// });
/// assert!(h.join().unwrap_err().is_exited());
/// ```
pub fn exit() -> ! {
    unwind::begin_forced_unwind();
    resume_unwind(Box::new(ExitSignal))
}

/// The panic a frame's deferred closure recovered; [`frame`] returns it.
///
/// ```
/// let r = rt::frame(|f| {
///     f.defer(|| drop(rt::recover()));
///     panic!("oops");
/// });
/// let recovered = r.unwrap_err();
/// assert_eq!(recovered.panic().message(), Some("oops"));
/// assert!(recovered.to_string().contains("oops"));
/// ```
pub struct Recovered(Panic);

impl Recovered {
    /// The recovered panic (message, location, chain; its payload went to
    /// whoever called [`recover`]).
    ///
    /// ```
    /// let r: Result<(), _> = rt::frame(|f| {
    ///     f.defer(|| drop(rt::recover()));
    ///     panic!("x");
    /// });
    /// assert!(r.unwrap_err().panic().location().is_some());
    /// ```
    pub fn panic(&self) -> &Panic {
        &self.0
    }
}

impl fmt::Display for Recovered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "recovered from panic: {}", self.0)
    }
}

impl fmt::Debug for Recovered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Recovered").field(&self.0).finish()
    }
}

impl std::error::Error for Recovered {}

/// Runs a closure when dropped: what [`defer!`](crate::defer!) expands to.
#[doc(hidden)]
pub struct DeferGuard<F: FnOnce()> {
    /// The deferred code.
    f: ManuallyDrop<F>,
}

impl<F: FnOnce()> DeferGuard<F> {
    /// Defer `f` to the end of the enclosing block.
    #[inline]
    pub fn new(f: F) -> Self {
        DeferGuard {
            f: ManuallyDrop::new(f),
        }
    }
}

impl<F: FnOnce()> Drop for DeferGuard<F> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: taken exactly once, here.
        let f = unsafe { ManuallyDrop::take(&mut self.f) };
        if std::thread::panicking() {
            run_while_unwinding(f);
        } else {
            f();
        }
    }
}

/// A `defer!` body running during an unwind: `recover` in it may stop the
/// panic at the enclosing frame.
#[cold]
fn run_while_unwinding(f: impl FnOnce()) {
    let state = state();
    // SAFETY: see `with_state`.
    let state = unsafe { &*state };
    state.guards_unwinding.set(state.guards_unwinding.get() + 1);
    struct Leave<'a>(&'a DeferState);
    impl Drop for Leave<'_> {
        fn drop(&mut self) {
            self.0
                .guards_unwinding
                .set(self.0.guards_unwinding.get() - 1);
        }
    }
    let _leave = Leave(state);
    f();
}

/// Defer code to the end of the enclosing block, Rust-style: it runs when
/// the block exits, normally or by unwinding, after any `defer!` declared
/// later in the block.
///
/// Inside it, [`recover`] works during a panic: the panic then stops at the
/// enclosing [`frame`] (which returns `Err(Recovered)`). Unlike a
/// `Frame::defer` closure it runs inside `Drop`, so it must not panic while
/// the thread unwinds (Rust aborts on a panic during unwinding).
///
/// ```
/// let log = std::cell::RefCell::new(Vec::new());
/// {
///     rt::defer! { log.borrow_mut().push("registered first, runs last"); }
///     rt::defer! { log.borrow_mut().push("registered second, runs first"); }
///     log.borrow_mut().push("body");
/// }
/// assert_eq!(log.into_inner(), ["body", "registered second, runs first", "registered first, runs last"]);
/// ```
#[macro_export]
macro_rules! defer {
    ($($body:tt)*) => {
        let _rt_defer_guard = $crate::DeferGuard::new(|| { $($body)* });
    };
}
