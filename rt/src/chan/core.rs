//! The channel itself: a buffer and two wait queues under one short lock.
//!
//! The design is Go's `hchan`. Invariants, for live (unclaimed) entries:
//! receivers wait only while the buffer is empty, senders only while it is
//! full (always, for a rendezvous channel). A sender that finds a waiting
//! receiver hands its value straight into the receiver's slot; a receiver
//! that takes from a full buffer refills it from the first waiting sender,
//! so FIFO order holds. The lock is never held across a park, and wake-ups
//! happen after it is released.

use std::cell::Cell;
use std::collections::VecDeque;
use std::ptr::NonNull;
use std::time::Instant;

use super::error::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use super::queue::Queue;
// Under loom the channel models use loom's blocking Mutex: with the spin
// lock a three-thread channel model runs past 10,000 scheduling branches in
// one execution (each failed acquire and spin is a branch). The spin lock
// itself is model-checked as it ships, on its own (`loom-tests/tests/
// spin_lock.rs`); the models here check the protocol above it.
#[cfg(not(loom))]
use super::lock::SpinLock as Mutex;
use super::selector::{Selector, Woken};
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(loom)]
use crate::loom::sync::Mutex;
use crate::scheduler::task::{WaitReason, WaitSite};

/// One waiting operation: a blocked `send`/`recv` or one arm of a select.
/// It lives on the waiter's stack; see [`Waiters`] for why that is sound.
pub(crate) struct Entry<T> {
    /// The waiter this operation belongs to.
    selector: Cell<*const Selector>,
    /// Which arm of the selector it is.
    arm: Cell<usize>,
    /// A sender's value (taken by the receiver that claims it), or a
    /// receiver's empty slot (filled by the sender that claims it). Only the
    /// claimer touches it until the selector is `done`.
    slot: UnsafeCell<Option<T>>,
}

impl<T> Entry<T> {
    pub(crate) fn new(value: Option<T>) -> Entry<T> {
        Entry {
            selector: Cell::new(std::ptr::null()),
            arm: Cell::new(0),
            slot: UnsafeCell::new(value),
        }
    }

    /// Point the entry at its waiter (only while it is in no queue).
    pub(crate) fn bind(&self, selector: &Selector, arm: usize) {
        self.selector.set(selector);
        self.arm.set(arm);
    }

    /// Take the slot's content. Only while no other thread may touch it:
    /// the entry is in no queue, or its selector is done.
    pub(crate) fn take(&self) -> Option<T> {
        // SAFETY: per this function's contract, nobody else accesses the
        // slot now.
        self.slot.with_mut(|slot| unsafe { (*slot).take() })
    }

    /// Put a value into the slot (same contract as `take`).
    pub(crate) fn put(&self, value: T) {
        // SAFETY: as in `take`.
        self.slot.with_mut(|slot| unsafe { *slot = Some(value) });
    }
}

/// Waiting operations, oldest first.
///
/// SAFETY invariant: every pointer in a queue is to a live [`Entry`]. An
/// owner removes its entries (under the channel lock) before they go out
/// of scope, including when it unwinds; a claimer removes the entry it
/// claims. Entries whose selector was claimed through another channel or
/// aborted are "stale": they stay valid until their owner removes them, and
/// a scan drops them early.
pub(crate) struct Waiters<T>(Queue<NonNull<Entry<T>>>);

impl<T> Waiters<T> {
    const fn new() -> Waiters<T> {
        Waiters(Queue::new())
    }

    pub(crate) fn push(&mut self, entry: &Entry<T>) {
        self.0.push_back(NonNull::from(entry));
    }

    /// Take `entry` out if it is still queued; returns whether it was.
    pub(crate) fn remove(&mut self, entry: &Entry<T>) -> bool {
        let entry = NonNull::from(entry);
        match self.0.position(|e| e == entry) {
            Some(index) => {
                self.0.remove(index);
                true
            }
            None => false,
        }
    }

    /// Claim the oldest live entry that does not belong to `own` (a select
    /// must not meet itself), dropping stale entries on the way. (Inlined:
    /// every hand-off claims, and the call's register saving cost more
    /// than the claim itself.)
    #[inline(always)]
    fn claim(&mut self, own: *const Selector) -> Option<Claimed<'_, T>> {
        let mut index = 0;
        while let Some(&entry) = self.0.get(index) {
            // SAFETY: queued entries are live (type invariant).
            let e = unsafe { entry.as_ref() };
            let selector = e.selector.get();
            if std::ptr::eq(selector, own) {
                index += 1;
                continue;
            }
            if index == 0 {
                self.0.pop_front();
            } else {
                self.0.remove(index);
            }
            // SAFETY: a queued entry's selector outlives it.
            if unsafe { (*selector).try_claim(e.arm.get()) } {
                return Some(Claimed(e));
            }
        }
        None
    }

    /// Is there a live entry other than `own`'s? Drops stale entries at the
    /// front. A hint: the entry may be claimed by someone else right after.
    fn has_live(&mut self, own: *const Selector) -> bool {
        let mut index = 0;
        while let Some(&entry) = self.0.get(index) {
            // SAFETY: queued entries are live, their selectors too.
            let selector = unsafe { entry.as_ref().selector.get() };
            // SAFETY: as above: a queued entry's selector outlives it.
            let waiting = || unsafe { (*selector).is_waiting() };
            if std::ptr::eq(selector, own) {
                index += 1;
            } else if waiting() {
                return true;
            } else {
                self.0.remove(index);
            }
        }
        false
    }

    /// Claim up to `n` live entries (close): each completes with its slot
    /// as it is.
    ///
    /// Closing a channel with many waiters walks entries on as many cold
    /// stacks, then wakes as many cold tasks: so it loads the entries a
    /// few ahead, and each claimed waiter's task as soon as it knows where
    /// that is (the wakes follow after the batch). On a million parked
    /// receivers this cut the closing worker's time by about a third.
    fn claim_some(&mut self, n: usize, wake: &mut Vec<Wake>) {
        /// Entries loaded ahead of the one being claimed.
        const AHEAD: usize = 8;
        for _ in 0..n {
            if let Some(ahead) = self.0.get(AHEAD) {
                crate::scheduler::prefetch::line(ahead.as_ptr() as usize);
            }
            match self.claim(std::ptr::null()) {
                Some(claimed) => {
                    // SAFETY: a claimed entry's selector lives until `done`.
                    unsafe { (*claimed.0.selector.get()).prefetch_waiter() };
                    wake.push(claimed.done());
                }
                None => return,
            }
        }
    }
}

/// An entry this thread has claimed: it alone may use the slot until it
/// wakes the waiter.
struct Claimed<'a, T>(&'a Entry<T>);

impl<T> Claimed<'_, T> {
    /// The transfer is done; the waiter is to be woken after unlocking.
    fn done(self) -> Wake {
        Wake(self.0.selector.get())
    }
}

/// A claimed waiter to wake once the channel lock is released. Dropping it
/// without [`wake`] would strand the waiter, hence `must_use`.
#[must_use]
pub(crate) struct Wake(*const Selector);

/// What the lock protects.
pub(crate) struct Inner<T> {
    /// Buffered values (`len <= cap`).
    buf: VecDeque<T>,
    /// No more sends; receivers drain `buf`, then see the channel closed.
    closed: bool,
    /// Blocked senders (their slot holds the value).
    pub(crate) senders: Waiters<T>,
    /// Blocked receivers (their slot is empty).
    pub(crate) receivers: Waiters<T>,
}

// SAFETY: the raw entry pointers are only dereferenced under the channel
// lock, and the values they lead to are `T: Send`.
unsafe impl<T: Send> Send for Inner<T> {}

impl<T> Inner<T> {
    /// Send without waiting. `own`: the select doing it (or null).
    pub(crate) fn try_send(
        &mut self,
        value: T,
        cap: usize,
        own: *const Selector,
    ) -> Result<Option<Wake>, TrySendError<T>> {
        if self.closed {
            return Err(TrySendError::Closed(value));
        }
        if let Some(receiver) = self.receivers.claim(own) {
            receiver.0.put(value);
            return Ok(Some(receiver.done()));
        }
        if self.buf.len() < cap {
            self.buf.push_back(value);
            return Ok(None);
        }
        Err(TrySendError::Full(value))
    }

    /// Receive without waiting. `own`: the select doing it (or null).
    pub(crate) fn try_recv(
        &mut self,
        own: *const Selector,
    ) -> Result<(T, Option<Wake>), TryRecvError> {
        if let Some(value) = self.buf.pop_front() {
            // The buffer has room now: move the oldest blocked sender in.
            let wake = self.senders.claim(own).map(|sender| {
                self.buf
                    .push_back(sender.0.take().expect("a blocked sender holds its value"));
                sender.done()
            });
            return Ok((value, wake));
        }
        if let Some(sender) = self.senders.claim(own) {
            let value = sender.0.take().expect("a blocked sender holds its value");
            return Ok((value, Some(sender.done())));
        }
        if self.closed {
            Err(TryRecvError::Closed)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Would a send by `own` complete now (delivered or refused as closed)?
    pub(crate) fn send_ready(&mut self, cap: usize, own: *const Selector) -> bool {
        self.closed || self.buf.len() < cap || self.receivers.has_live(own)
    }

    /// Would a receive by `own` complete now (a value or closed)?
    pub(crate) fn recv_ready(&mut self, own: *const Selector) -> bool {
        self.closed || !self.buf.is_empty() || self.senders.has_live(own)
    }
}

/// A held channel lock (what a `default` select keeps while it polls).
#[cfg(not(loom))]
pub(crate) type InnerGuard<'a, T> = super::lock::SpinGuard<'a, Inner<T>>;
#[cfg(loom)]
pub(crate) type InnerGuard<'a, T> = crate::loom::sync::MutexGuard<'a, Inner<T>>;

/// A channel: what `Sender`s and `Receiver`s share.
pub(crate) struct Chan<T> {
    /// Buffer, flags and waiters.
    pub(crate) inner: Mutex<Inner<T>>,
    /// Buffer capacity: 0 for rendezvous, `usize::MAX` for unbounded (and
    /// for `bounded(usize::MAX)`, which holds as much).
    pub(crate) cap: usize,
    /// Made by `unbounded()` (for `capacity`).
    unbounded: bool,
    /// Live `Sender`s; the last one to go closes the channel.
    pub(crate) senders: AtomicUsize,
    /// Live `Receiver`s; when the last goes, sends fail and the buffer is dropped.
    pub(crate) receivers: AtomicUsize,
}

/// Wake a waiter whose operation was completed (after unlocking).
pub(crate) fn wake(waiter: Option<Wake>) {
    if let Some(Wake(selector)) = waiter {
        // SAFETY: claimed by this thread, finished exactly once (`Wake` is
        // consumed here).
        unsafe { Selector::finish(selector) };
    }
}

impl<T> Chan<T> {
    /// A channel holding `cap` values (`None`: unbounded).
    pub(crate) fn new(cap: Option<usize>) -> Chan<T> {
        let (cap, unbounded) = match cap {
            Some(cap) => (cap, false),
            None => (usize::MAX, true),
        };
        Chan {
            inner: Mutex::new(Inner {
                buf: VecDeque::with_capacity(cap.min(1024)),
                closed: false,
                senders: Waiters::new(),
                receivers: Waiters::new(),
            }),
            cap,
            unbounded,
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
        }
    }

    /// Send, parking while the channel is full, until `deadline` if any.
    #[track_caller]
    pub(crate) fn send(
        &self,
        value: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let mut inner = self.inner.lock();
        let value = match inner.try_send(value, self.cap, std::ptr::null()) {
            Ok(waiter) => {
                drop(inner);
                wake(waiter);
                return Ok(());
            }
            Err(TrySendError::Closed(value)) => return Err(SendTimeoutError::Closed(value)),
            Err(TrySendError::Full(value)) => value,
        };
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return Err(SendTimeoutError::Timeout(value));
        }
        let selector = Selector::exclusive();
        let entry = Entry::new(Some(value));
        entry.bind(&selector, 0);
        inner.senders.push(&entry);
        drop(inner);
        // Giving up (timeout, unwinding) takes the entry out under the lock.
        let site = WaitSite::here(WaitReason::ChanSend);
        let woken = selector.wait(deadline, site, &mut || {
            self.inner.lock().senders.remove(&entry)
        });
        if woken == Woken::TimedOut {
            let value = entry.take().expect("an abandoned send keeps its value");
            return Err(SendTimeoutError::Timeout(value));
        }
        match entry.take() {
            None => Ok(()),
            Some(value) => Err(SendTimeoutError::Closed(value)),
        }
    }

    /// Receive, parking while the channel is empty, until `deadline` if
    /// any; a parked receiver shows in dumps as waiting for `why`.
    #[track_caller]
    pub(crate) fn recv(
        &self,
        deadline: Option<Instant>,
        why: WaitReason,
    ) -> Result<T, RecvTimeoutError> {
        let mut inner = self.inner.lock();
        match inner.try_recv(std::ptr::null()) {
            Ok((value, waiter)) => {
                drop(inner);
                wake(waiter);
                return Ok(value);
            }
            Err(TryRecvError::Closed) => return Err(RecvTimeoutError::Closed),
            Err(TryRecvError::Empty) => {}
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return Err(RecvTimeoutError::Timeout);
        }
        let selector = Selector::exclusive();
        let entry = Entry::new(None);
        entry.bind(&selector, 0);
        inner.receivers.push(&entry);
        drop(inner);
        let site = WaitSite::here(why);
        let woken = selector.wait(deadline, site, &mut || {
            self.inner.lock().receivers.remove(&entry)
        });
        if woken == Woken::TimedOut {
            return Err(RecvTimeoutError::Timeout);
        }
        entry.take().ok_or(RecvTimeoutError::Closed)
    }

    pub(crate) fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let unparker = self
            .inner
            .lock()
            .try_send(value, self.cap, std::ptr::null())?;
        wake(unparker);
        Ok(())
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let (value, unparker) = self.inner.lock().try_recv(std::ptr::null())?;
        wake(unparker);
        Ok(value)
    }

    /// Close: blocked senders get their values back, blocked receivers see
    /// the channel closed; buffered values stay for the receivers.
    /// Returns `false` if it was already closed.
    pub(crate) fn close(&self) -> bool {
        /// Waiters woken per lock hold: bounded memory and lock hold time
        /// however many wait (a million parked receivers, say).
        const BATCH: usize = 64;
        let mut wake_up = Vec::with_capacity(BATCH);
        let mut inner = self.inner.lock();
        if inner.closed {
            return false;
        }
        // From here on nobody queues (every operation sees `closed`), so
        // the queues can be emptied over several lock holds.
        inner.closed = true;
        loop {
            inner.senders.claim_some(BATCH, &mut wake_up);
            inner
                .receivers
                .claim_some(BATCH - wake_up.len(), &mut wake_up);
            if wake_up.is_empty() {
                return true;
            }
            drop(inner);
            wake_up.drain(..).for_each(|w| wake(Some(w)));
            inner = self.inner.lock();
        }
    }

    /// The last receiver is gone: close, and drop what nobody can receive.
    pub(crate) fn disconnect_receivers(&self) {
        self.close();
        let buffered = std::mem::take(&mut self.inner.lock().buf);
        drop(buffered); // outside the lock: a value's Drop may use channels
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.inner.lock().closed
    }

    /// The buffer size; `None` for an unbounded channel.
    pub(crate) fn capacity(&self) -> Option<usize> {
        (!self.unbounded).then_some(self.cap)
    }

    pub(crate) fn len(&self) -> usize {
        self.inner.lock().buf.len()
    }

    pub(crate) fn add_ref(counter: &AtomicUsize) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Drop one reference; `true` if it was the last.
    pub(crate) fn release(counter: &AtomicUsize) -> bool {
        counter.fetch_sub(1, Ordering::AcqRel) == 1
    }
}
