//! [`dump`]: every live coroutine of a runtime — what it waits for, where,
//! for how long — like the goroutine dump Go prints on `SIGQUIT`.
//!
//! Each worker lists its own coroutines on its own thread (see
//! `scheduler/dump.rs`), so a dump costs the running program nothing until
//! it is asked for: a coroutine only notes, when it parks, the call it
//! parked in (`#[track_caller]`), why, and a coarse timestamp.

use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use crate::scheduler::{self, Shared};
use crate::CoroutineId;

/// How long [`dump`] waits for a worker that is busy inside one coroutine
/// before reporting it as busy instead of listing its coroutines.
const PATIENCE: Duration = Duration::from_millis(500);

/// What a coroutine is doing at the moment of a [`dump`].
///
/// ```
/// let dump = rt::run(rt::dump);
/// assert_eq!(dump.coroutines[0].state, rt::CoroutineState::Running); // the caller
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CoroutineState {
    /// Running on its worker right now (the coroutine that called `dump`).
    Running,
    /// Ready to run, waiting for its worker: woken, or yielded.
    Runnable,
    /// Waiting for something (a channel, a lock, a timer, I/O, a join...).
    Parked,
    /// Spawned, not started yet.
    Unstarted,
}

impl fmt::Display for CoroutineState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CoroutineState::Running => "running",
            CoroutineState::Runnable => "runnable",
            CoroutineState::Parked => "parked",
            CoroutineState::Unstarted => "unstarted",
        })
    }
}

/// One coroutine in a [`Dump`].
///
/// ```
/// use std::time::Duration;
/// let rt = rt::Builder::new().workers(1).build()?;
/// let (tx, rx) = rt::chan::bounded::<()>(0);
/// let (waiter, line) = (rt.spawn(move || rx.recv()), line!()); // spawned here
/// while rt.dump().coroutines.iter().all(|c| c.state != rt::CoroutineState::Parked) {
///     std::thread::sleep(Duration::from_millis(1));
/// }
/// let c = &rt.dump().coroutines[0];
/// assert_eq!(c.waiting_for, Some("chan receive"));
/// assert_eq!(c.spawned_at.line(), line);
/// assert_eq!(c.parked_at.unwrap().file(), file!()); // the `rx.recv()` above
/// drop(tx);
/// waiter.join().unwrap().unwrap_err();
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CoroutineInfo {
    /// Its id.
    pub id: CoroutineId,
    /// Its name, if it was given one.
    pub name: Option<String>,
    /// What it is doing.
    pub state: CoroutineState,
    /// How long since it parked, yielded or was spawned, whichever was
    /// last: for a parked coroutine, how long it has been waiting. Never
    /// shorter than the truth, and at most ~25 ms longer (the runtime
    /// stamps parks with a coarse clock).
    pub since: Duration,
    /// What a parked coroutine waits for ("chan receive", "sleep",
    /// "Mutex::lock", "I/O read", ...); for a runnable one, what it last
    /// waited for ("yield" after `yield_now`).
    pub waiting_for: Option<&'static str>,
    /// The call that parked it (for a runnable one: where it will resume):
    /// the caller of rt's blocking function — a line of yours, or of the
    /// library that called rt (a `BufReader` over a `TcpStream`, say).
    pub parked_at: Option<&'static Location<'static>>,
    /// Where it was spawned.
    pub spawned_at: &'static Location<'static>,
    /// Closures deferred with [`Frame::defer`](crate::Frame::defer) that
    /// will run when their frames exit (`defer!` guards are ordinary
    /// destructors on its stack, not counted).
    pub pending_defers: usize,
    /// The worker it runs on (`None` before it starts).
    pub worker: Option<usize>,
}

/// A worker that did not answer a [`dump`] in time: it has been running
/// one coroutine without a park point, so its coroutines are not listed.
///
/// ```
/// let dump = rt::run(rt::dump);
/// assert!(dump.busy_workers.is_empty()); // nobody is stuck
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BusyWorker {
    /// The worker's index.
    pub index: usize,
    /// The coroutine it runs (asked of the worker's thread with a signal;
    /// `None` if it did not answer).
    pub running: Option<CoroutineId>,
    /// Where that coroutine was spawned.
    pub spawned_at: Option<&'static Location<'static>>,
}

/// Every live coroutine of a runtime at one moment, from [`dump`] or
/// [`Runtime::dump`](crate::Runtime::dump). Its `Display` is a Go-style
/// report, one paragraph per coroutine.
///
/// Each worker lists its coroutines between two of them, so a worker's
/// part is consistent, but workers answer at slightly different moments.
///
/// ```
/// let dump = rt::run(|| {
///     let _sleeper = rt::spawn(|| rt::sleep(std::time::Duration::from_secs(1)));
///     rt::dump()
/// });
/// println!("{dump}");
/// assert!(dump.coroutines.len() >= 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Dump {
    /// The coroutines, by id.
    pub coroutines: Vec<CoroutineInfo>,
    /// Coroutines spawned from outside the runtime that no worker has
    /// taken yet: counted, not listed.
    pub unlisted_unstarted: usize,
    /// Workers that did not answer in time.
    pub busy_workers: Vec<BusyWorker>,
}

/// Every live coroutine of the caller's runtime (or of the default runtime
/// [`run`](crate::run) uses, when called from outside any runtime; an
/// empty dump if that one has not started).
///
/// Waits up to half a second for a worker stuck inside one coroutine (a
/// blocking call, a long computation), then reports it in
/// [`Dump::busy_workers`] instead. Called from a coroutine, it parks
/// meanwhile.
///
/// ```
/// rt::run(|| {
///     let dump = rt::dump();
///     let me = rt::current().unwrap().id();
///     assert!(dump.coroutines.iter().any(|c| c.id == me));
/// });
/// ```
pub fn dump() -> Dump {
    match scheduler::current_shared().or_else(crate::runtime::default_shared) {
        Some(shared) => collect(&shared),
        None => Dump::default(),
    }
}

/// [`dump`] of one runtime.
pub(crate) fn collect(shared: &Arc<Shared>) -> Dump {
    scheduler::dump::collect(shared, PATIENCE)
}

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "rt: {} coroutine(s)", self.coroutines.len())?;
        for c in &self.coroutines {
            writeln!(f)?;
            write!(f, "coroutine {}", c.id)?;
            if let Some(name) = &c.name {
                write!(f, " \"{name}\"")?;
            }
            write!(f, " [{}", c.state)?;
            if let (CoroutineState::Parked, Some(why)) = (c.state, c.waiting_for) {
                write!(f, ": {why}")?;
            }
            write!(f, ", {} ms", c.since.as_millis())?;
            if c.pending_defers > 0 {
                write!(f, ", {} deferred", c.pending_defers)?;
            }
            if let Some(worker) = c.worker {
                write!(f, ", worker {worker}")?;
            }
            writeln!(f, "]:")?;
            if let Some(at) = c.parked_at {
                let verb = match c.state {
                    CoroutineState::Parked => "parked at",
                    _ => "resumes at",
                };
                writeln!(f, "    {verb} {at}")?;
            }
            writeln!(f, "    spawned at {}", c.spawned_at)?;
        }
        if self.unlisted_unstarted > 0 {
            writeln!(
                f,
                "\n{} more unstarted coroutine(s) spawned from outside the runtime",
                self.unlisted_unstarted
            )?;
        }
        for busy in &self.busy_workers {
            write!(f, "\nworker {} did not answer: it is busy", busy.index)?;
            match (busy.running, busy.spawned_at) {
                (Some(id), Some(at)) => writeln!(f, " running coroutine {id} (spawned at {at})")?,
                _ => writeln!(f, " inside one coroutine")?,
            }
        }
        Ok(())
    }
}

/// Print a dump of `shared` to stderr whenever the process gets `SIGQUIT`,
/// until the returned handle is closed (see [`Builder::dump_on_sigquit`]).
///
/// [`Builder::dump_on_sigquit`]: crate::Builder::dump_on_sigquit
pub(crate) fn print_on_sigquit(
    shared: std::sync::Weak<Shared>,
) -> std::io::Result<(signal_hook::iterator::Handle, std::thread::JoinHandle<()>)> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGQUIT])?;
    let handle = signals.handle();
    let thread = std::thread::Builder::new()
        .name("rt-sigquit".into())
        .spawn(move || {
            crate::panic::abort_on_panic("the SIGQUIT printer", || {
                for _ in signals.forever() {
                    let Some(shared) = shared.upgrade() else {
                        break;
                    };
                    let dump = collect(&shared);
                    eprint!("rt: SIGQUIT\n{dump}");
                }
            });
        })?;
    Ok((handle, thread))
}
