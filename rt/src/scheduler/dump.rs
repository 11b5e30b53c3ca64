//! `rt::dump` on the scheduler's side: each worker lists the coroutines it
//! owns, on its own thread.
//!
//! A coroutine's bookkeeping (where it parked, its deferred closures) is
//! plain per-coroutine data that only its home worker touches, and the
//! registry of started coroutines is the worker's own, so nothing is read
//! across threads: the dumper posts a [`Request`], flags every worker and
//! wakes it, and each worker answers at its next scheduling step — when
//! none of its coroutines runs, so the listing is consistent per worker.
//! A worker stuck inside one coroutine cannot answer; the dumper gives up
//! on it after a while and reports it as busy instead.

use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::task::WaitReason;
use super::task::{Unparker, WaitSite};
use super::{worker, Shared};
use crate::CoroutineId;

/// What a coroutine is doing at the moment of a [`dump`](crate::dump).
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

/// A worker that did not answer a [`dump`](crate::dump) in time: it has been running
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

/// Every live coroutine of a runtime at one moment, from [`dump`](crate::dump) or
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

/// The dumps in progress, for the workers to answer.
#[derive(Default)]
pub(crate) struct Requests {
    pending: Mutex<Vec<Arc<Request>>>,
}

impl Requests {
    /// The requests in progress (a copy, so no lock is held while answering).
    pub(super) fn pending(&self) -> Vec<Arc<Request>> {
        self.pending.lock().clone()
    }
}

/// One `rt::dump` call waiting for the workers.
pub(super) struct Request {
    /// The answers so far.
    answers: Mutex<Answers>,
    /// The dumper, woken when the last worker answers.
    requester: Unparker,
    /// The precise clock when the dump began: every "since" is against it.
    pub(super) now: u64,
}

/// What the workers have answered.
struct Answers {
    /// Every worker's coroutines so far.
    rows: Vec<CoroutineInfo>,
    /// By worker index: whether it answered.
    answered: Vec<bool>,
    /// The dumper has stopped waiting: later answers are dropped. (A worker
    /// may still hold the request, copied from the pending list.)
    closed: bool,
}

impl Request {
    /// Whether worker `index` still has to answer.
    pub(super) fn wants(&self, index: usize) -> bool {
        let answers = self.answers.lock();
        !answers.closed && !answers.answered[index]
    }

    /// Worker `index` lists its coroutines.
    pub(super) fn answer(&self, index: usize, rows: Vec<CoroutineInfo>) {
        let mut answers = self.answers.lock();
        if answers.closed || std::mem::replace(&mut answers.answered[index], true) {
            return;
        }
        answers.rows.extend(rows);
        if answers.answered.iter().all(|&a| a) {
            drop(answers);
            self.requester.unpark();
        }
    }

    fn all_answered(&self) -> bool {
        self.answers.lock().answered.iter().all(|&a| a)
    }
}

/// List every coroutine of the runtime, waiting up to `patience` for busy
/// workers. Called from a coroutine (which parks meanwhile, so its own
/// worker keeps answering other dumps) or from a plain thread.
pub(crate) fn collect(shared: &Arc<Shared>, patience: Duration) -> Dump {
    let workers = shared.remotes.len();
    let request = Arc::new(Request {
        answers: Mutex::new(Answers {
            rows: Vec::new(),
            answered: vec![false; workers],
            closed: false,
        }),
        requester: Unparker::current(),
        now: shared.clock.precise(),
    });
    shared.dumps.pending.lock().push(request.clone());
    // The caller's own worker cannot answer while the caller runs on it:
    // list it here (the caller shows as running).
    let own = worker::current_of(shared);
    if let Some(worker) = own {
        request.answer(worker.index(), worker.list_coroutines(request.now));
    }
    for (index, remote) in shared.remotes.iter().enumerate() {
        if own.is_none_or(|worker| worker.index() != index) {
            remote
                .dump_wanted
                .store(true, std::sync::atomic::Ordering::Release);
            shared.unpark_worker(index);
        }
    }
    let deadline = Instant::now() + patience;
    let timer = super::wake_at(deadline);
    while !request.all_answered() && Instant::now() < deadline {
        super::task::park_until(deadline, timer.is_some(), WaitSite::here(WaitReason::Dump));
    }
    shared
        .dumps
        .pending
        .lock()
        .retain(|r| !Arc::ptr_eq(r, &request));
    let (mut coroutines, answered) = {
        let mut answers = request.answers.lock();
        answers.closed = true;
        (std::mem::take(&mut answers.rows), answers.answered.clone())
    };
    let busy_workers = (0..workers)
        .filter(|&index| !answered[index])
        .map(|index| busy_worker(shared, index))
        .collect();
    coroutines.sort_by_key(|c| c.id);
    // An unstarted coroutine stolen between two workers' answers may be
    // listed by both.
    coroutines.dedup_by_key(|c| c.id);
    Dump {
        coroutines,
        unlisted_unstarted: shared.injector.len(),
        busy_workers,
    }
}

/// What is known of a worker that did not answer: what it runs.
fn busy_worker(shared: &Shared, index: usize) -> BusyWorker {
    let running = shared.running_on(index);
    BusyWorker {
        index,
        running: running.map(|(id, _)| id),
        spawned_at: running.map(|(_, at)| at),
    }
}
