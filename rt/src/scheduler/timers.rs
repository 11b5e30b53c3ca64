//! Each worker's timers: coroutines of this worker sleeping until a deadline.
//!
//! A coroutine only ever runs on its home worker, so it registers its
//! timers there, in structures owned by the worker thread — no lock, no
//! atomics. The worker fires due timers before each scheduling step, and
//! an idle worker parks exactly until its next deadline, never polling.
//!
//! Reading the clock is the expensive part of that check (~20 ns, a sixth
//! of a channel round trip), and a busy server always has a timer
//! pending (an idle timeout per connection). So the worker reads it only
//! while the first timer may be due by the runtime's coarse clock (within
//! two of its ticks, 50 ms), every `GLOBAL_QUEUE_INTERVAL`th step in case
//! that clock fell behind (its monitor thread starved), and after every
//! sleep.
//!
//! Most timed waits end before their deadline: a read with a 10 s idle
//! timeout on a busy connection, an `rt::timeout` around a fast call. So
//! adding and cancelling a timer must be cheap, and a cancelled timer must
//! leave nothing behind. Timers due at the same time therefore share a
//! *bucket*: a list of timers in registration order, linked by index, from
//! which a cancelled timer unlinks itself at once. Only buckets are kept in
//! a binary heap by due time, one entry each; an empty bucket leaves the
//! heap when it reaches the top (or when empty buckets outnumber the rest,
//! as Go's `cleantimers` / `adjusttimers` rebuild the timer heap).
//!
//! To make timers share buckets, a deadline is rounded up to a multiple of
//! a power of two at most 1/1024 of its distance from now: a 10 s idle
//! timeout is due on an 8.4 ms grid, and the reads of 200,000 requests a
//! second join a few hundred buckets instead of pushing and popping a heap
//! entry each; a 1 ms sleep is rounded by at most 512 ns. A timer never
//! fires early, and at most 0.1% of its distance from the worker's last
//! clock reading late (a deadline within [`NEAR`] of that reading is
//! rounded against a fresh one), plus the worker's own scheduling delay.
//! Timers in one bucket fire in registration order; across buckets, by
//! due time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// No node, no bucket: the end of a list.
const NIL: u32 = u32::MAX;
/// Recently created buckets remembered for timers due at the same time.
const RECENT: usize = 16;
/// A deadline is rounded to a grid of at most 1/2^`ROUNDING_SHIFT` of its
/// distance (1/1024: 0.1% late at most).
const ROUNDING_SHIFT: u32 = 10;
/// A deadline nearer than this to the worker's last clock reading is
/// rounded against a fresh one.
const NEAR: Duration = Duration::from_millis(64);

/// One timer: who it wakes, and its place in its bucket's list.
struct Node<T> {
    /// Who to wake; `None`: the node is free.
    payload: Option<T>,
    /// Registration number: tells this timer from a later one that reuses
    /// the node.
    seq: u64,
    /// The bucket whose list holds it.
    bucket: u32,
    /// Neighbours in that list.
    prev: u32,
    next: u32,
}

/// Timers due at the same (rounded) time, oldest first.
struct Bucket {
    /// When they are due, in nanoseconds since `Timers::epoch`.
    due: u64,
    /// First and last timer of the list (`NIL`: empty).
    head: u32,
    tail: u32,
}

/// What the holder of a timer needs to cancel it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerKey {
    node: u32,
    seq: u64,
}

/// The timers of one worker, earliest first. `T` is who a timer wakes (a
/// task; plain numbers in the unit tests).
pub(super) struct Timers<T> {
    /// Deadlines are kept as nanoseconds since this instant.
    epoch: Instant,
    /// The clock when the worker last looked: how far away a new deadline
    /// is, which sets its rounding.
    now: Instant,
    /// When the first open bucket is due (`None`: no bucket is open), as
    /// an `Instant`, so that the check on every scheduling step converts
    /// nothing.
    first: Option<Instant>,
    /// Every timer, live or free.
    nodes: Vec<Node<T>>,
    /// Free nodes.
    free_nodes: Vec<u32>,
    /// Every bucket; those in `heap` are open.
    buckets: Vec<Bucket>,
    /// Buckets out of the heap, for reuse.
    free_buckets: Vec<u32>,
    /// The open buckets by due time, then creation order: `(due, seq,
    /// bucket)`.
    heap: BinaryHeap<Reverse<(u64, u64, u32)>>,
    /// Recently opened buckets, by a hash of their due time: a new timer
    /// due then joins the bucket instead of opening another.
    recent: [u32; RECENT],
    /// Live timers.
    live: usize,
    /// Open buckets whose list is empty.
    empty_buckets: usize,
    /// Next registration number (timers and buckets).
    seq: u64,
}

impl<T> Timers<T> {
    pub(super) fn new() -> Timers<T> {
        let epoch = Instant::now();
        Timers {
            epoch,
            now: epoch,
            first: None,
            nodes: Vec::new(),
            free_nodes: Vec::new(),
            buckets: Vec::new(),
            free_buckets: Vec::new(),
            heap: BinaryHeap::new(),
            recent: [NIL; RECENT],
            live: 0,
            empty_buckets: 0,
            seq: 0,
        }
    }

    /// `at` in nanoseconds since `epoch` (earlier instants: 0, already due).
    fn nanos(&self, at: Instant) -> u64 {
        let nanos = at.saturating_duration_since(self.epoch).as_nanos();
        u64::try_from(nanos).unwrap_or(u64::MAX)
    }

    /// Wake `payload` at `deadline` (or up to 0.1% of its distance later,
    /// see the module), unless cancelled first.
    pub(super) fn add(&mut self, deadline: Instant, payload: T) -> TimerKey {
        // The worker reads the clock only while a timer may be due (see
        // the module), so `now` may be old: fine for a far deadline (the
        // grid is a 1/1024 of a distance that includes the age), not for
        // a near one, or none was pending.
        if self.live == 0
            || self
                .now
                .checked_add(NEAR)
                .is_none_or(|near| deadline < near)
        {
            self.now = Instant::now();
        }
        let due = round_up(self.nanos(deadline), self.nanos(self.now));
        let bucket = self.bucket_due(due);
        self.seq += 1;
        let seq = self.seq;
        let node = Node {
            payload: Some(payload),
            seq,
            bucket,
            prev: self.buckets[bucket as usize].tail,
            next: NIL,
        };
        let index = insert(&mut self.nodes, &mut self.free_nodes, node);
        let list = &mut self.buckets[bucket as usize];
        if list.tail == NIL {
            list.head = index;
            self.empty_buckets -= 1;
        } else {
            self.nodes[list.tail as usize].next = index;
        }
        self.buckets[bucket as usize].tail = index;
        self.live += 1;
        TimerKey { node: index, seq }
    }

    /// The open bucket for timers due at `due`: a recent one, or a new one.
    fn bucket_due(&mut self, due: u64) -> u32 {
        let slot = recent_slot(due);
        let recent = self.recent[slot];
        if recent != NIL && self.buckets[recent as usize].due == due {
            return recent;
        }
        let bucket = Bucket {
            due,
            head: NIL,
            tail: NIL,
        };
        let index = insert(&mut self.buckets, &mut self.free_buckets, bucket);
        self.seq += 1;
        self.heap.push(Reverse((due, self.seq, index)));
        if self.heap.peek().is_some_and(|top| top.0 .2 == index) {
            self.first = Some(self.instant(due));
        }
        self.empty_buckets += 1;
        self.recent[slot] = index;
        index
    }

    /// Forget the timer `key`, if it has not fired.
    pub(super) fn cancel(&mut self, key: TimerKey) {
        let Some(node) = self.nodes.get_mut(key.node as usize) else {
            return; // cleared by shutdown
        };
        if node.seq != key.seq || node.payload.is_none() {
            return; // fired (and maybe reused)
        }
        node.payload = None;
        let (bucket, prev, next) = (node.bucket, node.prev, node.next);
        let list = &mut self.buckets[bucket as usize];
        match prev {
            NIL => list.head = next,
            prev => self.nodes[prev as usize].next = next,
        }
        let list = &mut self.buckets[bucket as usize];
        match next {
            NIL => list.tail = prev,
            next => self.nodes[next as usize].prev = prev,
        }
        if self.buckets[bucket as usize].head == NIL {
            self.empty_buckets += 1;
            if self.empty_buckets > 32 && self.empty_buckets > self.heap.len() / 2 {
                self.drop_empty_buckets();
            }
        }
        self.free_nodes.push(key.node);
        self.live -= 1;
    }

    /// Close every empty bucket and rebuild the heap from the rest.
    fn drop_empty_buckets(&mut self) {
        let mut heap = std::mem::take(&mut self.heap).into_vec();
        heap.retain(|&Reverse((_, _, bucket))| {
            let empty = self.buckets[bucket as usize].head == NIL;
            if empty {
                self.free_bucket(bucket);
            }
            !empty
        });
        self.heap = BinaryHeap::from(heap);
        self.empty_buckets = 0;
        self.find_first();
    }

    /// `nanos` since `epoch` as an instant.
    fn instant(&self, nanos: u64) -> Instant {
        let at = self.epoch.checked_add(Duration::from_nanos(nanos));
        // Centuries away: as good as never.
        at.unwrap_or(self.epoch + Duration::from_secs(u64::from(u32::MAX)))
    }

    /// Set `first` after the heap's top changed.
    fn find_first(&mut self) {
        self.first = self.heap.peek().map(|top| self.instant(top.0 .0));
    }

    /// Put `bucket`, out of the heap and empty, up for reuse.
    fn free_bucket(&mut self, bucket: u32) {
        let slot = recent_slot(self.buckets[bucket as usize].due);
        if self.recent[slot] == bucket {
            self.recent[slot] = NIL;
        }
        self.free_buckets.push(bucket);
    }

    /// Whether no timer is pending.
    pub(super) fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// When the first timer is due (rounded), if any is pending.
    pub(super) fn first_due(&self) -> Option<Instant> {
        self.first
    }

    /// Whether a timer may be due at `now` (the clock the worker just
    /// read): then [`expired`](Self::expired) says which.
    pub(super) fn any_due(&mut self, now: Instant) -> bool {
        self.now = now;
        self.first.is_some_and(|first| first <= now)
    }

    /// Take every timer due at `now`, in firing order.
    pub(super) fn expired(&mut self, now: Instant) -> Vec<T> {
        self.now = now;
        let now = self.nanos(now);
        let mut due = Vec::new();
        while let Some(&Reverse((at, _, bucket))) = self.heap.peek() {
            if at > now {
                break;
            }
            self.heap.pop();
            let mut node = std::mem::replace(&mut self.buckets[bucket as usize].head, NIL);
            if node == NIL {
                self.empty_buckets -= 1;
            }
            while node != NIL {
                let timer = &mut self.nodes[node as usize];
                due.push(timer.payload.take().expect("a listed timer is live"));
                self.free_nodes.push(node);
                self.live -= 1;
                node = timer.next;
            }
            self.free_bucket(bucket);
        }
        self.find_first();
        due
    }

    /// How long after `now` the next live timer is due, if any.
    pub(super) fn next_timeout(&mut self, now: Instant) -> Option<Duration> {
        self.now = now;
        let mut wait = None;
        while let Some(&Reverse((at, _, bucket))) = self.heap.peek() {
            if self.buckets[bucket as usize].head != NIL {
                wait = Some(Duration::from_nanos(at.saturating_sub(self.nanos(now))));
                break;
            }
            self.heap.pop();
            self.empty_buckets -= 1;
            self.free_bucket(bucket);
        }
        self.find_first();
        wait
    }

    /// Drop every timer (shutdown).
    pub(super) fn clear(&mut self) {
        self.nodes.clear();
        self.free_nodes.clear();
        self.buckets.clear();
        self.free_buckets.clear();
        self.heap.clear();
        self.recent = [NIL; RECENT];
        self.first = None;
        self.live = 0;
        self.empty_buckets = 0;
    }
}

/// Put `value` in a free entry of `slab` (listed in `free`), or a new one;
/// returns its index.
fn insert<X>(slab: &mut Vec<X>, free: &mut Vec<u32>, value: X) -> u32 {
    match free.pop() {
        Some(index) => {
            slab[index as usize] = value;
            index
        }
        None => {
            slab.push(value);
            u32::try_from(slab.len() - 1).expect("fewer than 2^32 timers")
        }
    }
}

/// `due` rounded up to a multiple of the largest power of two that is at
/// most 1/1024 of its distance from `now` (so never early, and late by
/// less than 0.1% of the distance).
fn round_up(due: u64, now: u64) -> u64 {
    let step = due.saturating_sub(now) >> ROUNDING_SHIFT;
    if step == 0 {
        return due;
    }
    let grid = 1 << step.ilog2();
    due.checked_next_multiple_of(grid).unwrap_or(u64::MAX)
}

/// Where in `Timers::recent` a bucket due at `due` is remembered.
fn recent_slot(due: u64) -> usize {
    // Fibonacci hashing: the grid's low zero bits do not all land in one slot.
    (due.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - RECENT.ilog2())) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(timers: &Timers<u32>, nanos: u64) -> Instant {
        timers.epoch + Duration::from_nanos(nanos)
    }

    #[test]
    fn timers_fire_in_due_order_and_never_early() {
        let mut timers = Timers::new();
        let epoch = timers.epoch;
        for (payload, ms) in [(1, 30u64), (2, 10), (3, 20), (4, 10)] {
            timers.add(epoch + Duration::from_millis(ms), payload);
        }
        assert!(!timers.any_due(epoch + Duration::from_millis(9)));
        assert!(timers.expired(epoch + Duration::from_millis(9)).is_empty());
        let ten = epoch + Duration::from_millis(10);
        assert!(timers.any_due(ten + Duration::from_micros(10)));
        // Rounded up by at most 0.1% of the distance.
        let fired = timers.expired(ten + Duration::from_micros(10));
        assert_eq!(fired, [2, 4], "equal deadlines in registration order");
        assert_eq!(timers.expired(epoch + Duration::from_millis(31)), [3, 1]);
        assert!(timers.is_empty());
        assert_eq!(timers.next_timeout(epoch), None);
        assert!(!timers.any_due(epoch + Duration::from_secs(3600)));
    }

    #[test]
    fn rounding_is_late_by_at_most_a_thousandth_of_the_distance() {
        for distance in [0, 1, 1_023, 1_024, 999_999, 1_000_000_000, 10_000_000_000] {
            for now in [0u64, 7, 1 << 40] {
                let due = now + distance;
                let rounded = round_up(due, now);
                assert!(rounded >= due, "early: {due} -> {rounded}");
                assert!(rounded - due <= distance / 1024, "late: {due} -> {rounded}");
            }
        }
        assert_eq!(round_up(u64::MAX - 1, 0), u64::MAX);
    }

    #[test]
    fn timers_due_together_share_one_heap_entry() {
        let mut timers = Timers::new();
        let ten_s = 10_000_000_000;
        for i in 0..1000 {
            timers.add(at(&timers, ten_s + i), i as u32);
        }
        assert_eq!(timers.heap.len(), 1, "all within one 8.4 ms grid step");
        let fired = timers.expired(at(&timers, ten_s + 20_000_000));
        assert_eq!(fired, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn cancelled_timers_leave_nothing_behind() {
        let mut timers = Timers::new();
        // 100,000 timed waits that end early, each deadline a bit later.
        for i in 0..100_000u64 {
            let key = timers.add(at(&timers, i * 1_000 + 10_000_000_000), i as u32);
            timers.cancel(key);
            timers.cancel(key); // twice is harmless
        }
        assert!(timers.is_empty());
        assert!(timers.nodes.len() <= 1, "nodes are reused");
        assert!(timers.heap.len() <= 64, "heap: {}", timers.heap.len());
        assert_eq!(timers.next_timeout(timers.epoch), None);
        assert!(timers.heap.is_empty());
        // Unique deadlines too close to share buckets still leave none.
        for i in 0..10_000u64 {
            let key = timers.add(at(&timers, 1_000 + i), i as u32);
            timers.cancel(key);
        }
        assert!(timers.heap.len() <= 64, "heap: {}", timers.heap.len());
    }

    #[test]
    fn cancel_unlinks_from_the_middle_and_the_ends() {
        let mut timers = Timers::new();
        let due = at(&timers, 5_000_000);
        let keys: Vec<_> = (0..5).map(|i| timers.add(due, i)).collect();
        timers.cancel(keys[0]);
        timers.cancel(keys[2]);
        timers.cancel(keys[4]);
        let later = timers.add(due, 5);
        assert_eq!(timers.expired(at(&timers, 6_000_000)), [1, 3, 5]);
        // A fired timer's key no longer cancels anything, even once its
        // node is reused.
        let reused = timers.add(at(&timers, 7_000_000), 6);
        timers.cancel(later);
        timers.cancel(keys[1]);
        assert_eq!(reused.node, later.node);
        assert_eq!(timers.expired(at(&timers, 8_000_000)), [6]);
    }

    #[test]
    fn next_timeout_skips_emptied_buckets() {
        let mut timers = Timers::new();
        let first = timers.add(at(&timers, 1_000_000), 1);
        timers.add(at(&timers, 3_000_000), 2);
        timers.cancel(first);
        let wait = timers.next_timeout(at(&timers, 0)).unwrap();
        assert!(wait >= Duration::from_millis(3) && wait < Duration::from_micros(3_003));
        timers.clear();
        assert!(timers.is_empty());
        assert_eq!(timers.next_timeout(at(&timers, 0)), None);
        let key = timers.add(at(&timers, 1), 9);
        timers.cancel(key);
        assert!(timers.is_empty());
    }
}
