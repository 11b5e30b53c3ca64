//! Warming the next coroutines' memory while the current one runs.
//!
//! A coroutine that has been parked for long is cold: its task and the top
//! of its stack have left every cache, and its stack is a page of its own
//! (a TLB miss too). Resuming it stalls on one miss after another — the
//! task's state word, its saved stack pointer, the saved registers, the
//! frames it returns through — about a dozen round trips to memory, while
//! the worker does nothing else. That is what waking many idle connections
//! at once (a broadcast, a `close` with a million receivers) costs.
//!
//! The worker knows what it runs next: its `ready` queue. So before it
//! resumes one coroutine it asks the memory system for the next two, in
//! two stages, like a software pipeline: the *task* of the one after next
//! (its address is in the queue), and the *stack* of the next one (the
//! address is in its task, fetched one step earlier). The loads then
//! overlap with useful work instead of following each other. On a hot
//! coroutine (a ping-pong) the lines are already cached and the prefetches
//! cost a few instructions. Measured in `docs/benchmarks.md` (park_memory).

use super::task::Task;

/// Bytes of a cache line (64 on every x86-64 and most aarch64 cores).
const LINE: usize = 64;
/// Stack bytes below the parked stack pointer to fetch: the switch's saved
/// registers sit just below the frame that recorded it.
const BELOW_SP: usize = 256;
/// Stack bytes above it: the frames a resume returns through first (the
/// hardware prefetcher follows the rest, which it reads in order).
const ABOVE_SP: usize = 384;

/// Start loading every line of `task` (its allocation, counts included).
pub(super) fn task(task: &Task) {
    let start = std::ptr::from_ref(task) as usize;
    // The `Arc`'s two counts precede the task.
    lines(start - 2 * size_of::<usize>(), start + size_of::<Task>());
}

/// Start loading the stack lines a resume of `task` touches first. Reads
/// the task (which [`task`] should have fetched a step earlier).
pub(super) fn stack(task: &Task) {
    let sp = task.parked_sp();
    if sp != 0 {
        lines(sp.saturating_sub(BELOW_SP), sp + ABOVE_SP);
    }
}

/// Prefetch the lines covering `start..end`.
fn lines(start: usize, end: usize) {
    let mut at = start & !(LINE - 1);
    while at < end {
        line(at);
        at += LINE;
    }
}

/// Hint that the line at `address` will be read soon. Never faults: a
/// prefetch of an unmapped address is dropped.
#[inline(always)]
pub(crate) fn line(address: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing architecturally and cannot fault.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(address as *const i8);
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above (`prfm` is a hint).
    unsafe {
        std::arch::asm!("prfm pldl1keep, [{0}]", in(reg) address, options(nostack, readonly, preserves_flags));
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let _ = address;
}
