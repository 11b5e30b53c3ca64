//! The operations a select waits on: one receive or send each, on the
//! caller's stack, type-erased behind [`SelectArm`] for the select engine
//! (`select.rs`). An arm without a channel is disabled (Go's nil channel):
//! it is never ready and never waits.

use std::cell::Cell;

use super::core::{wake, Chan, Entry, Inner, InnerGuard, Wake};
use super::error::{RecvError, SendError, TryRecvError, TrySendError};
use super::selector::Selector;
use super::{Receiver, Sender};

/// One arm of a select, type-erased. Methods take `&self`: entries are
/// shared with other threads through the channels' queues while
/// registered.
///
/// # Safety
///
/// The engine trusts it: `channel` is the address of the channel whose
/// state `lock` returns (locked until `unlock`), and `try_fire_locked`
/// treats a pointer it is given for that address as that channel's locked
/// state. Only rt's own arms implement it.
pub unsafe trait SelectArm {
    /// The arm's channel, as an address that orders the locks of a
    /// `default` select; `None` for a disabled arm.
    fn channel(&self) -> Option<usize>;
    /// Complete the operation now if it can be; `true` if it did.
    fn try_fire(&self) -> bool;
    /// Lock the arm's channel, keep the lock in the arm, and return the
    /// channel's state, type-erased.
    fn lock(&self) -> *mut ();
    /// Complete the operation now if it can be, under a lock already
    /// held: `inner` is what [`lock`](Self::lock) returned for an arm on
    /// the same channel. `true` if it did; then [`woken`](Self::woken)
    /// follows once every lock is released.
    ///
    /// # Safety
    ///
    /// `inner` comes from `lock` of an arm whose `channel` equals this
    /// arm's, and that arm holds its lock until after this call.
    unsafe fn try_fire_locked(&self, inner: *mut ()) -> bool;
    /// Release the lock taken by [`lock`](Self::lock).
    fn unlock(&self);
    /// After the locks are released: wake the counterpart a
    /// [`try_fire_locked`](Self::try_fire_locked) completed, if any.
    fn woken(&self);
    /// Queue a wait entry for `selector` unless the operation is ready;
    /// `true` means ready (and not queued).
    fn register(&self, selector: &Selector, arm: usize) -> bool;
    /// Take the wait entry out of its queue, if it is there.
    fn unregister(&self);
    /// The entry's selector fired this arm: collect the result.
    fn complete(&self);
}

/// Anything a select can receive from: a [`Receiver`], a reference to
/// one, or an `Option` of those (`None` disables the arm, like a nil
/// channel in Go).
pub trait AsReceiver {
    /// The values received.
    type Item;
    /// The receiver, if the arm is enabled.
    fn as_receiver(&self) -> Option<&Receiver<Self::Item>>;
}

impl<T> AsReceiver for Receiver<T> {
    type Item = T;
    fn as_receiver(&self) -> Option<&Receiver<T>> {
        Some(self)
    }
}

impl<R: AsReceiver + ?Sized> AsReceiver for &R {
    type Item = R::Item;
    fn as_receiver(&self) -> Option<&Receiver<R::Item>> {
        (**self).as_receiver()
    }
}

impl<R: AsReceiver> AsReceiver for Option<R> {
    type Item = R::Item;
    fn as_receiver(&self) -> Option<&Receiver<R::Item>> {
        self.as_ref().and_then(R::as_receiver)
    }
}

/// Anything a select can send on: a [`Sender`], a reference to one, or an
/// `Option` of those (`None` disables the arm, like a nil channel in Go).
pub trait AsSender {
    /// The values sent.
    type Item;
    /// The sender, if the arm is enabled.
    fn as_sender(&self) -> Option<&Sender<Self::Item>>;
}

impl<T> AsSender for Sender<T> {
    type Item = T;
    fn as_sender(&self) -> Option<&Sender<T>> {
        Some(self)
    }
}

impl<S: AsSender + ?Sized> AsSender for &S {
    type Item = S::Item;
    fn as_sender(&self) -> Option<&Sender<S::Item>> {
        (**self).as_sender()
    }
}

impl<S: AsSender> AsSender for Option<S> {
    type Item = S::Item;
    fn as_sender(&self) -> Option<&Sender<S::Item>> {
        self.as_ref().and_then(S::as_sender)
    }
}

/// An operation tried under its channel's lock: `None` if it was not
/// ready, else its result and the counterpart to wake after unlocking.
type Attempt<R> = Option<(R, Option<Wake>)>;

/// What receive and send arms share: the channel, the wait entry, the
/// lock a `default` select holds, the counterpart to wake.
struct Op<'a, T> {
    /// The channel; `None`: disabled.
    chan: Option<&'a Chan<T>>,
    /// The wait entry (a send's value lives in its slot).
    entry: Entry<T>,
    /// Whether `entry` is queued.
    registered: Cell<bool>,
    /// The lock taken by `SelectArm::lock`.
    guard: Cell<Option<InnerGuard<'a, T>>>,
    /// A counterpart completed under the lock, to wake after unlocking.
    wake: Cell<Option<Wake>>,
}

impl<'a, T> Op<'a, T> {
    fn new(chan: Option<&'a Chan<T>>, value: Option<T>) -> Self {
        Op {
            chan,
            entry: Entry::new(value),
            registered: Cell::new(false),
            guard: Cell::new(None),
            wake: Cell::new(None),
        }
    }

    fn channel(&self) -> Option<usize> {
        self.chan.map(|chan| chan as *const Chan<T> as usize)
    }

    fn lock(&self) -> *mut () {
        let chan = self.chan.expect("only enabled arms lock");
        let mut guard = chan.inner.lock();
        let inner = &mut *guard as *mut Inner<T> as *mut ();
        self.guard.set(Some(guard)); // moving the guard does not move `Inner`
        inner
    }

    fn unlock(&self) {
        drop(self.guard.take());
    }

    fn woken(&self) {
        wake(self.wake.take());
    }

    fn unregister(&self, queue: impl FnOnce(&mut Inner<T>) -> &mut super::core::Waiters<T>) {
        if self.registered.replace(false) {
            let chan = self.chan.expect("only enabled arms register");
            let _ = queue(&mut chan.inner.lock()).remove(&self.entry);
        }
    }
}

/// A receive arm.
pub struct RecvArm<'a, T> {
    op: Op<'a, T>,
    result: Cell<Option<Result<T, RecvError>>>,
}

impl<'a, T> RecvArm<'a, T> {
    /// An arm receiving from `receiver` (disabled if it is `None`).
    pub fn new<R: AsReceiver<Item = T> + ?Sized>(receiver: &'a R) -> Self {
        RecvArm {
            op: Op::new(receiver.as_receiver().map(Receiver::chan), None),
            result: Cell::new(None),
        }
    }

    /// The result, if this arm fired.
    pub fn take(&self) -> Option<Result<T, RecvError>> {
        self.result.take()
    }

    /// A value handed to its wait entry that was never collected (the
    /// select unwound); only once the entry is out of every queue.
    pub(crate) fn take_handed(&self) -> Option<T> {
        self.op.entry.take()
    }

    /// Try to receive from the locked channel state.
    fn attempt(&self, inner: &mut Inner<T>) -> Attempt<Result<T, RecvError>> {
        match inner.try_recv(std::ptr::null()) {
            Ok((value, wake)) => Some((Ok(value), wake)),
            Err(TryRecvError::Closed) => Some((Err(RecvError), None)),
            Err(TryRecvError::Empty) => None,
        }
    }
}

// SAFETY: `channel`, `lock` and `try_fire_locked` all use `op.chan`.
unsafe impl<T> SelectArm for RecvArm<'_, T> {
    fn channel(&self) -> Option<usize> {
        self.op.channel()
    }

    fn try_fire(&self) -> bool {
        let Some(chan) = self.op.chan else {
            return false;
        };
        let attempt = self.attempt(&mut chan.inner.lock());
        let Some((result, waiter)) = attempt else {
            return false;
        };
        wake(waiter);
        self.result.set(Some(result));
        true
    }

    fn lock(&self) -> *mut () {
        self.op.lock()
    }

    unsafe fn try_fire_locked(&self, inner: *mut ()) -> bool {
        // SAFETY: the caller passes the locked state of this arm's channel.
        let inner = unsafe { &mut *(inner as *mut Inner<T>) };
        let Some((result, waiter)) = self.attempt(inner) else {
            return false;
        };
        self.op.wake.set(waiter);
        self.result.set(Some(result));
        true
    }

    fn unlock(&self) {
        self.op.unlock();
    }

    fn woken(&self) {
        self.op.woken();
    }

    fn register(&self, selector: &Selector, arm: usize) -> bool {
        let Some(chan) = self.op.chan else {
            return false; // disabled: waits for nothing
        };
        let mut inner = chan.inner.lock();
        if inner.recv_ready(selector) {
            return true;
        }
        self.op.entry.bind(selector, arm);
        inner.receivers.push(&self.op.entry);
        self.op.registered.set(true);
        false
    }

    fn unregister(&self) {
        self.op.unregister(|inner| &mut inner.receivers);
    }

    fn complete(&self) {
        self.op.registered.set(false); // the claimer took the entry out
        self.result.set(Some(self.op.entry.take().ok_or(RecvError)));
    }
}

/// A send arm; holds the value until it is sent (or the arm loses, and the
/// value is dropped with the arm, or kept by a dynamic select).
pub struct SendArm<'a, T> {
    op: Op<'a, T>,
    result: Cell<Option<Result<(), SendError<T>>>>,
}

impl<'a, T> SendArm<'a, T> {
    /// An arm sending `value` on `sender` (disabled if it is `None`; the
    /// value is dropped with the arm).
    pub fn new<S: AsSender<Item = T> + ?Sized>(sender: &'a S, value: T) -> Self {
        SendArm {
            op: Op::new(sender.as_sender().map(Sender::chan), Some(value)),
            result: Cell::new(None),
        }
    }

    /// The result, if this arm fired.
    pub fn take(&self) -> Option<Result<(), SendError<T>>> {
        self.result.take()
    }

    /// Give it a (new) value to send.
    pub(crate) fn set_value(&self, value: T) {
        self.op.entry.put(value);
    }

    /// Take its unsent value back.
    pub(crate) fn take_value(&self) -> Option<T> {
        self.op.entry.take()
    }

    /// Try to send on the locked channel state.
    fn attempt(&self, inner: &mut Inner<T>, cap: usize) -> Attempt<Result<(), SendError<T>>> {
        let value = self
            .op
            .entry
            .take()
            .expect("a send arm holds its value until it fires");
        match inner.try_send(value, cap, std::ptr::null()) {
            Ok(wake) => Some((Ok(()), wake)),
            Err(TrySendError::Closed(value)) => Some((Err(SendError(value)), None)),
            Err(TrySendError::Full(value)) => {
                self.op.entry.put(value);
                None
            }
        }
    }
}

// SAFETY: `channel`, `lock` and `try_fire_locked` all use `op.chan`.
unsafe impl<T> SelectArm for SendArm<'_, T> {
    fn channel(&self) -> Option<usize> {
        self.op.channel()
    }

    fn try_fire(&self) -> bool {
        let Some(chan) = self.op.chan else {
            return false;
        };
        let attempt = self.attempt(&mut chan.inner.lock(), chan.cap);
        let Some((result, waiter)) = attempt else {
            return false;
        };
        wake(waiter);
        self.result.set(Some(result));
        true
    }

    fn lock(&self) -> *mut () {
        self.op.lock()
    }

    unsafe fn try_fire_locked(&self, inner: *mut ()) -> bool {
        let chan = self.op.chan.expect("only enabled arms are polled");
        // SAFETY: the caller passes the locked state of this arm's channel.
        let inner = unsafe { &mut *(inner as *mut Inner<T>) };
        let Some((result, waiter)) = self.attempt(inner, chan.cap) else {
            return false;
        };
        self.op.wake.set(waiter);
        self.result.set(Some(result));
        true
    }

    fn unlock(&self) {
        self.op.unlock();
    }

    fn woken(&self) {
        self.op.woken();
    }

    fn register(&self, selector: &Selector, arm: usize) -> bool {
        let Some(chan) = self.op.chan else {
            return false; // disabled: waits for nothing
        };
        let mut inner = chan.inner.lock();
        if inner.send_ready(chan.cap, selector) {
            return true;
        }
        self.op.entry.bind(selector, arm);
        inner.senders.push(&self.op.entry);
        self.op.registered.set(true);
        false
    }

    fn unregister(&self) {
        self.op.unregister(|inner| &mut inner.senders);
    }

    fn complete(&self) {
        self.op.registered.set(false);
        self.result.set(Some(match self.op.entry.take() {
            None => Ok(()),
            Some(value) => Err(SendError(value)), // closed while waiting
        }));
    }
}
