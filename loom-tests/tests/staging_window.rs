//! A worker that is not searching takes a batch of two from the injector
//! (`Worker::take_batch`: stolen into `staging`, then moved to its own
//! queue) and runs the first, which blocks its thread until the second has
//! run. While the batch was in `staging` it was in no queue a searcher
//! looks at, so the other worker may have searched and gone to sleep with
//! no timer: the batch's arrival in the queue must be published as new
//! work (rule 1 of `scheduler/idle.rs`). Without that call loom finds the
//! deadlock.
#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use loom_tests::take_one;
use rt::model::{AfterWake, Idle, Sleeper};

/// Takes the batch.
const TAKER: usize = 0;
/// Searches, and must end up running the second coroutine.
const SEARCHER: usize = 1;

struct Runtime {
    idle: Idle,
    sleepers: Vec<Sleeper>,
    /// The injector: two coroutines, the first waits for the second.
    injector: AtomicUsize,
    /// The taker's own queue.
    local: AtomicUsize,
    /// Whether the second coroutine ran.
    second_ran: AtomicBool,
    /// Where a worker blocked in the first coroutine waits.
    blocked: Vec<Sleeper>,
}

impl Runtime {
    fn notify_parked(&self) {
        loom_tests::notify_parked(&self.idle, &self.sleepers);
    }

    fn finished(&self) -> bool {
        self.second_ran.load(SeqCst)
    }

    /// Run the first coroutine (blocks until the second ran) or the second.
    fn run(&self, me: usize, first: bool) {
        if first {
            while !self.finished() {
                self.blocked[me].sleep();
            }
        } else {
            self.second_ran.store(true, SeqCst);
            for blocked in &self.blocked {
                assert_eq!(blocked.wake(), AfterWake::Done);
            }
            loom_tests::wake(&self.sleepers[SEARCHER]);
        }
    }

    /// `next_local`'s `take_from_injector`, not searching.
    fn taker(&self) {
        while !self.finished() {
            while self.injector.load(SeqCst) == 0 && !self.finished() {
                thread::yield_now();
            }
            match self.injector.swap(0, SeqCst) {
                2 => {
                    // The second leaves `staging` for the queue: published.
                    self.local.fetch_add(1, SeqCst);
                    self.notify_parked();
                    self.run(TAKER, true);
                }
                1 => self.run(TAKER, false),
                _ => {}
            }
        }
    }

    /// The scheduler's loop: search (the injector, then the taker's queue,
    /// declined once), else park with rule 3.
    fn searcher(&self) {
        let mut searching = false;
        let mut declined_once = false;
        while !self.finished() {
            if !searching && self.idle.transition_worker_to_searching() {
                searching = true;
            }
            let mut declined = false;
            if searching {
                let queued = self.injector.load(SeqCst);
                let found = if queued > 0 && take_one(&self.injector) {
                    Some(queued == 2)
                } else if self.local.load(SeqCst) > 0 {
                    if std::mem::replace(&mut declined_once, true) {
                        take_one(&self.local).then_some(false)
                    } else {
                        declined = true;
                        None
                    }
                } else {
                    None
                };
                if let Some(first) = found {
                    let work_left = || self.injector.load(SeqCst) + self.local.load(SeqCst) > 0;
                    if self.idle.transition_worker_from_searching() && work_left() {
                        self.notify_parked();
                    }
                    searching = false;
                    self.run(SEARCHER, first);
                    continue;
                }
            }
            let was_searching = std::mem::replace(&mut searching, false);
            searching = loom_tests::park(
                &self.idle,
                &self.sleepers,
                SEARCHER,
                was_searching,
                || self.injector.load(SeqCst) > 0 || (!declined && self.local.load(SeqCst) > 0),
                declined,
                || self.finished(),
            );
        }
    }
}

#[test]
fn a_batch_taken_by_a_worker_that_then_blocks_is_still_run() {
    loom::model(|| {
        let rt = Arc::new(Runtime {
            idle: Idle::new(2),
            sleepers: (0..2).map(|_| Sleeper::new()).collect(),
            injector: AtomicUsize::new(0),
            local: AtomicUsize::new(0),
            second_ran: AtomicBool::new(false),
            blocked: (0..2).map(|_| Sleeper::new()).collect(),
        });
        let taker = {
            let rt = rt.clone();
            thread::spawn(move || rt.taker())
        };
        let searcher = {
            let rt = rt.clone();
            thread::spawn(move || rt.searcher())
        };
        // A thread outside the runtime spawns both, then rule 1.
        rt.injector.fetch_add(2, SeqCst);
        rt.notify_parked();
        taker.join().unwrap();
        searcher.join().unwrap();
    });
}
