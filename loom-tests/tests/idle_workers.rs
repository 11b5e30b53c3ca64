//! The idle-worker protocol: work published while workers go to sleep is
//! always picked up (no lost wakeup), whatever the interleaving.
#![cfg(loom)]

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use rt::model::{Idle, Sleeper};

const WORKERS: usize = 2;

/// Two workers and a producer; "work" is a counter standing in for the
/// shared queues. Each worker runs the scheduler's loop: take work (as a
/// searcher), looking `looks` times — more than once is spinning
/// (`scheduler/worker/spin.rs`) — else sleep, with rule 3's re-check.
struct Runtime {
    idle: Idle,
    sleepers: Vec<Sleeper>,
    /// Published, not yet taken.
    work: AtomicUsize,
    /// Taken and "run".
    ran: AtomicUsize,
    /// How many items the producer publishes.
    items: usize,
}

impl Runtime {
    fn new(items: usize) -> Runtime {
        Runtime {
            idle: Idle::new(WORKERS),
            sleepers: (0..WORKERS).map(|_| Sleeper::new()).collect(),
            work: AtomicUsize::new(0),
            ran: AtomicUsize::new(0),
            items,
        }
    }

    fn notify_parked(&self) {
        loom_tests::notify_parked(&self.idle, &self.sleepers);
    }

    fn finished(&self) -> bool {
        self.ran.load(SeqCst) == self.items
    }

    fn worker(&self, index: usize, looks: usize) {
        let mut searching = false;
        while !self.finished() {
            if !searching && self.idle.transition_worker_to_searching() {
                searching = true;
            }
            if searching && (0..looks).any(|_| loom_tests::take_one(&self.work)) {
                // Rule 2, as the scheduler has it: wake a sleeper only if
                // shared work is left (parallelism; no wake depends on it).
                if self.idle.transition_worker_from_searching() && self.work.load(SeqCst) > 0 {
                    self.notify_parked();
                }
                searching = false;
                if self.ran.fetch_add(1, SeqCst) + 1 == self.items {
                    // The model is finished: let every worker see it.
                    for sleeper in &self.sleepers {
                        loom_tests::wake(sleeper);
                    }
                }
                continue;
            }
            let was_searching = std::mem::replace(&mut searching, false);
            searching = loom_tests::park(
                &self.idle,
                &self.sleepers,
                index,
                was_searching,
                || self.work.load(SeqCst) > 0,
                false,
                || self.finished(),
            );
        }
    }
}

/// Publish `items` one by one (each followed by rule 1) while the workers
/// run their loop; if a wake were lost, every worker would sleep forever
/// and loom would report the deadlock.
fn model(items: usize, looks: usize) {
    loom::model(move || {
        let rt = Arc::new(Runtime::new(items));
        let workers: Vec<_> = (0..WORKERS)
            .map(|i| {
                let rt = rt.clone();
                thread::spawn(move || rt.worker(i, looks))
            })
            .collect();
        for _ in 0..items {
            rt.work.fetch_add(1, SeqCst);
            rt.notify_parked();
        }
        for w in workers {
            w.join().unwrap();
        }
        assert!(rt.finished());
    });
}

#[test]
fn work_published_while_workers_park_is_always_run() {
    model(1, 1);
}

/// With spinning (a worker looks again before it sleeps) and two items:
/// both are run. Without rule 3's re-check loom finds the deadlock.
#[test]
fn spinning_workers_and_conditional_rule_2_lose_no_work() {
    model(2, 2);
}
