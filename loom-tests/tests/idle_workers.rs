//! The idle-worker protocol: work published while workers go to sleep is
//! always picked up (no lost wakeup), whatever the interleaving.
#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use rt::model::{AfterWake, Idle, Sleeper};

const WORKERS: usize = 2;

/// Two workers and a producer; "work" is a counter standing in for the
/// shared queues. Each worker runs the scheduler's loop: take local work,
/// else search, else park (with the last-searcher re-check).
struct Runtime {
    idle: Idle,
    sleepers: Vec<Sleeper>,
    work: AtomicUsize,
    done: AtomicBool,
}

impl Runtime {
    fn notify_parked(&self) {
        if let Some(index) = self.idle.worker_to_notify() {
            assert_eq!(self.sleepers[index].wake(), AfterWake::Done); // no poller here
        }
    }

    fn try_take(&self) -> bool {
        let mut n = self.work.load(SeqCst);
        while n > 0 {
            match self.work.compare_exchange(n, n - 1, SeqCst, SeqCst) {
                Ok(_) => return true,
                Err(actual) => n = actual,
            }
        }
        false
    }

    fn worker(&self, index: usize) {
        let mut searching = false;
        while !self.done.load(SeqCst) {
            if !searching && self.idle.transition_worker_to_searching() {
                searching = true;
            }
            if searching && self.try_take() {
                if self.idle.transition_worker_from_searching() {
                    self.notify_parked();
                }
                // "Run" the task: the only one, so the model is finished.
                self.done.store(true, SeqCst);
                for sleeper in &self.sleepers {
                    assert_eq!(sleeper.wake(), AfterWake::Done);
                }
                return;
            }
            let was_searching = std::mem::replace(&mut searching, false);
            if self
                .idle
                .transition_worker_to_parked(index, was_searching)
                .last_searcher
                && self.work.load(SeqCst) > 0
            {
                self.notify_parked();
            }
            if !self.done.load(SeqCst) {
                self.sleepers[index].sleep();
            }
            if self.idle.transition_worker_from_parked(index) {
                searching = true;
            }
        }
    }
}

#[test]
fn work_published_while_workers_park_is_always_run() {
    loom::model(|| {
        let rt = Arc::new(Runtime {
            idle: Idle::new(WORKERS),
            sleepers: (0..WORKERS).map(|_| Sleeper::new()).collect(),
            work: AtomicUsize::new(0),
            done: AtomicBool::new(false),
        });
        let workers: Vec<_> = (0..WORKERS)
            .map(|i| {
                let rt = rt.clone();
                thread::spawn(move || rt.worker(i))
            })
            .collect();
        // The producer: publish, then rule 1. If the protocol lost the wake,
        // every worker would sleep forever: loom reports a deadlock.
        rt.work.fetch_add(1, SeqCst);
        rt.notify_parked();
        for w in workers {
            w.join().unwrap();
        }
        assert!(rt.done.load(SeqCst));
    });
}

/// The same protocol with spinning (`scheduler/worker/spin.rs`): a worker
/// out of work looks again before it sleeps, and a searcher that takes
/// work wakes a sleeper only if shared work is left (rule 2 as the
/// scheduler has it; rule 2 is about parallelism, no wake depends on it).
/// Two items, published one by one: both are run, whatever the
/// interleaving — none is stranded while every worker sleeps. (Without the
/// last searcher's re-check, rule 3, loom finds the deadlock.)
#[test]
fn spinning_workers_and_conditional_rule_2_lose_no_work() {
    const ITEMS: usize = 2;
    loom::model(|| {
        let rt = Arc::new(Runtime {
            idle: Idle::new(WORKERS),
            sleepers: (0..WORKERS).map(|_| Sleeper::new()).collect(),
            work: AtomicUsize::new(0),
            done: AtomicBool::new(false),
        });
        let ran = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..WORKERS)
            .map(|index| {
                let (rt, ran) = (rt.clone(), ran.clone());
                thread::spawn(move || {
                    let mut searching = false;
                    while ran.load(SeqCst) < ITEMS {
                        if !searching && rt.idle.transition_worker_to_searching() {
                            searching = true;
                        }
                        // Look, then spin: look once more before sleeping.
                        let took = (0..2).any(|_| searching && rt.try_take());
                        if took {
                            if rt.idle.transition_worker_from_searching()
                                && rt.work.load(SeqCst) > 0
                            {
                                rt.notify_parked();
                            }
                            searching = false;
                            if ran.fetch_add(1, SeqCst) + 1 == ITEMS {
                                for sleeper in &rt.sleepers {
                                    assert_eq!(sleeper.wake(), AfterWake::Done);
                                }
                            }
                            continue;
                        }
                        let was_searching = std::mem::replace(&mut searching, false);
                        if rt
                            .idle
                            .transition_worker_to_parked(index, was_searching)
                            .last_searcher
                            && rt.work.load(SeqCst) > 0
                        {
                            rt.notify_parked();
                        }
                        if ran.load(SeqCst) < ITEMS {
                            rt.sleepers[index].sleep();
                        }
                        if rt.idle.transition_worker_from_parked(index) {
                            searching = true;
                        }
                    }
                })
            })
            .collect();
        for _ in 0..ITEMS {
            rt.work.fetch_add(1, SeqCst);
            rt.notify_parked();
        }
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(ran.load(SeqCst), ITEMS);
    });
}
