//! A coroutine's unwinding state, kept in its task (Go's `g._defer` and
//! `g._panic`): its defer chain (the arena of `Frame::defer` closures), the
//! panic a deferred closure is handling, a `recover` made in a `defer!`,
//! and the record of a panic a frame re-raised; and the classification of
//! a caught payload (`classify`). `defer/mod.rs` builds frames, `recover`
//! and `defer!` on it; the coroutine harness (`scheduler/result.rs`) and
//! `rt::scope` classify what reaches them.

use std::any::Any;
use std::cell::{Cell, RefCell, UnsafeCell};

use super::arena::Arena;
use crate::panic::{Panic, PanicInfo};
use crate::scheduler::task;

/// Per-coroutine (or per-thread) defer bookkeeping.
#[derive(Default)]
pub(crate) struct DeferState {
    /// The deferred closures of every active frame, innermost on top.
    /// Only touched through `arena()`, never while user code runs.
    pub(crate) arena: UnsafeCell<Arena>,
    /// The panic handling of the frame whose deferred closure runs right
    /// now; null when no deferred closure runs (or a nested frame started).
    pub(crate) handling: Cell<*mut Handling>,
    /// Active `rt::frame`s.
    pub(crate) depth: Cell<usize>,
    /// `defer!` bodies running while the thread unwinds.
    pub(crate) guards_unwinding: Cell<u32>,
    /// `recover` was called in a `defer!` during a panic's unwind: the
    /// frame that catches that same panic must stop it (see `PendingRecover`).
    /// Boxed (rare, and the state lives in every task).
    pub(crate) recover_pending: Cell<Option<Box<PendingRecover>>>,
    /// Whether `recover_pending` is set: the one read a frame's exit pays.
    pub(crate) has_pending_recover: Cell<bool>,
    /// What a frame knew about the panic it re-raised, for the next frame
    /// that catches it. Boxed: it is rare, and the state lives in every task.
    pub(crate) inflight: RefCell<Option<Box<Inflight>>>,
    /// Panics raised here so far (counted by the panic hook): tells one
    /// panic from the next, so that an `inflight` record or a pending
    /// recover applies to the panic it was made for only.
    pub(crate) panics_raised: Cell<u64>,
}

/// A panic a frame re-raised, as the frame knew it.
///
/// Keyed by the payload's address and the number of panics raised so far:
/// a catch outside rt (a user's `catch_unwind`) may swallow the panic and
/// leave the record behind, and a later panic's payload may well sit at
/// the same address. A panic raised since makes the record stale. (So
/// does one raised and caught inside a destructor while this one unwinds:
/// then the next frame sees the panic without its chain, and without an
/// exit it interrupted.)
pub(crate) struct Inflight {
    /// The payload's address (the payload itself keeps unwinding).
    pub(crate) address: usize,
    /// `panics_raised` when it was made.
    pub(crate) raised: u64,
    /// Its location and chain.
    pub(crate) info: PanicInfo,
    /// The `exit` or cancellation the panic interrupted: a frame that
    /// recovers the panic carries it on (Go's PanicAfterGoexit).
    pub(crate) suspended: Option<Box<dyn Any + Send>>,
}

thread_local! {
    /// The defer state of code running outside any coroutine.
    static THREAD_STATE: DeferState = DeferState::default();
}

/// Whether the calling plain thread is inside an `rt::frame`.
pub(crate) fn thread_in_frame() -> bool {
    THREAD_STATE
        .try_with(|s| s.depth.get() > 0)
        .unwrap_or(false)
}

/// The caller's defer state: its coroutine's, or its thread's.
pub(crate) fn state() -> *const DeferState {
    match task::current_task() {
        Some(task) => &task.defer,
        None => THREAD_STATE.with(|s| s as *const DeferState),
    }
}

/// Run `f` with the caller's defer state.
pub(crate) fn with_state<R>(f: impl FnOnce(&DeferState) -> R) -> R {
    // SAFETY: the state outlives the caller: a coroutine's lives in its
    // task, a thread's until the thread exits, and neither is shared.
    f(unsafe { &*state() })
}

impl DeferState {
    /// The arena, for one push, pop or length check.
    #[allow(clippy::mut_from_ref)]
    pub(crate) fn arena(&self) -> &mut Arena {
        // SAFETY: the state belongs to one coroutine or thread, and every
        // caller uses the reference for a single push/pop/len that runs no
        // user code, so no two references are ever alive at once.
        unsafe { &mut *self.arena.get() }
    }

    /// Deferred closures waiting for their frames to exit (for dumps; call
    /// only while the owner is suspended, or from the owner).
    pub(crate) fn pending(&self) -> usize {
        self.arena().len()
    }
}

/// A `recover` made in a `defer!` while a panic unwound, for the frame
/// that will catch the unwind. It belongs to that one panic and that one
/// frame: a foreign `catch_unwind` may catch the panic first, and then the
/// frame's next unwind — an `exit`, a cancellation, another panic — is not
/// the one that was recovered.
pub(crate) struct PendingRecover {
    /// The depth of the frame that will catch it.
    pub(crate) depth: usize,
    /// Which raised panic it was (`DeferState::panics_raised`).
    pub(crate) raised: u64,
    /// Its message, to tell it from a payload re-raised without the hook.
    pub(crate) message: Option<String>,
}

impl PendingRecover {
    /// Whether `panic`, caught by the frame at `depth`, is the one recovered.
    pub(crate) fn matches(&self, depth: usize, panic: &Panic) -> bool {
        self.depth == depth
            && self.raised == with_state(|s| s.panics_raised.get())
            && self.message.as_deref() == panic.message()
    }
}

/// How a frame is exiting.
#[derive(Default)]
pub(crate) struct Handling {
    /// The panic propagating out of the frame, unless recovered.
    pub(crate) panic: Option<Panic>,
    /// An `exit`, cancellation or teardown unwinding through the frame.
    pub(crate) forced: Option<Box<dyn Any + Send>>,
    /// `panic` was raised while `forced` ran the defers (Go's
    /// PanicAfterGoexit): it is a real panic, on top. Recovered, `forced`
    /// carries on; unrecovered, the panic continues and `forced` is
    /// suspended under it.
    pub(crate) panic_over_forced: bool,
    /// What `recover` took (kept for the chain and for `Recovered`).
    pub(crate) recovered: Option<Panic>,
}

impl Handling {
    /// Whether `recover` may take the panic: a forced unwind on top
    /// cannot be recovered.
    pub(crate) fn recoverable(&self) -> bool {
        self.forced.is_none() || self.panic_over_forced
    }
}

/// What a `catch_unwind` caught.
pub(crate) enum Caught {
    /// `exit`, cancellation, or the runtime tearing the coroutine down:
    /// must be passed on, never recovered.
    Forced(Box<dyn Any + Send>),
    /// A panic.
    Panic(Panic),
}

/// A panic caught by a frame, with the forced unwind it interrupted in a
/// frame below, if any.
pub(crate) struct CaughtPanic {
    pub(crate) panic: Panic,
    pub(crate) suspended: Option<Box<dyn Any + Send>>,
}

/// Sort a caught payload, rebuilding the panic's location and chain if a
/// frame below re-raised it.
pub(crate) fn classify(payload: Box<dyn Any + Send>) -> Caught {
    match classify_for_frame(payload) {
        Ok(forced) => Caught::Forced(forced),
        // Leaving the frames: an interrupted exit or cancellation dies with
        // the panic (the coroutine or `rt::timeout` dies of it).
        Err(caught) => Caught::Panic(caught.panic),
    }
}

/// [`classify`] for a frame, which keeps what the panic interrupted.
pub(crate) fn classify_for_frame(
    payload: Box<dyn Any + Send>,
) -> Result<Box<dyn Any + Send>, CaughtPanic> {
    super::unwind_caught();
    if super::is_forced(&*payload) {
        super::end_forced_unwind();
        return Ok(payload);
    }
    let inflight = with_state(|s| s.inflight.borrow_mut().take());
    Err(match inflight {
        Some(inflight) if inflight.describes(&*payload) => {
            let Inflight {
                info, suspended, ..
            } = *inflight;
            CaughtPanic {
                panic: Panic::from_parts(payload, info),
                suspended,
            }
        }
        _ => CaughtPanic {
            panic: Panic::from_caught(payload),
            suspended: None,
        },
    })
}

impl Inflight {
    /// Whether it is the record of `payload`, unwinding now.
    pub(crate) fn describes(&self, payload: &(dyn Any + Send)) -> bool {
        let address = payload as *const (dyn Any + Send) as *const () as usize;
        self.address == address && self.raised == with_state(|s| s.panics_raised.get())
    }
}

/// The panic hook recorded a panic of the caller's.
pub(crate) fn panic_raised() {
    with_state(|s| s.panics_raised.set(s.panics_raised.get().wrapping_add(1)));
}

/// Drop the forced unwind suspended under the panic unwinding now if
/// `owned` says it is one an `rt::timeout` that is ending raised: it
/// cannot carry on past its own scope.
pub(crate) fn forget_suspended(
    payload: &(dyn Any + Send),
    owned: impl Fn(&(dyn Any + Send)) -> bool,
) {
    with_state(|s| {
        if let Some(inflight) = s.inflight.borrow_mut().as_mut() {
            if inflight.describes(payload) && inflight.suspended.as_deref().is_some_and(&owned) {
                inflight.suspended = None;
            }
        }
    });
}

/// Whether `payload`, caught while it unwinds, is an interruption or a
/// panic raised on top of one (which carries it on if recovered): either
/// way the caller is being interrupted (a scope passes that on to its
/// children).
pub(crate) fn is_interruption_in_flight(payload: &(dyn Any + Send)) -> bool {
    super::is_interruption(payload)
        || with_state(|s| {
            s.inflight.borrow().as_ref().is_some_and(|inflight| {
                inflight.describes(payload)
                    && inflight
                        .suspended
                        .as_deref()
                        .is_some_and(super::is_interruption)
            })
        })
}
