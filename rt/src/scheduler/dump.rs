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

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::task::WaitReason;
use super::task::{Unparker, WaitSite};
use super::{worker, Shared};
use crate::dump::{BusyWorker, CoroutineInfo, Dump};

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
        super::task::park_until(deadline, timer, WaitSite::here(WaitReason::Dump));
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
