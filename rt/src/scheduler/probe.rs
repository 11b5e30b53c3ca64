//! Which coroutine is a worker running? Asked of a worker that seems stuck
//! (by the monitor, or by a dump it did not answer), never of a busy one.
//!
//! Publishing the running coroutine on every resume costs two stores per
//! switch, a few percent of a channel ping-pong, for an answer needed
//! once in a blue moon. Instead, like Go's asynchronous preemption, the
//! asker sends the worker thread a signal (`SIGURG`, which Go uses for the
//! same reason: programs rarely do). The handler runs on that thread, in
//! the middle of whatever the coroutine is doing, reads the thread's
//! current task pointer — alive, since it is running right there — and
//! publishes its id and spawn site with a sequence number. The handler is
//! installed with `SA_RESTART`, so interrupted system calls resume (a
//! `sleep` or a `poll` sees `EINTR`, which std and well-written libraries
//! retry), and it is sent at most once per stuck episode.

use std::panic::Location;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::task::{self, CoroutineId};
use super::worker;

/// The signal that asks.
const SIGNAL: libc::c_int = libc::SIGURG;

/// How long to wait for the handler's answer.
const ANSWER_WITHIN: Duration = Duration::from_millis(100);

/// One worker's side: how to reach its thread, and its answer.
#[derive(Default)]
pub(crate) struct Probe {
    /// The worker's thread while it runs (`None` before and after), locked
    /// while signalling so the thread cannot exit in between.
    thread: Mutex<Option<libc::pthread_t>>,
    /// Bumped (Release) by the handler after writing the answer.
    answers: AtomicU64,
    /// The coroutine it was running (0: none).
    id: AtomicU64,
    /// Where that coroutine was spawned.
    spawned_at: AtomicPtr<Location<'static>>,
}

impl Probe {
    /// The worker thread starts (called on it).
    pub(crate) fn attach(&self) {
        // SAFETY: pthread_self has no preconditions.
        *self.thread.lock() = Some(unsafe { libc::pthread_self() });
    }

    /// The worker thread is about to exit (called on it).
    pub(crate) fn detach(&self) {
        *self.thread.lock() = None;
    }

    /// The coroutine the worker is running and where it was spawned, or
    /// `None` if it runs none (or did not answer in time).
    pub(crate) fn ask(&self) -> Option<(CoroutineId, &'static Location<'static>)> {
        install();
        let before = self.answers.load(Ordering::Acquire);
        {
            let thread = self.thread.lock();
            let thread = (*thread)?;
            // SAFETY: the thread is alive: it clears `thread` (under this
            // lock) before it exits. The handler for SIGNAL is installed.
            if unsafe { libc::pthread_kill(thread, SIGNAL) } != 0 {
                return None;
            }
        }
        let give_up = Instant::now() + ANSWER_WITHIN;
        while self.answers.load(Ordering::Acquire) == before {
            if Instant::now() >= give_up {
                return None;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let id = CoroutineId::from_raw(self.id.load(Ordering::Relaxed))?;
        let spawned_at = self.spawned_at.load(Ordering::Relaxed);
        // SAFETY: made from a `&'static Location` by the handler.
        Some((id, unsafe { spawned_at.as_ref() }?))
    }

    /// In the signal handler, on the worker's thread: publish what runs.
    fn answer(&self) {
        let (id, spawned_at) = match task::current_task() {
            Some(task) => (
                task.id().as_u64(),
                std::ptr::from_ref(task.spawned_at()).cast_mut(),
            ),
            None => (0, std::ptr::null_mut()),
        };
        self.id.store(id, Ordering::Relaxed);
        self.spawned_at.store(spawned_at, Ordering::Relaxed);
        self.answers.fetch_add(1, Ordering::Release);
    }
}

/// The handler in place before ours, called for signals not meant for us.
struct Previous(std::cell::UnsafeCell<libc::sigaction>);

// SAFETY: written once inside `INSTALL` before our handler can run, only
// read afterwards.
unsafe impl Sync for Previous {}

static PREVIOUS: Previous = Previous(std::cell::UnsafeCell::new(
    // SAFETY: an all-zero sigaction is a valid "SIG_DFL, no flags" value.
    unsafe { std::mem::zeroed() },
));
static INSTALL: Once = Once::new();

/// Install the handler (once per process).
fn install() {
    INSTALL.call_once(|| {
        // SAFETY: a plain sigaction call with valid, initialized structs;
        // PREVIOUS is written before the new handler is in place.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler as *const () as usize;
            // On the alternate stack: the coroutine it interrupts may be
            // near the end of its own.
            action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(SIGNAL, &action, PREVIOUS.0.get());
        }
    });
}

/// Async-signal-safe in practice: reads two thread-locals and plain
/// immutable fields of the running task, and stores to atomics.
extern "C" fn handler(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    match worker::current_probe() {
        Some(probe) => probe.answer(),
        None => {
            // Not a worker: someone else's SIGURG. Pass it on.
            // SAFETY: PREVIOUS was filled by sigaction before we were installed.
            let previous = unsafe { &*PREVIOUS.0.get() };
            let target = previous.sa_sigaction;
            if target == libc::SIG_DFL || target == libc::SIG_IGN {
                return; // SIGURG's default action is to ignore it
            }
            if previous.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: a handler installed with SA_SIGINFO has this type.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(target) };
                f(signal, info, context);
            } else {
                // SAFETY: a handler installed without SA_SIGINFO has this type.
                let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(target) };
                f(signal);
            }
        }
    }
}
