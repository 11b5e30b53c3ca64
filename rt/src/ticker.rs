//! Timers that need a coroutine of their own: [`Ticker`] (Go's
//! `time.Ticker`) and [`after`] (Go's `time.After`). A service above the
//! runtime: each spawns a coroutine that sleeps and sends on a channel.

use std::fmt;
use std::time::{Duration, Instant};

use crate::chan::{self, Receiver, TrySendError};
use crate::join::JoinHandle;
use crate::scheduler::task::{WaitReason, WaitSite};
use crate::time;

/// A channel that receives the time once, `duration` from now (Go's
/// `time.After`). The value is sent by a coroutine that sleeps until then;
/// like Go's timers before 1.23 it lives until it fires even if the
/// receiver is dropped, so inside `select!` prefer a `timeout(..)` arm,
/// which costs nothing.
///
/// ```
/// use std::time::{Duration, Instant};
/// let start = Instant::now();
/// let fired = rt::after(Duration::from_millis(5)).recv().unwrap();
/// assert!(fired >= start + Duration::from_millis(5));
/// ```
pub fn after(duration: Duration) -> Receiver<Instant> {
    let (sender, receiver) = chan::bounded(1);
    let deadline = time::deadline_after(duration);
    crate::runtime::spawn(move || {
        match deadline {
            Some(deadline) => time::sleep_until(deadline),
            // Never fires (`Duration::MAX`); the runtime's shutdown ends it.
            None => time::sleep_forever(WaitSite::here(WaitReason::Sleep)),
        }
        let _ = sender.try_send(Instant::now());
    });
    receiver
}

/// Ticks at a fixed period, like Go's `time.Ticker`: receive them with
/// [`Ticker::tick`], or use [`Ticker::receiver`] in [`select!`](crate::select).
/// A slow receiver misses ticks rather than getting a burst of stale ones
/// (one tick is buffered). Dropping the ticker stops it.
///
/// ```
/// use std::time::{Duration, Instant};
/// rt::run(|| {
///     let start = Instant::now();
///     let ticker = rt::Ticker::new(Duration::from_millis(5));
///     for n in 1..=3 {
///         ticker.tick();
///         assert!(start.elapsed() >= Duration::from_millis(5 * n));
///     }
/// });
/// ```
pub struct Ticker {
    /// The ticks.
    receiver: Receiver<Instant>,
    /// The coroutine that sends them; cancelled on drop.
    feeder: JoinHandle<()>,
    /// Time between ticks.
    period: Duration,
}

impl Ticker {
    /// Tick every `period`, the first tick one period from now.
    ///
    /// # Panics
    ///
    /// If `period` is zero (as Go's `NewTicker` does).
    ///
    /// ```
    /// let ticker = rt::Ticker::new(std::time::Duration::from_millis(1));
    /// assert_eq!(ticker.period(), std::time::Duration::from_millis(1));
    /// ```
    pub fn new(period: Duration) -> Ticker {
        assert!(
            !period.is_zero(),
            "rt::Ticker::new: the period must be non-zero"
        );
        let (sender, receiver) = chan::bounded(1);
        let start = Instant::now();
        let feeder = crate::runtime::spawn(move || {
            // A tick past what `Instant` can represent never comes.
            let tick_site = WaitSite::here(WaitReason::Ticker);
            let Some(mut next) = start.checked_add(period) else {
                time::sleep_forever(tick_site);
            };
            loop {
                time::sleep_until(next);
                let now = Instant::now();
                if let Err(TrySendError::Closed(_)) = sender.try_send(now) {
                    return;
                }
                // Skip ticks that are already late.
                let missed = now.duration_since(next).as_nanos() / period.as_nanos();
                let skip = u32::try_from(missed).unwrap_or(u32::MAX - 1) + 1;
                match period.checked_mul(skip).and_then(|d| next.checked_add(d)) {
                    Some(later) => next = later,
                    None => time::sleep_forever(tick_site),
                }
            }
        });
        Ticker {
            receiver,
            feeder,
            period,
        }
    }

    /// Wait for the next tick; returns when it was sent.
    ///
    /// ```
    /// let ticker = rt::Ticker::new(std::time::Duration::from_millis(1));
    /// let first = ticker.tick();
    /// assert!(ticker.tick() > first);
    /// ```
    #[track_caller]
    pub fn tick(&self) -> Instant {
        self.receiver
            .recv_for(WaitReason::Ticker)
            .expect("a ticker's channel stays open while the ticker lives")
    }

    /// The ticks as a channel, for `select!`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let ticker = rt::Ticker::new(Duration::from_millis(1));
    /// let (_tx, never) = rt::chan::bounded::<()>(0);
    /// let ticked = rt::select! {
    ///     recv(ticker.receiver()) -> _ => true,
    ///     recv(never) -> _ => false,
    /// };
    /// assert!(ticked);
    /// ```
    pub fn receiver(&self) -> &Receiver<Instant> {
        &self.receiver
    }

    /// The period it was created with.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(rt::Ticker::new(Duration::from_secs(1)).period(), Duration::from_secs(1));
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.feeder.cancel();
    }
}

impl fmt::Debug for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticker")
            .field("period", &self.period)
            .finish()
    }
}
