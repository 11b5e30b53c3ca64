//! Each worker's timers: coroutines of this worker sleeping until a deadline.
//!
//! A coroutine only ever runs on its home worker, so it registers its
//! timers there, in a plain binary heap owned by the worker thread — no
//! lock, no atomics. The worker fires due timers before each scheduling
//! step (reading the clock only while it has timers), and an idle worker
//! parks exactly until its next deadline, never polling.
//!
//! Most timed waits end before their deadline: a read with a 10 s idle
//! timeout on a busy connection, an `rt::timeout` around a fast call.
//! Such a timer is cancelled when its wait ends (the [`TimerKey`] the
//! waiter holds): its slot is emptied at once, and its heap entry, now
//! stale, is skipped when it reaches the top. When stale entries outnumber
//! live ones the heap is rebuilt without them (as Go's `cleantimers` and
//! `adjusttimers` do), so the heap stays proportional to the live timers
//! — never one entry per request of the last idle-timeout period — and a
//! cancelled timer never wakes its coroutine spuriously.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::task::Task;

/// A heap entry: when, in which order, and which slot holds the task.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    /// When to wake.
    deadline: Instant,
    /// Registration order: equal deadlines fire first-come first-served;
    /// also tells a live slot from one reused by a later timer.
    seq: u64,
    /// Index into `Timers::slots`.
    slot: u32,
}

/// What the holder of a timer needs to cancel it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerKey {
    slot: u32,
    seq: u64,
}

/// The timers of one worker, earliest first.
#[derive(Default)]
pub(super) struct Timers {
    /// Pending timers, live and stale.
    heap: BinaryHeap<Reverse<Entry>>,
    /// Who each live timer unparks, with its `seq`; `None`: free.
    slots: Vec<Option<(u64, Arc<Task>)>>,
    /// Free slots.
    free: Vec<u32>,
    /// Heap entries whose timer was cancelled.
    stale: usize,
    /// Next registration number.
    seq: u64,
}

impl Timers {
    /// Unpark `task` at `deadline`, unless cancelled first.
    pub(super) fn add(&mut self, deadline: Instant, task: Arc<Task>) -> TimerKey {
        self.seq += 1;
        let seq = self.seq;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some((seq, task));
                slot
            }
            None => {
                self.slots.push(Some((seq, task)));
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 timers")
            }
        };
        self.heap.push(Reverse(Entry {
            deadline,
            seq,
            slot,
        }));
        TimerKey { slot, seq }
    }

    /// Forget the timer `key`, if it has not fired.
    pub(super) fn cancel(&mut self, key: TimerKey) {
        let Some(slot) = self.slots.get_mut(key.slot as usize) else {
            return; // cleared by shutdown
        };
        if slot.as_ref().is_some_and(|(seq, _)| *seq == key.seq) {
            *slot = None;
            self.free.push(key.slot);
            self.stale += 1;
            if self.stale > 32 && self.stale > self.heap.len() / 2 {
                self.drop_stale();
            }
        }
    }

    /// Rebuild the heap from its live entries.
    fn drop_stale(&mut self) {
        let slots = &self.slots;
        self.heap.retain(|Reverse(e)| is_live(slots, e));
        self.stale = 0;
    }

    /// Whether no timer is pending.
    pub(super) fn is_empty(&self) -> bool {
        self.heap.len() == self.stale
    }

    /// Pop every timer due at `now`; returns their tasks in firing order.
    pub(super) fn expired(&mut self, now: Instant) -> Vec<Arc<Task>> {
        let mut due = Vec::new();
        while self.heap.peek().is_some_and(|t| t.0.deadline <= now) {
            let entry = self.heap.pop().expect("peeked").0;
            if is_live(&self.slots, &entry) {
                let (_, task) = self.slots[entry.slot as usize].take().expect("live");
                self.free.push(entry.slot);
                due.push(task);
            } else {
                self.stale -= 1;
            }
        }
        due
    }

    /// How long until the next live timer, if any.
    pub(super) fn next_timeout(&mut self, now: Instant) -> Option<Duration> {
        while let Some(Reverse(entry)) = self.heap.peek() {
            if is_live(&self.slots, entry) {
                return Some(entry.deadline.saturating_duration_since(now));
            }
            self.heap.pop();
            self.stale -= 1;
        }
        None
    }

    /// Drop every timer (shutdown).
    pub(super) fn clear(&mut self) {
        self.heap.clear();
        self.slots.clear();
        self.free.clear();
        self.stale = 0;
    }
}

/// Whether `entry`'s timer is still pending (its slot was not cancelled,
/// or reused by a later timer).
fn is_live(slots: &[Option<(u64, Arc<Task>)>], entry: &Entry) -> bool {
    slots
        .get(entry.slot as usize)
        .and_then(Option::as_ref)
        .is_some_and(|(seq, _)| *seq == entry.seq)
}
