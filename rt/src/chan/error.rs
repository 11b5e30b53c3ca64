//! What channel operations return when they cannot complete.

use std::error::Error;
use std::fmt;

/// The channel was closed (or every receiver dropped): the value comes back.
///
/// ```
/// let (tx, rx) = rt::chan::bounded::<String>(1);
/// drop(rx);
/// let err = tx.send("lost?".to_string()).unwrap_err();
/// assert_eq!(err.into_inner(), "lost?"); // never lost: it comes back
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// let (tx, _rx) = rt::chan::unbounded::<u8>();
    /// tx.close();
    /// assert_eq!(tx.send(7).unwrap_err().into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError { .. }")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a closed channel")
    }
}

impl<T> Error for SendError<T> {}

/// The channel is closed and its buffer is drained: no value will come.
///
/// ```
/// let (tx, rx) = rt::chan::bounded::<u8>(1);
/// tx.send(1).unwrap();
/// drop(tx); // the last sender closes the channel
/// assert_eq!(rx.recv(), Ok(1));
/// assert_eq!(rx.recv(), Err(rt::chan::RecvError));
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("receiving on a closed and empty channel")
    }
}

impl Error for RecvError {}

/// Why [`Sender::try_send`](super::Sender::try_send) did not send; the value
/// comes back either way.
///
/// ```
/// use rt::chan::TrySendError;
/// let (tx, _rx) = rt::chan::bounded::<u8>(1);
/// assert_eq!(tx.try_send(1), Ok(()));
/// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
/// tx.close();
/// assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    /// The buffer is full and no receiver is waiting.
    Full(T),
    /// The channel is closed.
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// let (tx, _rx) = rt::chan::bounded::<u8>(0);
    /// assert_eq!(tx.try_send(5).unwrap_err().into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(value) | TrySendError::Closed(value) => value,
        }
    }

    /// Was the channel full (rather than closed)?
    ///
    /// ```
    /// let (tx, _rx) = rt::chan::bounded::<u8>(0); // no receiver waits
    /// assert!(tx.try_send(5).unwrap_err().is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// Was the channel closed?
    ///
    /// ```
    /// let (tx, rx) = rt::chan::bounded::<u8>(4);
    /// drop(rx);
    /// assert!(tx.try_send(5).unwrap_err().is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySendError::Closed(_))
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("sending on a full channel"),
            TrySendError::Closed(_) => f.write_str("sending on a closed channel"),
        }
    }
}

impl<T> Error for TrySendError<T> {}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(err: SendError<T>) -> Self {
        TrySendError::Closed(err.0)
    }
}

/// Why [`Receiver::try_recv`](super::Receiver::try_recv) returned nothing.
///
/// ```
/// use rt::chan::TryRecvError;
/// let (tx, rx) = rt::chan::unbounded::<u8>();
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum TryRecvError {
    /// Nothing to receive right now.
    Empty,
    /// Closed and drained: nothing will ever come.
    Closed,
}

impl TryRecvError {
    /// Was the channel merely empty?
    ///
    /// ```
    /// let (_tx, rx) = rt::chan::bounded::<u8>(1);
    /// assert!(rx.try_recv().unwrap_err().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        matches!(self, TryRecvError::Empty)
    }

    /// Is the channel closed and drained?
    ///
    /// ```
    /// let (tx, rx) = rt::chan::bounded::<u8>(1);
    /// tx.close();
    /// assert!(rx.try_recv().unwrap_err().is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, TryRecvError::Closed)
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("receiving on an empty channel"),
            TryRecvError::Closed => f.write_str("receiving on a closed and empty channel"),
        }
    }
}

impl Error for TryRecvError {}

impl From<RecvError> for TryRecvError {
    fn from(_: RecvError) -> Self {
        TryRecvError::Closed
    }
}

/// Why [`Receiver::recv_timeout`](super::Receiver::recv_timeout) returned
/// nothing.
///
/// ```
/// use std::time::Duration;
/// use rt::chan::RecvTimeoutError;
/// let (_tx, rx) = rt::chan::bounded::<u8>(0);
/// assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum RecvTimeoutError {
    /// The time ran out first.
    Timeout,
    /// Closed and drained.
    Closed,
}

impl RecvTimeoutError {
    /// Did the time run out?
    ///
    /// ```
    /// # use std::time::Duration;
    /// let (_tx, rx) = rt::chan::unbounded::<u8>();
    /// assert!(rx.recv_timeout(Duration::ZERO).unwrap_err().is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, RecvTimeoutError::Timeout)
    }

    /// Is the channel closed and drained?
    ///
    /// ```
    /// # use std::time::Duration;
    /// let (tx, rx) = rt::chan::unbounded::<u8>();
    /// drop(tx);
    /// assert!(rx.recv_timeout(Duration::from_secs(1)).unwrap_err().is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, RecvTimeoutError::Closed)
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("timed out waiting on a channel"),
            RecvTimeoutError::Closed => f.write_str("receiving on a closed and empty channel"),
        }
    }
}

impl Error for RecvTimeoutError {}

impl From<RecvError> for RecvTimeoutError {
    fn from(_: RecvError) -> Self {
        RecvTimeoutError::Closed
    }
}

/// Why [`Sender::send_timeout`](super::Sender::send_timeout) did not send;
/// the value comes back either way.
///
/// ```
/// use std::time::Duration;
/// use rt::chan::SendTimeoutError;
/// let (tx, _rx) = rt::chan::bounded::<u8>(0); // nobody receives
/// assert_eq!(tx.send_timeout(9, Duration::from_millis(1)), Err(SendTimeoutError::Timeout(9)));
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum SendTimeoutError<T> {
    /// The time ran out first.
    Timeout(T),
    /// The channel is closed.
    Closed(T),
}

impl<T> SendTimeoutError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let (tx, _rx) = rt::chan::bounded::<u8>(0);
    /// assert_eq!(tx.send_timeout(3, Duration::ZERO).unwrap_err().into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(value) | SendTimeoutError::Closed(value) => value,
        }
    }

    /// Did the time run out?
    ///
    /// ```
    /// # use std::time::Duration;
    /// let (tx, _rx) = rt::chan::bounded::<u8>(0);
    /// assert!(tx.send_timeout(3, Duration::ZERO).unwrap_err().is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, SendTimeoutError::Timeout(_))
    }

    /// Is the channel closed?
    ///
    /// ```
    /// # use std::time::Duration;
    /// let (tx, rx) = rt::chan::bounded::<u8>(0);
    /// drop(rx);
    /// assert!(tx.send_timeout(3, Duration::from_secs(1)).unwrap_err().is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, SendTimeoutError::Closed(_))
    }
}

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            SendTimeoutError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("timed out waiting on a channel"),
            SendTimeoutError::Closed(_) => f.write_str("sending on a closed channel"),
        }
    }
}

impl<T> Error for SendTimeoutError<T> {}

impl<T> From<SendError<T>> for SendTimeoutError<T> {
    fn from(err: SendError<T>) -> Self {
        SendTimeoutError::Closed(err.0)
    }
}
