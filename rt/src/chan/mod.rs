//! Go channels: typed, multi-producer multi-consumer queues that park the
//! coroutine (or thread) that has to wait, plus [`select!`](crate::select).
//!
//! ```
//! rt::run(|| {
//!     let (tx, rx) = rt::chan::bounded::<u64>(0); // rendezvous, like `make(chan u64)`
//!     let producer = rt::spawn(move || {
//!         for i in 0..5 {
//!             tx.send(i).unwrap(); // completes when a receiver takes it
//!         }
//!         // dropping the last Sender closes the channel
//!     });
//!     let received: Vec<u64> = rx.iter().collect(); // until closed and drained
//!     assert_eq!(received, [0, 1, 2, 3, 4]);
//!     producer.join().unwrap();
//! });
//! ```
//!
//! - [`bounded`]`(n)`: a buffer of `n`; `n == 0` is a rendezvous channel,
//!   where a send completes only when a receiver takes the value.
//! - [`unbounded`]: sends never wait.
//! - Closing ([`Sender::close`], or dropping every `Sender`): receivers
//!   drain what is buffered, then get [`RecvError`]; a send on a closed
//!   channel returns its value in [`SendError`]. When every `Receiver` is
//!   gone, sends fail the same way and buffered values are dropped.
//! - Values are delivered in FIFO order, and waiting senders and receivers
//!   are served oldest first.
//!
//! The design (Go's `hchan` with per-operation wait entries and a
//! claim-once selector) is described in `docs/channels.md`.

mod arms;
mod core;
mod dynamic;
mod error;
pub(crate) mod lock;
mod queue;
mod select;
mod select_macro;
mod selector;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use self::core::Chan;
pub use self::dynamic::{Select, Selected};
pub use self::error::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
use crate::scheduler::task::WaitReason;

#[doc(hidden)]
pub mod __private {
    pub use super::arms::{AsReceiver, AsSender, RecvArm, SelectArm, SendArm};
    pub use super::select::{select, Arms, Lock, Mode};

    /// The mode of a `timeout(d)` arm: no deadline if `d` is past what
    /// `Instant` can represent (`Duration::MAX`).
    pub fn timeout(after: std::time::Duration) -> Mode {
        match crate::time::deadline_after(after) {
            Some(deadline) => Mode::Until(deadline),
            None => Mode::Block,
        }
    }
    pub use super::selector::Selector;
}

/// A channel with a buffer of `cap` values; `cap == 0` makes a rendezvous
/// channel (Go's unbuffered `make(chan T)`).
///
/// ```
/// let (tx, rx) = rt::chan::bounded::<&str>(2);
/// tx.send("a").unwrap();
/// tx.send("b").unwrap(); // the buffer holds two; a third send would wait
/// assert_eq!(tx.try_send("c"), Err(rt::chan::TrySendError::Full("c")));
/// assert_eq!((rx.recv(), rx.recv()), (Ok("a"), Ok("b")));
/// ```
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    channel(Some(cap))
}

/// A channel of `cap` values (`None`: unbounded) and its two ends.
fn channel<T>(cap: Option<usize>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan::new(cap));
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// A channel whose sends never wait (the buffer grows as needed).
///
/// ```
/// let (tx, rx) = rt::chan::unbounded();
/// for i in 0..10_000 {
///     tx.send(i).unwrap();
/// }
/// drop(tx);
/// assert_eq!(rx.iter().sum::<i32>(), 49_995_000);
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    channel(None)
}

/// The sending half of a channel. Clone it for more producers.
///
/// ```
/// rt::run(|| {
///     let (tx, rx) = rt::chan::unbounded::<u32>();
///     for id in 0..4 {
///         let tx = tx.clone();
///         rt::spawn(move || tx.send(id).unwrap());
///     }
///     drop(tx); // the clones close the channel when they are done
///     let mut ids: Vec<u32> = rx.iter().collect();
///     ids.sort();
///     assert_eq!(ids, [0, 1, 2, 3]);
/// });
/// ```
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

impl<T> Sender<T> {
    /// Send `value`, parking while the channel is full (for a rendezvous
    /// channel: until a receiver takes it). Fails, returning the value, if
    /// the channel is closed or closes while waiting.
    ///
    /// ```
    /// let (tx, rx) = rt::chan::bounded(1);
    /// tx.send(42).unwrap();
    /// assert_eq!(rx.recv(), Ok(42));
    /// ```
    #[track_caller]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.chan
            .send(value, None)
            .map_err(|err| SendError(err.into_inner()))
    }

    /// Send if that can be done without waiting.
    ///
    /// ```
    /// let (tx, rx) = rt::chan::bounded(1);
    /// assert!(tx.try_send(1).is_ok());
    /// assert!(tx.try_send(2).unwrap_err().is_full());
    /// assert_eq!(rx.recv(), Ok(1));
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.chan.try_send(value)
    }

    /// Send, waiting at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, _rx) = rt::chan::bounded(0);
    /// let err = tx.send_timeout("x", Duration::from_millis(5)).unwrap_err();
    /// assert!(err.is_timeout());
    /// ```
    #[track_caller]
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        // `Duration::MAX` (past `Instant`'s range): no deadline.
        self.chan.send(value, crate::time::deadline_after(timeout))
    }

    /// Send, waiting at most until `deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (tx, rx) = rt::chan::bounded(1);
    /// assert!(tx.send_deadline(1, Instant::now() + Duration::from_secs(1)).is_ok());
    /// assert_eq!(rx.recv(), Ok(1));
    /// ```
    #[track_caller]
    pub fn send_deadline(&self, value: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.chan.send(value, Some(deadline))
    }

    /// Close the channel: no more sends; receivers drain the buffer, then
    /// get [`RecvError`]. Blocked senders get their values back in
    /// [`SendError`]. Returns `false` if it was already closed (closing
    /// twice is harmless, unlike Go).
    ///
    /// ```
    /// let (tx, rx) = rt::chan::bounded(4);
    /// tx.send(1).unwrap();
    /// assert!(tx.close());
    /// assert!(!tx.close());
    /// assert_eq!(rx.recv(), Ok(1));
    /// assert!(rx.recv().is_err());
    /// ```
    pub fn close(&self) -> bool {
        self.chan.close()
    }

    /// Is the channel closed (or every receiver gone)?
    ///
    /// ```
    /// let (tx, rx) = rt::chan::bounded::<u8>(1);
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Values buffered right now.
    ///
    /// ```
    /// let (tx, _rx) = rt::chan::bounded(3);
    /// tx.send(()).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Is nothing buffered?
    ///
    /// ```
    /// let (tx, _rx) = rt::chan::bounded::<u8>(3);
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer size; `None` for an unbounded channel.
    ///
    /// ```
    /// assert_eq!(rt::chan::bounded::<u8>(0).0.capacity(), Some(0));
    /// assert_eq!(rt::chan::bounded::<u8>(usize::MAX).0.capacity(), Some(usize::MAX));
    /// assert_eq!(rt::chan::unbounded::<u8>().0.capacity(), None);
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.chan.capacity()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Chan::<T>::add_ref(&self.chan.senders);
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if Chan::<T>::release(&self.chan.senders) {
            self.chan.close();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The receiving half of a channel. Clone it for more consumers; each
/// value goes to exactly one of them.
///
/// ```
/// rt::run(|| {
///     let (tx, rx) = rt::chan::bounded::<u32>(16);
///     let workers: Vec<_> = (0..4).map(|_| {
///         let rx = rx.clone();
///         rt::spawn(move || rx.iter().count())
///     }).collect();
///     for i in 0..1000 {
///         tx.send(i).unwrap();
///     }
///     drop(tx);
///     let total: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
///     assert_eq!(total, 1000);
/// });
/// ```
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

impl<T> Receiver<T> {
    /// Receive a value, parking while the channel is empty. Fails once the
    /// channel is closed and drained.
    ///
    /// ```
    /// let (tx, rx) = rt::chan::unbounded();
    /// tx.send('a').unwrap();
    /// drop(tx);
    /// assert_eq!(rx.recv(), Ok('a'));
    /// assert_eq!(rx.recv(), Err(rt::chan::RecvError));
    /// ```
    #[track_caller]
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_for(WaitReason::ChanReceive)
    }

    /// Receive if a value is ready now.
    ///
    /// ```
    /// let (tx, rx) = rt::chan::bounded(1);
    /// assert!(rx.try_recv().unwrap_err().is_empty());
    /// tx.send(5).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(5));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.chan.try_recv()
    }

    /// Receive, waiting at most `timeout`. A value handed over just as the
    /// time runs out is returned, not lost.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, rx) = rt::chan::bounded::<u8>(1);
    /// assert!(rx.recv_timeout(Duration::from_millis(2)).unwrap_err().is_timeout());
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.recv_timeout(Duration::from_millis(2)), Ok(1));
    /// ```
    #[track_caller]
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        // `Duration::MAX` (past `Instant`'s range): no deadline.
        self.chan.recv(
            crate::time::deadline_after(timeout),
            WaitReason::ChanReceive,
        )
    }

    /// Receive, waiting at most until `deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (_tx, rx) = rt::chan::bounded::<u8>(1);
    /// let deadline = Instant::now() + Duration::from_millis(2);
    /// assert!(rx.recv_deadline(deadline).is_err());
    /// assert!(Instant::now() >= deadline);
    /// ```
    #[track_caller]
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.chan.recv(Some(deadline), WaitReason::ChanReceive)
    }

    /// [`recv`](Self::recv), waiting for `why` (for rt's own blocking calls).
    #[track_caller]
    pub(crate) fn recv_for(&self, why: WaitReason) -> Result<T, RecvError> {
        self.chan.recv(None, why).map_err(|_| RecvError)
    }

    /// Iterate over received values until the channel is closed and drained.
    ///
    /// ```
    /// let (tx, rx) = rt::chan::unbounded();
    /// (1..=3).for_each(|i| tx.send(i).unwrap());
    /// drop(tx);
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), [1, 2, 3]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { receiver: self }
    }

    /// Iterate over the values ready now, without waiting.
    ///
    /// ```
    /// let (tx, rx) = rt::chan::unbounded();
    /// (1..=3).for_each(|i| tx.send(i).unwrap());
    /// assert_eq!(rx.try_iter().count(), 3); // tx is still open: no waiting
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { receiver: self }
    }

    /// Is the channel closed? (Buffered values may still be received.)
    ///
    /// ```
    /// let (tx, rx) = rt::chan::bounded(1);
    /// tx.send(1).unwrap();
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// assert_eq!(rx.recv(), Ok(1));
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Values buffered right now.
    ///
    /// ```
    /// let (tx, rx) = rt::chan::bounded(3);
    /// tx.send(()).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Is nothing buffered?
    ///
    /// ```
    /// let (_tx, rx) = rt::chan::bounded::<u8>(3);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer size; `None` for an unbounded channel.
    ///
    /// ```
    /// assert_eq!(rt::chan::bounded::<u8>(8).1.capacity(), Some(8));
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.chan.capacity()
    }

    pub(crate) fn chan(&self) -> &Chan<T> {
        &self.chan
    }
}

impl<T> Sender<T> {
    pub(crate) fn chan(&self) -> &Chan<T> {
        &self.chan
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        Chan::<T>::add_ref(&self.chan.receivers);
        Receiver {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if Chan::<T>::release(&self.chan.receivers) {
            self.chan.disconnect_receivers();
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Blocking iterator over a [`Receiver`]; ends when the channel is closed
/// and drained.
///
/// ```
/// let (tx, rx) = rt::chan::unbounded();
/// tx.send(1).unwrap();
/// drop(tx);
/// for value in &rx {
///     assert_eq!(value, 1);
/// }
/// ```
#[derive(Debug)]
pub struct Iter<'a, T> {
    receiver: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;

    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.receiver.recv().ok()
    }
}

/// Non-blocking iterator over a [`Receiver`]: the values ready now.
///
/// ```
/// let (tx, rx) = rt::chan::bounded(2);
/// tx.send(1).unwrap();
/// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1]);
/// ```
#[derive(Debug)]
pub struct TryIter<'a, T> {
    receiver: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.receiver.try_recv().ok()
    }
}

/// Owning blocking iterator over a [`Receiver`].
///
/// ```
/// let (tx, rx) = rt::chan::unbounded();
/// tx.send("x").unwrap();
/// drop(tx);
/// assert_eq!(rx.into_iter().collect::<Vec<_>>(), ["x"]);
/// ```
#[derive(Debug)]
pub struct IntoIter<T> {
    receiver: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.receiver.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        IntoIter { receiver: self }
    }
}
