//! The select engine: complete exactly one of several channel operations.
//!
//! `select!` builds its arms ([`RecvArm`](super::arms::RecvArm),
//! [`SendArm`](super::arms::SendArm)) on the caller's stack and calls
//! [`select`]; so does the dynamic [`Select`](super::Select). As in Go's
//! `runtime/select.go`:
//!
//! 1. The arms are polled in a random order (a fresh shuffle each time), so
//!    every *ready* arm is equally likely to win, wherever it stands among
//!    arms that are not ready. (Starting at a random arm and scanning on
//!    is not enough: a ready arm behind a run of k non-ready ones would win
//!    k + 1 times as often.)
//! 2. With `default`, every channel of the select is locked first (in
//!    address order, each once) and the arms are polled under those locks:
//!    `default` is taken only if, at one instant, no arm was ready. Polling
//!    one channel at a time could miss an arm that was ready the whole
//!    time, if the readiness moved from a channel not yet polled to one
//!    already polled (a loom model in `loom-tests/tests/chan.rs` shows it).
//! 3. Otherwise, if no arm is ready, it registers one wait entry per arm,
//!    all sharing one [`Selector`], and parks. The first counterpart to
//!    claim the selector completes its arm; the other entries are stale
//!    from that instant and are removed on the way out. A blocking select
//!    needs no snapshot: whatever it misses while polling, registration
//!    sees.
//!
//! If an arm turns out ready while registering, the select aborts its own
//! registration (or finds that an arm was claimed meanwhile) and starts
//! over: a party registered somewhere never completes an operation itself,
//! so no claim ever needs two selectors at once.

use std::cell::Cell;
use std::time::Instant;

use super::arms::SelectArm;
use super::selector::{Selector, Woken};
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

/// The arms of one select, by index.
///
/// # Safety
///
/// `arm(i)` returns the same arm for the same `i` for as long as the
/// engine runs, for every `i < count()`.
pub unsafe trait Arms {
    /// How many arms (disabled ones included).
    fn count(&self) -> usize;
    /// Arm `i`.
    fn arm(&self, i: usize) -> &dyn SelectArm;
}

// SAFETY: a slice does not change while it is borrowed.
unsafe impl Arms for [&dyn SelectArm] {
    fn count(&self) -> usize {
        self.len()
    }
    fn arm(&self, i: usize) -> &dyn SelectArm {
        self[i]
    }
}

/// Unregisters every arm when dropped (also when the wait unwinds).
struct Registered<'a, A: Arms + ?Sized>(&'a A);

impl<A: Arms + ?Sized> Drop for Registered<'_, A> {
    fn drop(&mut self) {
        (0..self.0.count()).for_each(|i| self.0.arm(i).unregister());
    }
}

/// Complete exactly one of `arms`; returns its index, or `None` when the
/// mode's `default`/deadline applied instead. `order` has a slot per arm
/// (the poll order); so has `locks` in [`Mode::NonBlocking`] (the lock
/// order: channel address, arm, locked channel state), which other modes
/// do not use.
#[track_caller]
pub fn select<A: Arms + ?Sized>(
    arms: &A,
    mode: Mode,
    order: &mut [u32],
    locks: &mut [Lock],
) -> Option<usize> {
    let n = arms.count();
    let order = &mut order[..n];
    let deadline = match mode {
        Mode::NonBlocking => return poll_locked(arms, order, &mut locks[..n]),
        Mode::Block => None,
        Mode::Until(deadline) => Some(deadline),
    };
    shuffle(order);
    let order = &*order;
    let try_all = || {
        order
            .iter()
            .map(|&i| i as usize)
            .find(|&i| arms.arm(i).try_fire())
    };
    if let Some(fired) = try_all() {
        return Some(fired);
    }
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
        let ready = order
            .iter()
            .any(|&i| arms.arm(i as usize).register(&selector, i as usize));
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
        arms.arm(fired).complete();
        drop(registered);
        return Some(fired);
    }
}

/// A channel a `default` select locks: its address, the arm, and (once
/// locked) the channel's state, type-erased.
pub type Lock = (usize, u32, *mut ());

/// A `default` select: lock every channel (in address order, each once),
/// poll the enabled arms in a random order under the locks, unlock, then
/// wake the counterpart of the arm that fired. `order` and `locks` have a
/// slot per arm.
fn poll_locked<A: Arms + ?Sized>(arms: &A, order: &mut [u32], locks: &mut [Lock]) -> Option<usize> {
    let mut held = 0;
    for i in 0..order.len() {
        if let Some(channel) = arms.arm(i).channel() {
            locks[held] = (channel, i as u32, std::ptr::null_mut());
            held += 1;
        }
    }
    let locks = &mut locks[..held];
    if let [(_, only, _)] = *locks {
        // One channel: its own lock makes the poll one instant.
        let only = only as usize;
        return arms.arm(only).try_fire().then_some(only);
    }
    // Insertion sort by channel: a select has a handful of arms.
    for k in 1..held {
        let lock = locks[k];
        let mut at = k;
        while at > 0 && locks[at - 1].0 > lock.0 {
            locks[at] = locks[at - 1];
            at -= 1;
        }
        locks[at] = lock;
    }
    let mut held = Held {
        arms,
        locks,
        locked: 0,
    };
    held.lock_all();
    let order = &mut order[..held.locks.len()];
    shuffle(order);
    let fired = order
        .iter()
        .map(|&k| held.locks[k as usize])
        .find(|&(_, arm, inner)| {
            // SAFETY: `inner` is the locked state of this arm's channel,
            // whose lock `held` keeps until it is dropped below.
            unsafe { arms.arm(arm as usize).try_fire_locked(inner) }
        });
    drop(held); // unlock
    let (_, fired, _) = fired?;
    arms.arm(fired as usize).woken();
    Some(fired as usize)
}

/// The channel locks a `default` select holds, sorted by channel; dropping
/// it unlocks them (also when a panic unwinds).
struct Held<'x, A: Arms + ?Sized> {
    arms: &'x A,
    locks: &'x mut [Lock],
    /// How many of `locks` are locked (or share a locked channel's state).
    locked: usize,
}

impl<A: Arms + ?Sized> Held<'_, A> {
    /// Whether `locks[k]` is the first of its channel: the one holding its
    /// lock (the others share its state).
    fn holds_lock(&self, k: usize) -> bool {
        k == 0 || self.locks[k].0 != self.locks[k - 1].0
    }

    /// Lock every channel, in order.
    fn lock_all(&mut self) {
        for k in 0..self.locks.len() {
            self.locks[k].2 = if self.holds_lock(k) {
                self.arms.arm(self.locks[k].1 as usize).lock()
            } else {
                self.locks[k - 1].2
            };
            self.locked = k + 1;
        }
    }
}

impl<A: Arms + ?Sized> Drop for Held<'_, A> {
    fn drop(&mut self) {
        for k in (0..self.locked).rev() {
            if self.holds_lock(k) {
                self.arms.arm(self.locks[k].1 as usize).unlock();
            }
        }
    }
}

/// Fill `order` with a random permutation of `0..order.len()` (Fisher–
/// Yates, inside-out). Each step's index comes from the high half of a
/// 64×64-bit product, the low half being what is left of the random bits
/// (Lemire's batched dice): one random word serves many steps, and a new
/// one is drawn before the product of the ranges used passes 2^32, so
/// every permutation is equally likely to within 2^-32 (one word covers
/// up to 12 arms). Under loom the order is fixed, so models are
/// deterministic.
fn shuffle(order: &mut [u32]) {
    let n = order.len();
    if n < 2 || cfg!(loom) {
        order
            .iter_mut()
            .enumerate()
            .for_each(|(i, o)| *o = i as u32);
        return;
    }
    let mut bits = random_u64();
    match order {
        // The common sizes: one multiply picks one of the permutations.
        [a, b] => (*a, *b) = if bits >> 63 == 0 { (0, 1) } else { (1, 0) },
        [_, _, _] => pick(order, &PERMUTATIONS_3, bits),
        [_, _, _, _] => pick(order, &PERMUTATIONS_4, bits),
        _ if n <= 12 => {
            // 12! < 2^32: one word covers every step.
            order[0] = 0;
            (1..n).for_each(|i| step(order, i, &mut bits));
        }
        _ => {
            order[0] = 0;
            let mut range_used = 1u64;
            for i in 1..n {
                range_used *= i as u64 + 1;
                if range_used > 1 << 32 {
                    bits = random_u64();
                    range_used = i as u64 + 1;
                }
                step(order, i, &mut bits);
            }
        }
    }
}

/// Insert `i` at a random place among `order[..i]` (one inside-out
/// Fisher–Yates step), using up `log2(i + 1)` of `bits`.
#[inline(always)]
fn step(order: &mut [u32], i: usize, bits: &mut u64) {
    let product = u128::from(*bits) * (i as u128 + 1);
    *bits = product as u64;
    let j = (product >> 64) as usize; // j <= i
    order[i] = order[j];
    order[j] = i as u32;
}

/// Copy one of `table`'s permutations, chosen by `bits`, into `order`.
#[inline(always)]
fn pick<const N: usize, const P: usize>(order: &mut [u32], table: &[[u8; N]; P], bits: u64) {
    let which = ((u128::from(bits) * P as u128) >> 64) as usize;
    for (o, &t) in order.iter_mut().zip(&table[which]) {
        *o = u32::from(t);
    }
}

/// Every permutation of `0..N` (`P` = N!), built at compile time.
const fn permutations<const N: usize, const P: usize>() -> [[u8; N]; P] {
    let mut table = [[0u8; N]; P];
    let mut p = 0;
    while p < P {
        // Decode `p` in the factorial number system (a Lehmer code).
        let mut left = [0u8; N];
        let mut i = 0;
        while i < N {
            left[i] = i as u8;
            i += 1;
        }
        let mut rest = p;
        let mut radix = P;
        let mut k = 0;
        while k < N {
            radix /= N - k;
            let mut pos = rest / radix;
            rest %= radix;
            table[p][k] = left[pos];
            while pos + 1 < N - k {
                left[pos] = left[pos + 1];
                pos += 1;
            }
            k += 1;
        }
        p += 1;
    }
    table
}

const PERMUTATIONS_3: [[u8; 3]; 6] = permutations::<3, 6>();
const PERMUTATIONS_4: [[u8; 4]; 24] = permutations::<4, 24>();

/// A random word from a per-thread xorshift generator.
#[inline(never)]
fn random_u64() -> u64 {
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
        x
    })
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::shuffle;

    #[test]
    fn shuffle_makes_every_permutation_of_three_equally_likely() {
        let mut counts = std::collections::HashMap::new();
        const TRIALS: usize = 60_000;
        for _ in 0..TRIALS {
            let mut order = [0u32; 3];
            shuffle(&mut order);
            *counts.entry(order).or_insert(0usize) += 1;
        }
        assert_eq!(counts.len(), 6, "{counts:?}");
        // Expected 10,000 each; the standard deviation is about 91.
        for (order, count) in counts {
            assert!((9_000..=11_000).contains(&count), "{order:?}: {count}");
        }
    }

    #[test]
    fn the_permutation_tables_hold_every_permutation_once() {
        let set: std::collections::HashSet<_> = super::PERMUTATIONS_3.iter().collect();
        assert_eq!(set.len(), 6);
        let set: std::collections::HashSet<_> = super::PERMUTATIONS_4.iter().collect();
        assert_eq!(set.len(), 24);
        assert!(super::PERMUTATIONS_4.iter().all(|p| {
            let mut s = *p;
            s.sort_unstable();
            s == [0, 1, 2, 3]
        }));
    }

    #[test]
    fn shuffle_makes_every_permutation_of_four_and_two_equally_likely() {
        for n in [2usize, 4] {
            let mut counts = std::collections::HashMap::new();
            let perms = if n == 2 { 2 } else { 24 };
            let trials = perms * 5_000;
            for _ in 0..trials {
                let mut order = vec![0u32; n];
                shuffle(&mut order);
                *counts.entry(order).or_insert(0usize) += 1;
            }
            assert_eq!(counts.len(), perms, "{counts:?}");
            // 5,000 expected each; the standard deviation is under 71.
            assert!(
                counts.values().all(|&c| (4_500..=5_500).contains(&c)),
                "{counts:?}"
            );
        }
    }

    #[test]
    fn shuffle_of_many_is_a_permutation_with_every_position_reached() {
        let mut first = vec![0usize; 100];
        for _ in 0..20_000 {
            let mut order = vec![0u32; 100];
            shuffle(&mut order);
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert!(sorted.iter().enumerate().all(|(i, &v)| v as usize == i));
            first[order[0] as usize] += 1;
        }
        // Each arm comes first 200 times on average (sd ~14).
        assert!(first.iter().all(|&c| (100..=300).contains(&c)), "{first:?}");
    }
}
