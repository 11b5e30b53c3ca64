//! Parking: why a coroutine waits ([`WaitReason`], [`WaitSite`]), `park`
//! and `park_until`, and `yield_now`.

use std::panic::Location;
use std::time::Instant;

use super::current::current_ptr;

use crate::coroutine::Suspend;

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
