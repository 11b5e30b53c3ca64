//! [`Select`]: a select over a set of channel operations built at run time
//! (Go's `reflect.Select`), on the same engine as `select!`.

use std::fmt;
use std::time::{Duration, Instant};

use super::arms::{RecvArm, SelectArm, SendArm};
use super::error::{RecvError, SendError};
use super::select::{select, Arms, Lock, Mode};
use super::{Receiver, Sender};

/// A select over any number of receive and send operations on channels of
/// one value type, chosen at run time — Go's `reflect.Select`, for fan-in
/// over a `Vec<Receiver<T>>` without a coroutine per channel.
///
/// Each operation is a *case*, numbered in the order it was added. Every
/// call to [`select`](Select::select) (or its `try_`/`_timeout`/`_deadline`
/// forms) completes exactly one enabled case, with `select!`'s rules: every
/// ready case is equally likely to win, a losing case has no effect, and
/// [`try_select`](Select::try_select) returns `None` only if, at one
/// instant, no case was ready. The `Select` is reusable: receive cases stay
/// as they are; a send case that fired has no value left and sits out
/// until [`set_value`](Select::set_value) gives it another. A disabled
/// case ([`disable`](Select::disable)) never fires, like a nil channel in
/// Go; with no enabled case, `select` waits forever (until cancelled). If
/// a select is interrupted while it waits (a cancellation, an
/// [`rt::timeout`](crate::timeout)), a send case whose value was taken
/// meanwhile sits out until `set_value`, and a value handed to a receive
/// case is dropped, as a cancelled `recv` drops it.
///
/// ```
/// use rt::chan::{Select, Selected};
/// rt::run(|| {
///     let channels: Vec<_> = (0..8).map(|_| rt::chan::bounded::<u64>(0)).collect();
///     for (i, (tx, _)) in channels.iter().enumerate() {
///         let tx = tx.clone();
///         rt::go!(move || (0..10).for_each(|k| tx.send(i as u64 * 100 + k).unwrap()));
///     }
///     let receivers: Vec<_> = channels.into_iter().map(|(_, rx)| rx).collect();
///     // Fan in: one coroutine waits on all of them.
///     let mut select = Select::new();
///     for rx in &receivers {
///         select.recv(rx);
///     }
///     let (mut sum, mut open) = (0, receivers.len());
///     while open > 0 {
///         match select.select() {
///             Selected::Recv { result: Ok(v), .. } => sum += v,
///             Selected::Recv { index, result: Err(_) } => {
///                 select.disable(index); // closed: switch the case off
///                 open -= 1;
///             }
///             Selected::Send { .. } => unreachable!("no send cases"),
///         }
///     }
///     assert_eq!(sum, (0..8).map(|i| i * 1000 + 45).sum::<u64>());
/// });
/// ```
pub struct Select<'a, T> {
    /// The cases, by index.
    cases: Vec<Case<'a, T>>,
    /// The engine's poll order (a slot per case).
    order: Vec<u32>,
    /// The engine's lock order (a slot per case, for `try_select`).
    locks: Vec<Lock>,
}

/// One case and whether it takes part.
struct Case<'a, T> {
    /// The operation.
    op: CaseOp<'a, T>,
    /// Not disabled by the user.
    enabled: bool,
    /// A send case holds a value (a receive case always counts as loaded).
    loaded: bool,
}

/// A receive or a send.
enum CaseOp<'a, T> {
    Recv(RecvArm<'a, T>),
    Send(SendArm<'a, T>),
}

/// The case a [`Select`] completed, and its outcome.
///
/// ```
/// use rt::chan::{Select, Selected};
/// let (tx, rx) = rt::chan::bounded::<&str>(1);
/// let mut select = Select::new();
/// select.send(&tx, "hi");
/// let done = select.try_select().unwrap();
/// assert_eq!(done.index(), 0);
/// assert!(matches!(done, Selected::Send { result: Ok(()), .. }));
/// assert_eq!(rx.recv(), Ok("hi"));
/// ```
#[derive(Debug, PartialEq, Eq)]
pub enum Selected<T> {
    /// Receive case `index` completed: a value, or `Err` once its channel
    /// is closed and drained.
    Recv {
        /// Which case.
        index: usize,
        /// What it received.
        result: Result<T, RecvError>,
    },
    /// Send case `index` completed: its value was delivered, or `Err`
    /// holds it back because the channel is closed.
    Send {
        /// Which case.
        index: usize,
        /// Whether the value was sent.
        result: Result<(), SendError<T>>,
    },
}

impl<T> Selected<T> {
    /// The index of the case that completed.
    ///
    /// ```
    /// let (_tx, rx) = rt::chan::bounded::<u8>(0);
    /// let (tx2, rx2) = rt::chan::bounded::<u8>(1);
    /// tx2.send(7).unwrap();
    /// let mut select = rt::chan::Select::new();
    /// select.recv(&rx);
    /// select.recv(&rx2);
    /// assert_eq!(select.try_select().map(|s| s.index()), Some(1));
    /// ```
    pub fn index(&self) -> usize {
        match self {
            Selected::Recv { index, .. } | Selected::Send { index, .. } => *index,
        }
    }
}

impl<'a, T> Select<'a, T> {
    /// An empty select.
    ///
    /// ```
    /// let select = rt::chan::Select::<u32>::new();
    /// assert!(select.is_empty());
    /// ```
    pub fn new() -> Self {
        Select {
            cases: Vec::new(),
            order: Vec::new(),
            locks: Vec::new(),
        }
    }

    /// Add a case receiving from `receiver`; returns its index.
    ///
    /// ```
    /// let (tx, rx) = rt::chan::bounded::<u8>(1);
    /// tx.send(1).unwrap();
    /// let mut select = rt::chan::Select::new();
    /// let i = select.recv(&rx);
    /// assert_eq!(
    ///     select.select(),
    ///     rt::chan::Selected::Recv { index: i, result: Ok(1) }
    /// );
    /// ```
    pub fn recv(&mut self, receiver: &'a Receiver<T>) -> usize {
        self.push(CaseOp::Recv(RecvArm::new(receiver)))
    }

    /// Add a case sending `value` on `sender`; returns its index.
    ///
    /// ```
    /// let (tx, rx) = rt::chan::bounded::<u8>(1);
    /// let mut select = rt::chan::Select::new();
    /// select.send(&tx, 5);
    /// assert_eq!(select.select().index(), 0);
    /// assert_eq!(rx.recv(), Ok(5));
    /// ```
    pub fn send(&mut self, sender: &'a Sender<T>, value: T) -> usize {
        self.push(CaseOp::Send(SendArm::new(sender, value)))
    }

    fn push(&mut self, op: CaseOp<'a, T>) -> usize {
        self.cases.push(Case {
            op,
            enabled: true,
            loaded: true,
        });
        self.cases.len() - 1
    }

    /// Switch case `index` off (Go: set its channel to nil). A send case
    /// keeps its value.
    ///
    /// # Panics
    ///
    /// If there is no case `index`.
    ///
    /// ```
    /// let (tx, rx) = rt::chan::bounded::<u8>(1);
    /// tx.send(1).unwrap();
    /// let mut select = rt::chan::Select::new();
    /// select.recv(&rx);
    /// select.disable(0);
    /// assert!(select.try_select().is_none());
    /// select.enable(0);
    /// assert!(select.try_select().is_some());
    /// ```
    pub fn disable(&mut self, index: usize) {
        self.cases[index].enabled = false;
    }

    /// Switch case `index` back on.
    ///
    /// # Panics
    ///
    /// If there is no case `index`.
    ///
    /// ```
    /// let (tx, _rx) = rt::chan::bounded::<u8>(1);
    /// let mut select = rt::chan::Select::new();
    /// select.send(&tx, 1);
    /// select.disable(0);
    /// select.enable(0);
    /// assert!(select.try_select().is_some());
    /// ```
    pub fn enable(&mut self, index: usize) {
        self.cases[index].enabled = true;
    }

    /// Give send case `index` a value to send (after it fired, or to
    /// replace the one it holds, which is returned).
    ///
    /// # Panics
    ///
    /// If case `index` is not a send case.
    ///
    /// ```
    /// let (tx, rx) = rt::chan::bounded::<u8>(2);
    /// let mut select = rt::chan::Select::new();
    /// let i = select.send(&tx, 1);
    /// select.select();
    /// assert!(select.try_select().is_none(), "fired: no value left");
    /// assert_eq!(select.set_value(i, 2), None);
    /// select.select();
    /// assert_eq!((rx.recv(), rx.recv()), (Ok(1), Ok(2)));
    /// ```
    pub fn set_value(&mut self, index: usize, value: T) -> Option<T> {
        let case = &mut self.cases[index];
        let CaseOp::Send(arm) = &case.op else {
            panic!("rt::chan::Select::set_value: case {index} is not a send case");
        };
        let old = arm.take_value();
        arm.set_value(value);
        case.loaded = true;
        old
    }

    /// How many cases (enabled or not).
    ///
    /// ```
    /// let (_tx, rx) = rt::chan::bounded::<u8>(0);
    /// let mut select = rt::chan::Select::new();
    /// select.recv(&rx);
    /// assert_eq!(select.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.cases.len()
    }

    /// Whether it has no cases.
    ///
    /// ```
    /// assert!(rt::chan::Select::<()>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }

    /// Wait until one case completes, and return it.
    ///
    /// ```
    /// rt::run(|| {
    ///     let (tx, rx) = rt::chan::bounded::<u8>(0);
    ///     rt::go!(move || tx.send(9).unwrap());
    ///     let mut select = rt::chan::Select::new();
    ///     select.recv(&rx);
    ///     assert_eq!(select.select(), rt::chan::Selected::Recv { index: 0, result: Ok(9) });
    /// });
    /// ```
    #[track_caller]
    pub fn select(&mut self) -> Selected<T> {
        self.run(Mode::Block)
            .expect("a blocking select completes a case")
    }

    /// Complete a case that is ready now; `None` if none is (Go's
    /// `default`).
    ///
    /// ```
    /// let (_tx, rx) = rt::chan::bounded::<u8>(1);
    /// let mut select = rt::chan::Select::new();
    /// select.recv(&rx);
    /// assert!(select.try_select().is_none());
    /// ```
    pub fn try_select(&mut self) -> Option<Selected<T>> {
        self.run(Mode::NonBlocking)
    }

    /// Wait at most `timeout` for a case to complete (`Duration::MAX`: no
    /// limit).
    ///
    /// ```
    /// use std::time::Duration;
    /// rt::run(|| {
    ///     let (_tx, rx) = rt::chan::bounded::<u8>(0);
    ///     let mut select = rt::chan::Select::new();
    ///     select.recv(&rx);
    ///     assert!(select.select_timeout(Duration::from_millis(1)).is_none());
    /// });
    /// ```
    #[track_caller]
    pub fn select_timeout(&mut self, timeout: Duration) -> Option<Selected<T>> {
        self.run(super::__private::timeout(timeout))
    }

    /// Wait until `deadline` at most for a case to complete.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// rt::run(|| {
    ///     let (_tx, rx) = rt::chan::bounded::<u8>(0);
    ///     let mut select = rt::chan::Select::new();
    ///     select.recv(&rx);
    ///     let deadline = Instant::now() + Duration::from_millis(1);
    ///     assert!(select.select_deadline(deadline).is_none());
    /// });
    /// ```
    #[track_caller]
    pub fn select_deadline(&mut self, deadline: Instant) -> Option<Selected<T>> {
        self.run(Mode::Until(deadline))
    }

    #[track_caller]
    fn run(&mut self, mode: Mode) -> Option<Selected<T>> {
        let n = self.cases.len();
        self.order.resize(n, 0);
        if matches!(mode, Mode::NonBlocking) {
            self.locks.resize(n, (0, 0, std::ptr::null_mut()));
        }
        /// If the select unwinds (a cancellation or `rt::timeout` while it
        /// waits), a case may have completed meanwhile: a send case's
        /// value is gone, a receive case holds what it was handed.
        /// Settle them so the next select starts clean (the received
        /// value is dropped, as a cancelled `recv` drops it).
        struct Settle<'s, 'a, T>(&'s mut [Case<'a, T>]);
        impl<T> Drop for Settle<'_, '_, T> {
            fn drop(&mut self) {
                self.0.iter_mut().for_each(Case::settle);
            }
        }
        let settle = Settle(&mut self.cases);
        let index = select(&settle.0[..], mode, &mut self.order, &mut self.locks);
        std::mem::forget(settle); // it returned: nothing to settle
        let index = index?;
        let case = &mut self.cases[index];
        Some(match &case.op {
            CaseOp::Recv(arm) => Selected::Recv {
                index,
                result: arm.take().expect("the fired arm has a result"),
            },
            CaseOp::Send(arm) => {
                case.loaded = false;
                Selected::Send {
                    index,
                    result: arm.take().expect("the fired arm has a result"),
                }
            }
        })
    }
}

impl<T> Default for Select<'_, T> {
    fn default() -> Self {
        Select::new()
    }
}

impl<T> fmt::Debug for Select<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("cases", &self.cases.len())
            .finish_non_exhaustive()
    }
}

impl<'a, T> Case<'a, T> {
    /// After an unwind out of a select (every entry is out of its queue
    /// by then): a send case is loaded only if it still holds its value;
    /// a receive case forgets a value it was handed.
    fn settle(&mut self) {
        match &self.op {
            CaseOp::Recv(arm) => drop(arm.take_handed()),
            CaseOp::Send(arm) => {
                let value = arm.take_value();
                self.loaded = value.is_some();
                if let Some(value) = value {
                    arm.set_value(value);
                }
            }
        }
    }

    /// The arm, if the case takes part in the next select.
    fn active(&self) -> Option<&dyn SelectArm> {
        if !(self.enabled && self.loaded) {
            return None;
        }
        Some(match &self.op {
            CaseOp::Recv(arm) => arm,
            CaseOp::Send(arm) => arm,
        })
    }
}

// SAFETY: the cases cannot change while the engine borrows them.
unsafe impl<T> Arms for [Case<'_, T>] {
    fn count(&self) -> usize {
        self.len()
    }
    fn arm(&self, i: usize) -> &dyn SelectArm {
        &self[i]
    }
}

/// A case that does not take part behaves as a disabled arm.
// SAFETY: it forwards to one of rt's arms, or is disabled (no channel);
// whether it takes part cannot change while the engine borrows it.
unsafe impl<T> SelectArm for Case<'_, T> {
    fn channel(&self) -> Option<usize> {
        self.active()?.channel()
    }
    fn try_fire(&self) -> bool {
        self.active().is_some_and(|arm| arm.try_fire())
    }
    fn lock(&self) -> *mut () {
        self.active().expect("only active cases lock").lock()
    }
    unsafe fn try_fire_locked(&self, inner: *mut ()) -> bool {
        let arm = self.active().expect("only active cases are polled");
        // SAFETY: forwarded from our caller, for the same channel.
        unsafe { arm.try_fire_locked(inner) }
    }
    fn unlock(&self) {
        self.active().expect("only active cases lock").unlock();
    }
    fn woken(&self) {
        self.active().expect("only active cases fire").woken();
    }
    fn register(&self, selector: &super::selector::Selector, arm: usize) -> bool {
        self.active().is_some_and(|a| a.register(selector, arm))
    }
    fn unregister(&self) {
        // Always: an active case registered in this select stays active
        // until the select returns.
        match &self.op {
            CaseOp::Recv(arm) => arm.unregister(),
            CaseOp::Send(arm) => arm.unregister(),
        }
    }
    fn complete(&self) {
        self.active().expect("only active cases fire").complete();
    }
}
