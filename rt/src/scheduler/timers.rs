//! Each worker's timers: coroutines of this worker sleeping until a deadline.
//!
//! A coroutine only ever runs on its home worker, so it registers its
//! timers there, in a plain binary heap owned by the worker thread — no
//! lock, no atomics. The worker fires due timers before each scheduling
//! step (reading the clock only while it has timers), and an idle worker
//! parks exactly until its next deadline, never polling.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::task::Task;

/// One pending wake-up.
struct Timer {
    /// When to wake.
    deadline: Instant,
    /// Registration order: equal deadlines fire first-come first-served.
    seq: u64,
    /// Who to unpark.
    task: Arc<Task>,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}

impl Eq for Timer {}

impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timer {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

/// The timers of one worker, earliest first.
#[derive(Default)]
pub(super) struct Timers {
    /// Pending timers.
    heap: BinaryHeap<Reverse<Timer>>,
    /// Next registration number.
    seq: u64,
}

impl Timers {
    /// Unpark `task` at `deadline`. A timer that outlives its purpose (the
    /// sleep was cancelled) fires anyway: unparking a coroutine that waits
    /// for something else is a spurious wake-up, which every park allows.
    pub(super) fn add(&mut self, deadline: Instant, task: Arc<Task>) {
        self.seq += 1;
        self.heap.push(Reverse(Timer {
            deadline,
            seq: self.seq,
            task,
        }));
    }

    pub(super) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Pop every timer due at `now`; returns their tasks in firing order.
    pub(super) fn expired(&mut self, now: Instant) -> Vec<Arc<Task>> {
        let mut due = Vec::new();
        while self.heap.peek().is_some_and(|t| t.0.deadline <= now) {
            due.push(self.heap.pop().expect("peeked").0.task);
        }
        due
    }

    /// How long until the next timer, if any.
    pub(super) fn next_timeout(&self, now: Instant) -> Option<Duration> {
        self.heap
            .peek()
            .map(|t| t.0.deadline.saturating_duration_since(now))
    }

    /// Drop every timer (shutdown).
    pub(super) fn clear(&mut self) {
        self.heap.clear();
    }
}
