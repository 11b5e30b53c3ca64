//! `rt::blocking`: run blocking code on a thread pool while the coroutine
//! parks, so a slow system call (file I/O, DNS, a C library) does not stall
//! the worker and every coroutine queued behind it.
//!
//! One process-wide pool: threads are started on demand up to
//! [`MAX_THREADS`] and exit after [`KEEP_ALIVE`] without work. Jobs queue
//! FIFO when every thread is busy.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::unwind::resume_unwind;
use std::sync::OnceLock;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::scheduler::task::WaitReason;

/// Most threads the pool runs at once (tokio's default is the same).
pub(crate) const MAX_THREADS: usize = 512;
/// An idle pool thread exits after this long without work.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct State {
    /// Jobs no thread has taken yet.
    jobs: VecDeque<Job>,
    /// Threads waiting for a job.
    idle: usize,
    /// Wake-ups given to idle threads and not yet taken by one: each
    /// submission that counts on an idle thread claims one, so two
    /// submissions never count on the same idle thread.
    wakeups: usize,
    /// Threads alive.
    threads: usize,
}

/// What a submission must do to get its job run.
#[derive(Debug, PartialEq, Eq)]
enum Start {
    /// Wake an idle thread nobody has claimed (one wake-up is claimed).
    WakeIdle,
    /// Start a thread (it is counted already).
    SpawnThread,
    /// Every thread is busy and the pool is full: the job waits its turn.
    Queue,
}

impl State {
    /// A job was just queued: claim an idle thread for it, or a new one.
    fn on_submit(&mut self) -> Start {
        if self.idle > self.wakeups {
            self.wakeups += 1;
            Start::WakeIdle
        } else if self.threads < MAX_THREADS {
            self.threads += 1;
            Start::SpawnThread
        } else {
            Start::Queue
        }
    }
}

#[derive(Default)]
struct Pool {
    state: Mutex<State>,
    work: Condvar,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(Pool::default)
}

impl Pool {
    fn submit(&'static self, job: Job) {
        let mut state = self.state.lock();
        state.jobs.push_back(job);
        match state.on_submit() {
            Start::WakeIdle => {
                self.work.notify_one();
            }
            Start::SpawnThread => {
                let spawned = std::thread::Builder::new()
                    .name("rt-blocking".into())
                    .spawn(move || self.run());
                if let Err(err) = spawned {
                    state.threads -= 1;
                    if state.threads == 0 {
                        // Nobody will ever run the job: say so instead of hanging.
                        panic!("rt::blocking: cannot start a pool thread: {err}");
                    }
                }
            }
            Start::Queue => {}
        }
    }

    fn run(&self) {
        crate::defer::record_panics_on_this_thread();
        let mut state = self.state.lock();
        loop {
            if let Some(job) = state.jobs.pop_front() {
                drop(state);
                // A job catches its closure's panics; this catches one from
                // dropping a result nobody took, so the thread (and the
                // pool's count of threads) survives it.
                let _ = catch_unwind(AssertUnwindSafe(job));
                state = self.state.lock();
                continue;
            }
            state.idle += 1;
            let mut timed_out = false;
            while state.wakeups == 0 && !timed_out {
                timed_out = self.work.wait_for(&mut state, KEEP_ALIVE).timed_out();
            }
            state.idle -= 1;
            if state.wakeups > 0 {
                state.wakeups -= 1;
            } else if state.jobs.is_empty() {
                state.threads -= 1;
                return;
            }
        }
    }
}

/// Run `f` on the blocking thread pool and park the calling coroutine
/// until it returns; its result (or panic) comes back here. Outside a
/// coroutine `f` simply runs on the calling thread.
///
/// Use it for anything that blocks a thread: file system calls, DNS
/// lookups, compression, C libraries. If the coroutine is cancelled while
/// waiting, `f` still runs to completion and its result is dropped. A
/// panic in `f` continues in the coroutine, as if raised there (it is
/// printed only if nobody recovers it).
///
/// ```
/// let n = rt::run(|| rt::blocking(|| std::fs::read_dir(".").map(|d| d.count()).unwrap_or(0)));
/// assert!(n > 0);
///
/// // Many coroutines can wait on slow calls at once, on a single worker:
/// // eight jobs that each wait until all eight are running finish only
/// // because the pool runs them side by side while the worker moves on.
/// use std::sync::{Arc, Barrier};
/// let rt = rt::Builder::new().workers(1).build().unwrap();
/// let all_running = Arc::new(Barrier::new(8));
/// rt.block_on(|| {
///     let hs: Vec<_> = (0..8)
///         .map(|_| {
///             let all_running = all_running.clone();
///             rt::spawn(move || rt::blocking(move || all_running.wait().is_leader()))
///         })
///         .collect();
///     let leaders = hs.into_iter().map(|h| h.join().unwrap()).filter(|&l| l).count();
///     assert_eq!(leaders, 1);
/// });
/// ```
#[track_caller]
pub fn blocking<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if !crate::scheduler::task::in_coroutine() {
        return f();
    }
    let (sender, receiver) = crate::chan::bounded(1);
    pool().submit(Box::new(move || {
        let result = catch_unwind(AssertUnwindSafe(f));
        // The coroutine may have been cancelled meanwhile: then nobody
        // receives, and the result is dropped here (a panic from its
        // destructor is caught by the pool thread).
        let _ = sender.try_send(result);
    }));
    match receiver.recv_for(WaitReason::Blocking) {
        Ok(Ok(value)) => value,
        Ok(Err(payload)) => resume_unwind(payload),
        Err(_) => unreachable!("the blocking job always sends its result"),
    }
}

#[cfg(test)]
mod tests {
    use super::{Start, State, MAX_THREADS};

    #[test]
    fn submissions_never_count_twice_on_one_idle_thread() {
        // One idle thread, two jobs submitted before it wakes: the second
        // must start a thread (it used to count on the same idle one, and
        // jobs that wait for each other deadlocked).
        let mut state = State {
            idle: 1,
            threads: 1,
            ..State::default()
        };
        assert_eq!(state.on_submit(), Start::WakeIdle);
        assert_eq!(state.on_submit(), Start::SpawnThread);
        assert_eq!(state.threads, 2);
        assert_eq!(state.wakeups, 1);
    }

    #[test]
    fn a_full_pool_queues() {
        let mut state = State {
            threads: MAX_THREADS,
            ..State::default()
        };
        assert_eq!(state.on_submit(), Start::Queue);
    }
}
