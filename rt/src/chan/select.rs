//! `select!`: wait on several channel operations, complete exactly one.
//!
//! The macro turns each arm into a [`RecvArm`] or [`SendArm`] on the
//! caller's stack and calls [`select`], which:
//!
//! 1. tries every arm without waiting, starting at a random arm (fairness:
//!    when several are ready, each is equally likely to win);
//! 2. if none is ready (and there is no `default`), registers one wait
//!    entry per arm, all sharing one [`Selector`], and parks. The first
//!    counterpart to claim the selector completes its arm; the other
//!    entries are stale from that instant and are removed on the way out.
//!
//! If an arm turns out ready while registering, the select aborts its own
//! registration (or finds that an arm was claimed meanwhile) and starts
//! over: a party registered somewhere never completes an operation itself,
//! so no claim ever needs two selectors at once.

use std::cell::Cell;
use std::time::Instant;

use super::core::{wake, Chan, Entry};
use super::error::{RecvError, SendError, TryRecvError, TrySendError};
use super::selector::{Selector, Woken};
use super::{Receiver, Sender};
use crate::scheduler::task::WaitReason;
use crate::scheduler::task::{park, WaitSite};

/// How long [`select`] may wait.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// Until an arm fires.
    Block,
    /// Not at all (`default` arm).
    NonBlocking,
    /// Until the instant (`timeout` / `deadline` arm).
    Until(Instant),
}

/// One arm of a select, type-erased. Methods take `&self`: entries are
/// shared with other threads through the channels' queues while
/// registered.
pub trait SelectArm {
    /// Complete the operation now if it can be; `true` if it did.
    fn try_fire(&self) -> bool;
    /// Queue a wait entry for `selector` unless the operation is ready;
    /// `true` means ready (and not queued).
    fn register(&self, selector: &Selector, arm: usize) -> bool;
    /// Take the wait entry out of its queue, if it is there.
    fn unregister(&self);
    /// The entry's selector fired this arm: collect the result.
    fn complete(&self);
}

/// Anything `select!` can receive from: a [`Receiver`] or a reference to one.
pub trait AsReceiver {
    /// The values received.
    type Item;
    /// The receiver.
    fn as_receiver(&self) -> &Receiver<Self::Item>;
}

impl<T> AsReceiver for Receiver<T> {
    type Item = T;
    fn as_receiver(&self) -> &Receiver<T> {
        self
    }
}

impl<R: AsReceiver + ?Sized> AsReceiver for &R {
    type Item = R::Item;
    fn as_receiver(&self) -> &Receiver<R::Item> {
        (**self).as_receiver()
    }
}

/// Anything `select!` can send on: a [`Sender`] or a reference to one.
pub trait AsSender {
    /// The values sent.
    type Item;
    /// The sender.
    fn as_sender(&self) -> &Sender<Self::Item>;
}

impl<T> AsSender for Sender<T> {
    type Item = T;
    fn as_sender(&self) -> &Sender<T> {
        self
    }
}

impl<S: AsSender + ?Sized> AsSender for &S {
    type Item = S::Item;
    fn as_sender(&self) -> &Sender<S::Item> {
        (**self).as_sender()
    }
}

/// A receive arm.
pub struct RecvArm<'a, T> {
    chan: &'a Chan<T>,
    entry: Entry<T>,
    registered: Cell<bool>,
    result: Cell<Option<Result<T, RecvError>>>,
}

impl<'a, T> RecvArm<'a, T> {
    /// An arm receiving from `receiver`.
    pub fn new<R: AsReceiver<Item = T> + ?Sized>(receiver: &'a R) -> Self {
        RecvArm {
            chan: receiver.as_receiver().chan(),
            entry: Entry::new(None),
            registered: Cell::new(false),
            result: Cell::new(None),
        }
    }

    /// The result, if this arm fired.
    pub fn take(&self) -> Option<Result<T, RecvError>> {
        self.result.take()
    }
}

impl<T> SelectArm for RecvArm<'_, T> {
    fn try_fire(&self) -> bool {
        let attempt = self.chan.inner.lock().try_recv(std::ptr::null());
        let result = match attempt {
            Ok((value, unparker)) => {
                wake(unparker);
                Ok(value)
            }
            Err(TryRecvError::Closed) => Err(RecvError),
            Err(TryRecvError::Empty) => return false,
        };
        self.result.set(Some(result));
        true
    }

    fn register(&self, selector: &Selector, arm: usize) -> bool {
        let mut inner = self.chan.inner.lock();
        if inner.recv_ready(selector) {
            return true;
        }
        self.entry.bind(selector, arm);
        inner.receivers.push(&self.entry);
        self.registered.set(true);
        false
    }

    fn unregister(&self) {
        if self.registered.replace(false) {
            let _ = self.chan.inner.lock().receivers.remove(&self.entry);
        }
    }

    fn complete(&self) {
        self.registered.set(false); // the claimer took the entry out
        self.result.set(Some(self.entry.take().ok_or(RecvError)));
    }
}

/// A send arm; holds the value until it is sent (or the arm loses, and the
/// value is dropped with the arm).
pub struct SendArm<'a, T> {
    chan: &'a Chan<T>,
    entry: Entry<T>,
    registered: Cell<bool>,
    result: Cell<Option<Result<(), SendError<T>>>>,
}

impl<'a, T> SendArm<'a, T> {
    /// An arm sending `value` on `sender`.
    pub fn new<S: AsSender<Item = T> + ?Sized>(sender: &'a S, value: T) -> Self {
        SendArm {
            chan: sender.as_sender().chan(),
            entry: Entry::new(Some(value)),
            registered: Cell::new(false),
            result: Cell::new(None),
        }
    }

    /// The result, if this arm fired.
    pub fn take(&self) -> Option<Result<(), SendError<T>>> {
        self.result.take()
    }
}

impl<T> SelectArm for SendArm<'_, T> {
    fn try_fire(&self) -> bool {
        let value = self
            .entry
            .take()
            .expect("a send arm holds its value until it fires");
        let attempt = self
            .chan
            .inner
            .lock()
            .try_send(value, self.chan.cap, std::ptr::null());
        let result = match attempt {
            Ok(unparker) => {
                wake(unparker);
                Ok(())
            }
            Err(TrySendError::Closed(value)) => Err(SendError(value)),
            Err(TrySendError::Full(value)) => {
                self.entry.put(value);
                return false;
            }
        };
        self.result.set(Some(result));
        true
    }

    fn register(&self, selector: &Selector, arm: usize) -> bool {
        let mut inner = self.chan.inner.lock();
        if inner.send_ready(self.chan.cap, selector) {
            return true;
        }
        self.entry.bind(selector, arm);
        inner.senders.push(&self.entry);
        self.registered.set(true);
        false
    }

    fn unregister(&self) {
        if self.registered.replace(false) {
            let _ = self.chan.inner.lock().senders.remove(&self.entry);
        }
    }

    fn complete(&self) {
        self.registered.set(false);
        self.result.set(Some(match self.entry.take() {
            None => Ok(()),
            Some(value) => Err(SendError(value)), // closed while waiting
        }));
    }
}

/// Unregisters every arm when dropped (also when the wait unwinds).
struct Registered<'a>(&'a [&'a dyn SelectArm]);

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.0.iter().for_each(|arm| arm.unregister());
    }
}

/// Complete exactly one of `arms`; returns its index, or `None` when the
/// mode's `default`/deadline applied instead.
#[track_caller]
pub fn select(arms: &[&dyn SelectArm], mode: Mode) -> Option<usize> {
    let n = arms.len();
    // Under loom the model must be deterministic: always start at arm 0.
    let start = if n > 1 && !cfg!(loom) {
        random_below(n)
    } else {
        0
    };
    let order = (0..n).map(move |k| (start + k) % n);
    let try_all = || order.clone().find(|&i| arms[i].try_fire());
    if let Some(fired) = try_all() {
        return Some(fired);
    }
    let deadline = match mode {
        Mode::NonBlocking => return None,
        Mode::Block => None,
        Mode::Until(deadline) => Some(deadline),
    };
    if n == 0 {
        // Go's `select {}`: nothing can ever fire.
        match deadline {
            Some(deadline) => crate::time::sleep_until(deadline),
            None => loop {
                park(WaitSite::here(WaitReason::SelectNoArms));
            },
        }
        return None;
    }
    let selector = Selector::current();
    loop {
        let registered = Registered(arms);
        let ready = order.clone().any(|i| arms[i].register(&selector, i));
        let fired = if ready {
            match selector.try_abort() {
                Ok(()) => {
                    drop(registered);
                    selector.reset();
                    if let Some(fired) = try_all() {
                        return Some(fired);
                    }
                    if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                        return None;
                    }
                    continue; // the ready arm was taken by someone else
                }
                Err(fired) => fired,
            }
        } else {
            match selector.wait(deadline, WaitSite::here(WaitReason::Select), &mut || true) {
                Woken::Fired(fired) => fired,
                Woken::TimedOut => return None,
            }
        };
        arms[fired].complete();
        drop(registered);
        return Some(fired);
    }
}

/// A random number in `0..n` from a per-thread xorshift generator.
#[inline(never)]
fn random_below(n: usize) -> usize {
    use std::hash::{BuildHasher, Hasher};
    thread_local! {
        static STATE: Cell<u64> = const { Cell::new(0) };
    }
    STATE.with(|state| {
        let mut x = state.get();
        if x == 0 {
            x = std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
                | 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        ((u128::from(x) * n as u128) >> 64) as usize
    })
}

/// Wait on several channel operations and run the arm of the one that
/// completes — Go's `select`.
///
/// Arms:
/// - `recv(rx) -> result => body`: `result` is `Result<T, RecvError>`
///   (`Err` once the channel is closed and drained).
/// - `send(tx, value) -> result => body`: `result` is
///   `Result<(), SendError<T>>` (`Err` holds the value if the channel is
///   closed). `value` is evaluated when the select starts, as in Go.
/// - at most one of `default => body` (run if no operation can complete
///   now), `timeout(duration) => body` or `deadline(instant) => body`.
///
/// Exactly one arm runs. An operation that did not fire had no effect: no
/// value is taken from or delivered to a losing arm's channel. When several
/// operations are ready, the winner is chosen at random, so no arm starves.
/// Bodies are inlined: `break`, `continue`, `return` and `?` work as usual.
///
/// ```
/// use std::time::Duration;
/// rt::run(|| {
///     let (tx, rx) = rt::chan::bounded::<u32>(0);
///     let (quit_tx, quit_rx) = rt::chan::bounded::<()>(0);
///     rt::spawn(move || {
///         for i in 0..3 {
///             tx.send(i).unwrap();
///         }
///         quit_tx.send(()).unwrap();
///     });
///     let mut got = Vec::new();
///     loop {
///         rt::select! {
///             recv(rx) -> v => got.push(v.unwrap()),
///             recv(quit_rx) -> _ => break,
///             timeout(Duration::from_secs(10)) => panic!("stuck"),
///         }
///     }
///     assert_eq!(got, [0, 1, 2]);
/// });
/// ```
#[macro_export]
macro_rules! select {
    ($($arms:tt)*) => {
        $crate::__select_parse!(@arms () () $($arms)*)
    };
}

/// The implementation of [`select!`]: collects arms, then expands.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // recv(rx) -> result => body
    (@arms ($($arms:tt)*) ($($fb:tt)*) recv($rx:expr) -> $res:pat => $body:block $(,)? $($rest:tt)*) => {
        $crate::__select_parse!(@arms ($($arms)* [__arm __src ($rx) recv () ($res) $body]) ($($fb)*) $($rest)*)
    };
    (@arms ($($arms:tt)*) ($($fb:tt)*) recv($rx:expr) -> $res:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@arms ($($arms)* [__arm __src ($rx) recv () ($res) { $body }]) ($($fb)*) $($rest)*)
    };
    (@arms ($($arms:tt)*) ($($fb:tt)*) recv($rx:expr) -> $res:pat => $body:expr) => {
        $crate::__select_parse!(@arms ($($arms)* [__arm __src ($rx) recv () ($res) { $body }]) ($($fb)*))
    };
    // send(tx, value) -> result => body
    (@arms ($($arms:tt)*) ($($fb:tt)*) send($tx:expr, $value:expr) -> $res:pat => $body:block $(,)? $($rest:tt)*) => {
        $crate::__select_parse!(@arms ($($arms)* [__arm __src ($tx) send ($value) ($res) $body]) ($($fb)*) $($rest)*)
    };
    (@arms ($($arms:tt)*) ($($fb:tt)*) send($tx:expr, $value:expr) -> $res:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@arms ($($arms)* [__arm __src ($tx) send ($value) ($res) { $body }]) ($($fb)*) $($rest)*)
    };
    (@arms ($($arms:tt)*) ($($fb:tt)*) send($tx:expr, $value:expr) -> $res:pat => $body:expr) => {
        $crate::__select_parse!(@arms ($($arms)* [__arm __src ($tx) send ($value) ($res) { $body }]) ($($fb)*))
    };
    // default / timeout / deadline: at most one
    (@arms ($($arms:tt)*) ($($fb:tt)+) $kind:ident $($rest:tt)*) => {
        ::std::compile_error!("select! takes at most one `default`, `timeout` or `deadline` arm")
    };
    (@arms ($($arms:tt)*) () default => $body:block $(,)? $($rest:tt)*) => {
        $crate::__select_parse!(@arms ($($arms)*) (default $body) $($rest)*)
    };
    (@arms ($($arms:tt)*) () default => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@arms ($($arms)*) (default { $body }) $($($rest)*)?)
    };
    (@arms ($($arms:tt)*) () timeout($after:expr) => $body:block $(,)? $($rest:tt)*) => {
        $crate::__select_parse!(@arms ($($arms)*) (after ($after) $body) $($rest)*)
    };
    (@arms ($($arms:tt)*) () timeout($after:expr) => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@arms ($($arms)*) (after ($after) { $body }) $($($rest)*)?)
    };
    (@arms ($($arms:tt)*) () deadline($at:expr) => $body:block $(,)? $($rest:tt)*) => {
        $crate::__select_parse!(@arms ($($arms)*) (until ($at) $body) $($rest)*)
    };
    (@arms ($($arms:tt)*) () deadline($at:expr) => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@arms ($($arms)*) (until ($at) { $body }) $($($rest)*)?)
    };
    // all arms collected
    (@arms ($([$name:ident $src:ident $source:tt $kind:ident $value:tt $res:tt $body:tt])*) ($($fb:tt)*)) => {{
        // `let x = &expr;` keeps a temporary channel reference alive for
        // the whole select (`recv(ticker.receiver())`).
        $( let $src = &$source; )*
        $( let $name = $crate::__select_parse!(@new $kind $src $value); )*
        $crate::chan::__private::select(
            &[$(&$name as &dyn $crate::chan::__private::SelectArm),*],
            $crate::__select_parse!(@mode $($fb)*),
        );
        $(
            if let ::std::option::Option::Some(__result) = $name.take() {
                let $res = __result;
                $body
            } else
        )*
        { $crate::__select_parse!(@fallback $($fb)*) }
    }};
    (@arms $($unknown:tt)*) => {
        ::std::compile_error!("select! arms are `recv(rx) -> v => ..`, `send(tx, value) -> r => ..`, `default => ..`, `timeout(duration) => ..` or `deadline(instant) => ..`")
    };
    (@new recv $src:ident ()) => { $crate::chan::__private::RecvArm::new($src) };
    (@new send $src:ident ($value:expr)) => { $crate::chan::__private::SendArm::new($src, $value) };
    (@mode) => { $crate::chan::__private::Mode::Block };
    (@mode default $body:tt) => { $crate::chan::__private::Mode::NonBlocking };
    (@mode until $at:tt $body:tt) => { $crate::chan::__private::Mode::Until($at) };
    (@mode after $after:tt $body:tt) => { $crate::chan::__private::timeout($after) };
    (@fallback) => { ::std::unreachable!("select! without default or timeout fires an arm") };
    (@fallback default $body:tt) => { $body };
    (@fallback until $at:tt $body:tt) => { $body };
    (@fallback after $after:tt $body:tt) => { $body };
}
