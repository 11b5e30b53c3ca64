//! Coroutine stacks: guard-paged slots carved out of large slabs, pooled.
//!
//! One `mmap` + `mprotect` per stack costs two kernel mappings, and Linux's
//! default `vm.max_map_count` (65530) then caps a process near 32k live
//! coroutines. Instead a slab holds up to [`MAX_STACKS_PER_SLAB`] slots of
//! `[guard page | stack]`. On Linux 6.13+ the guard pages are installed with
//! `madvise(MADV_GUARD_INSTALL)`, which does not split the mapping: one slab
//! is one mapping however many stacks it holds. Older kernels fall back to
//! `mprotect(PROT_NONE)`, which splits it (two mappings per stack, as before).
//!
//! Memory is reserved with `MAP_NORESERVE` and committed lazily by the
//! kernel as a coroutine touches its pages, so a 64 KiB stack whose coroutine
//! only ever uses 2 KiB costs one page of RAM. Freed stacks return to the
//! pool (LIFO, so the most recently touched, still-resident ones are reused
//! first); the slabs are unmapped when the runtime that owns the pool drops.

use std::collections::VecDeque;
use std::io;
use std::ptr::NonNull;

use corosensei::stack::valgrind::ValgrindStackRegistration;
use corosensei::stack::{Stack, StackPointer};
use parking_lot::Mutex;

/// A slab holds at most this many stacks (~17 MiB of address space at 64 KiB).
const MAX_STACKS_PER_SLAB: usize = 256;
/// Smallest stack we accept: enough for the runtime's frames plus unwinding.
pub(crate) const MIN_STACK_SIZE: usize = 16 * 1024;
/// Largest stack we accept; anything bigger is almost surely a unit mistake.
pub(crate) const MAX_STACK_SIZE: usize = 1 << 30;

/// Stack tops are staggered by multiples of this many bytes ("coloring"),
/// up to [`COLORS`] steps. Without it every coroutine's hot top-of-stack
/// lines sit at the same offset in a page, 68 KiB apart, and map to the same
/// few cache sets: with many coroutines alive they evict each other (this
/// made 200,000 spawns 2-3 times slower). The stagger stays inside the top
/// page, and a parked coroutine still touches only that one page.
const COLOR_STEP: usize = 64;
/// Number of distinct stack-top offsets.
const COLORS: usize = 32;

/// `MADV_GUARD_INSTALL` from Linux 6.13's `<asm-generic/mman-common.h>`.
#[cfg(target_os = "linux")]
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// How guard pages are made; decided once per pool by the first slab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GuardKind {
    /// Not decided yet.
    Unknown,
    /// `madvise(MADV_GUARD_INSTALL)`: no extra kernel mappings.
    Madvise,
    /// `mprotect(PROT_NONE)`: one extra mapping per stack.
    Mprotect,
}

/// One stack handed to a coroutine. Plain addresses: it is returned to its
/// pool explicitly (`StackPool::release`), never by `Drop`.
#[derive(Debug)]
pub(crate) struct PooledStack {
    /// Highest address of the usable stack (stacks grow down).
    top: StackPointer,
    /// Lowest usable address; the guard page lies just below it.
    bottom: StackPointer,
}

// SAFETY: `top`/`bottom` delimit a readable, writable region of `bottom..top`
// that is owned by exactly one `PooledStack` at a time (the pool hands each
// slot out once until it is released), with a guard page below `bottom`.
unsafe impl Stack for PooledStack {
    fn base(&self) -> StackPointer {
        // The coroutine's stack starts below the batch header's place (see
        // `HEADER_RESERVE`).
        StackPointer::new(self.top.get() - HEADER_RESERVE).expect("a stack base is not null")
    }

    fn limit(&self) -> StackPointer {
        self.bottom
    }
}

impl PooledStack {
    /// Usable bytes of this stack (the configured size, less its color).
    pub(crate) fn size(&self) -> usize {
        self.top.get() - self.bottom.get()
    }

    /// Lowest usable address; the guard page lies just below it.
    pub(crate) fn bottom(&self) -> usize {
        self.bottom.get()
    }
}

/// A worker's private stash of stacks, so that spawning and finishing
/// coroutines touch the shared pool's lock once per [`CACHE_BATCH`] stacks.
///
/// It is ordered by temperature. Finished coroutines return their stacks to
/// the hot end, and a coroutine starting here takes the hottest one (see
/// [`swap_hot`](Self::swap_hot)); spawns reserve from the cold end. So a
/// burst of spawn-run-finish cycles keeps reusing the same few stacks, whose
/// lines are still in cache, however many coroutines are alive.
#[derive(Debug, Default)]
pub(crate) struct StackCache {
    /// Free stacks: coldest at the front, hottest at the back.
    stacks: VecDeque<PooledStack>,
}

/// Stacks moved between a worker cache and the shared pool at a time.
const CACHE_BATCH: usize = 64;

impl StackCache {
    /// Reserve a stack for a spawn (the coldest), refilling from `pool`.
    pub(crate) fn acquire(&mut self, pool: &StackPool) -> io::Result<PooledStack> {
        if self.stacks.is_empty() {
            pool.acquire_batch(&mut self.stacks)?;
        }
        Ok(self.stacks.pop_front().expect("refilled"))
    }

    /// A coroutine is about to start with `reserved`: hand it the hottest
    /// cached stack instead, keeping `reserved` (cold) in its place.
    pub(crate) fn swap_hot(&mut self, reserved: PooledStack) -> PooledStack {
        match self.stacks.pop_back() {
            Some(hot) => {
                self.stacks.push_front(reserved);
                hot
            }
            None => reserved,
        }
    }

    /// Keep a stack of a finished coroutine, spilling the coldest to `pool`
    /// when full.
    pub(crate) fn release(&mut self, pool: &StackPool, stack: PooledStack) {
        self.stacks.push_back(stack);
        if self.stacks.len() >= 2 * CACHE_BATCH {
            pool.release_batch(self.stacks.drain(..CACHE_BATCH));
        }
    }

    /// Return every cached stack to `pool`.
    pub(crate) fn flush(&mut self, pool: &StackPool) {
        while !self.stacks.is_empty() {
            let n = self.stacks.len().min(CACHE_BATCH);
            pool.release_batch(self.stacks.drain(..n));
        }
    }
}

/// The header of a batch of free stacks, written into the top of one of
/// them (the batch's *holder*; the stack is free, so its memory is ours).
///
/// The pool's free stacks are a chain of such batches: returning a stack
/// writes into memory its coroutine just used, and the pool never grows a
/// list of its own. A list (a `Vec` of stacks) would grow into fresh
/// memory exactly when a burst of coroutines finishes — a million parked
/// coroutines released at once faulted in ~4,000 new pages for it, half
/// of all the page faults of the release. Batches rather than a chain of
/// single stacks so that a refill reads one stack's top (16 lines, in
/// order) instead of chasing 64 cold pointers one after another.
/// Bytes at the top of every stack that its coroutine never uses: where
/// the batch header goes once the stack is free. Memory a coroutine used
/// as stack is dead once its frames are popped (valgrind's memcheck
/// reports a write there), so the header keeps out of it; the reserve is
/// in the same pages as the coroutine's first frames, so a release still
/// writes into memory the coroutine just warmed.
const HEADER_RESERVE: usize = std::mem::size_of::<Batch>().next_multiple_of(64);

#[repr(C)]
struct Batch {
    /// The holder of the next batch in the chain: its top, or 0 at the end.
    next_top: usize,
    /// The holder of the next batch: its bottom.
    next_bottom: usize,
    /// How many of `others` are in the batch.
    len: usize,
    /// The batch's other stacks, as (top, bottom).
    others: [(usize, usize); CACHE_BATCH - 1],
}

/// The holder of the batch after `batch` in its chain, if any.
///
/// # Safety
///
/// `batch` is the header of a free stack's batch, under the pool's lock.
unsafe fn next_holder(batch: *const Batch) -> Option<PooledStack> {
    // SAFETY: forwarded to our caller.
    unsafe {
        ((*batch).next_top != 0)
            .then(|| PooledStack::from_raw(((*batch).next_top, (*batch).next_bottom)))
    }
}

impl PooledStack {
    /// The batch header a free stack holds (see [`Batch`]).
    fn batch(&self) -> *mut Batch {
        // `top` is 64-aligned (slot and colour are multiples of 64), and the
        // header (~1 KiB) lies in the reserve above the coroutine's stack
        // (`HEADER_RESERVE`), within the top page.
        (self.top.get() - std::mem::size_of::<Batch>()) as *mut Batch
    }

    fn to_raw(&self) -> (usize, usize) {
        (self.top.get(), self.bottom.get())
    }

    fn from_raw((top, bottom): (usize, usize)) -> PooledStack {
        PooledStack {
            top: StackPointer::new(top).expect("a stack top is not null"),
            bottom: StackPointer::new(bottom).expect("a stack bottom is not null"),
        }
    }
}

/// A mapped slab; unmapped when the pool drops.
#[derive(Debug)]
struct Slab {
    /// Start of the mapping.
    start: NonNull<u8>,
    /// Length of the mapping in bytes.
    len: usize,
    /// Each carved stack, registered as a stack with Valgrind (a few
    /// instructions that do nothing on real hardware), so that memcheck
    /// tells a coroutine switch from a wild stack-pointer change and
    /// tracks each stack's memory. Deregistered when the slab goes.
    valgrind: Vec<ValgrindStackRegistration>,
}

/// The stacks of one runtime, all of one size.
#[derive(Debug)]
pub(crate) struct StackPool {
    /// Usable bytes per stack, a multiple of the page size.
    stack_size: usize,
    /// The system page size (also the guard size).
    page: usize,
    /// Free stacks and the slabs they come from.
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The holder of the most recently returned batch of free stacks (see
    /// [`Batch`]); the rest are chained from it.
    free: Option<PooledStack>,
    /// Free stacks whose memory was given back to the OS, all of it (see
    /// [`StackPool::scavenge_batch`]): used after `free`, before carving.
    /// A list of its own, not a chain through the stacks, so that no page
    /// of theirs stays resident; it grows only while the scavenger runs,
    /// when the runtime is idle.
    cold: Vec<PooledStack>,
    /// Acquisitions and releases so far: unchanged for a while means the
    /// pool is not in use now (the scavenger's cue).
    activity: u64,
    /// Address of the next never-used slot of the newest slab.
    uncarved: usize,
    /// Never-used slots left in the newest slab, from `uncarved` on.
    uncarved_left: usize,
    /// Every slab mapped so far.
    slabs: Vec<Slab>,
    /// How guard pages are installed.
    guard: GuardKind,
    /// Stacks carved so far, for picking each one's color.
    colored: usize,
    /// Stacks in the next slab; doubles from 16 up to `MAX_STACKS_PER_SLAB`
    /// so that a runtime with few coroutines maps little.
    next_slab_stacks: usize,
}

// SAFETY: the raw pointers in `Inner` are addresses of mappings owned by the
// pool; they are only dereferenced by the coroutine that owns a slot, or by
// the pool (under its lock) for a free stack's batch header.
unsafe impl Send for Inner {}

impl StackPool {
    /// Usable bytes per stack (what `Builder::stack_size` asked for,
    /// rounded up to pages).
    pub(crate) fn stack_size(&self) -> usize {
        self.stack_size
    }

    /// The guard size below each stack.
    pub(crate) fn guard_size(&self) -> usize {
        self.page
    }

    /// A pool of stacks with at least `stack_size` usable bytes each.
    pub(crate) fn new(stack_size: usize) -> io::Result<StackPool> {
        if stack_size < MIN_STACK_SIZE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("stack size {stack_size} is below the minimum of {MIN_STACK_SIZE} bytes"),
            ));
        }
        if stack_size > MAX_STACK_SIZE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("stack size {stack_size} is above the maximum of {MAX_STACK_SIZE} bytes"),
            ));
        }
        let page = page_size();
        super::overflow::install();
        Ok(StackPool {
            stack_size: stack_size.next_multiple_of(page),
            page,
            inner: Mutex::new(Inner {
                free: None,
                cold: Vec::new(),
                activity: 0,
                uncarved: 0,
                uncarved_left: 0,
                slabs: Vec::new(),
                guard: GuardKind::Unknown,
                colored: 0,
                next_slab_stacks: 16,
            }),
        })
    }

    /// Take a stack: the most recently returned one, else a never-used one
    /// (mapping a new slab if none is left).
    pub(crate) fn acquire(&self) -> io::Result<PooledStack> {
        let mut inner = self.inner.lock();
        inner.activity += 1;
        let inner = &mut *inner;
        let Some(holder) = &inner.free else {
            return match inner.cold.pop() {
                Some(stack) => Ok(stack),
                None => self.carve(inner),
            };
        };
        let batch = holder.batch();
        // SAFETY: a free stack's header was written by `release_batch`, and
        // free stacks are the pool's alone (we hold its lock).
        unsafe {
            if (*batch).len > 0 {
                (*batch).len -= 1;
                return Ok(PooledStack::from_raw((*batch).others[(*batch).len]));
            }
            let next = next_holder(batch);
            Ok(std::mem::replace(&mut inner.free, next).expect("checked above"))
        }
    }

    /// Unlink the first batch of `chain`: its holder, with the others
    /// still listed in the holder's header.
    ///
    /// # Safety
    ///
    /// The caller holds the pool's lock (through `chain`).
    unsafe fn unlink_batch(chain: &mut Option<PooledStack>) -> Option<PooledStack> {
        let holder = chain.take()?;
        // SAFETY: a free stack's header was written by `release_batch`.
        *chain = unsafe { next_holder(holder.batch()) };
        Some(holder)
    }

    /// Append a batch of free stacks to `out`: the most recently returned
    /// batch, else up to [`CACHE_BATCH`] never-used ones (at least one).
    fn acquire_batch(&self, out: &mut VecDeque<PooledStack>) -> io::Result<()> {
        let mut inner = self.inner.lock();
        inner.activity += 1;
        // SAFETY: we hold the lock.
        let Some(holder) = (unsafe { Self::unlink_batch(&mut inner.free) }) else {
            if !inner.cold.is_empty() {
                let from = inner.cold.len().saturating_sub(CACHE_BATCH);
                out.extend(inner.cold.drain(from..));
                return Ok(());
            }
            out.push_back(self.carve(&mut inner)?);
            while out.len() < CACHE_BATCH && inner.uncarved_left > 0 {
                out.push_back(self.carve(&mut inner)?);
            }
            return Ok(());
        };
        let batch = holder.batch();
        // SAFETY: as in `acquire`; the holder is ours once unlinked.
        unsafe {
            drop(inner);
            // Only the first `len` entries were written.
            let others = std::ptr::addr_of!((*batch).others).cast::<(usize, usize)>();
            let others = std::slice::from_raw_parts(others, (*batch).len);
            out.extend(others.iter().map(|&raw| PooledStack::from_raw(raw)));
        }
        out.push_back(holder);
        Ok(())
    }

    /// Give a stack back. The coroutine that used it must have finished.
    pub(crate) fn release(&self, stack: PooledStack) {
        self.release_batch(std::iter::once(stack));
    }

    /// Give back up to [`CACHE_BATCH`] stacks whose coroutines finished.
    fn release_batch(&self, mut stacks: impl Iterator<Item = PooledStack>) {
        let Some(holder) = stacks.next() else {
            return;
        };
        debug_assert!(holder.size() > self.stack_size - COLORS * COLOR_STEP);
        let batch = holder.batch();
        // SAFETY: the stacks are free (their coroutines finished), so their
        // memory is ours; the header lies in the holder's reserve above its
        // coroutine's stack (`HEADER_RESERVE`).
        unsafe {
            let mut len = 0;
            for stack in stacks {
                (*batch).others[len] = stack.to_raw();
                len += 1;
            }
            (*batch).len = len;
            let mut inner = self.inner.lock();
            inner.activity += 1;
            (*batch).next_top = 0;
            if let Some(next) = inner.free.replace(holder) {
                ((*batch).next_top, (*batch).next_bottom) = next.to_raw();
            }
        }
    }

    /// How often stacks were taken or given back so far (for the
    /// scavenger: unchanged for a while means the pool is not in use).
    pub(crate) fn activity(&self) -> u64 {
        self.inner.lock().activity
    }

    /// Give the memory of one batch of free stacks back to the OS (their
    /// addresses stay, and a coroutine that gets one later faults in zeroed
    /// pages), and move them to the cold list. Returns `false` when no
    /// batch is left to scavenge. Holds the pool's lock only to unlink the
    /// batch and to file its stacks, never across the system calls.
    pub(crate) fn scavenge_batch(&self) -> bool {
        // SAFETY: we hold the lock.
        let Some(holder) = (unsafe { Self::unlink_batch(&mut self.inner.lock().free) }) else {
            return false;
        };
        let batch = holder.batch();
        let mut stacks = Vec::with_capacity(CACHE_BATCH);
        // SAFETY: the batch is unlinked: its stacks are free and nobody else
        // can reach them until they are filed below. The header is read
        // before the holder's memory is discarded.
        unsafe {
            for i in 0..(*batch).len {
                stacks.push(PooledStack::from_raw((*batch).others[i]));
            }
        }
        stacks.push(holder);
        for stack in &stacks {
            // SAFETY: the slot of a free stack, ours alone (above); it runs
            // from `bottom` to `bottom + stack_size`, inside its slab.
            unsafe {
                libc::madvise(
                    stack.bottom() as *mut libc::c_void,
                    self.stack_size,
                    libc::MADV_DONTNEED,
                );
            }
        }
        self.inner.lock().cold.append(&mut stacks);
        true
    }

    /// Hand out the next never-used stack, mapping a slab if none is left.
    fn carve(&self, inner: &mut Inner) -> io::Result<PooledStack> {
        if inner.uncarved_left == 0 {
            self.map_slab(inner)?;
        }
        let bottom = inner.uncarved + self.page;
        inner.uncarved += self.page + self.stack_size;
        inner.uncarved_left -= 1;
        let registration = ValgrindStackRegistration::new(bottom as *mut u8, self.stack_size);
        inner
            .slabs
            .last_mut()
            .expect("stacks are carved from the newest slab")
            .valgrind
            .push(registration);
        let color = (inner.colored % COLORS) * COLOR_STEP;
        inner.colored += 1;
        Ok(PooledStack::from_raw((
            bottom + self.stack_size - color,
            bottom,
        )))
    }

    /// Map one slab and make its slots the never-used ones.
    #[cold]
    fn map_slab(&self, inner: &mut Inner) -> io::Result<()> {
        let slot = self.page + self.stack_size;
        let count = inner.next_slab_stacks;
        let len = slot * count;
        // SAFETY: an anonymous private mapping at an address of the kernel's
        // choosing; it aliases nothing.
        let start = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if start == libc::MAP_FAILED {
            return Err(exhausted("mmap", io::Error::last_os_error()));
        }
        let slab = Slab {
            start: NonNull::new(start.cast()).expect("mmap never returns null on success"),
            len,
            valgrind: Vec::new(),
        };
        for i in 0..count {
            // SAFETY: `i * slot` is inside the mapping just created.
            let guard = unsafe { slab.start.as_ptr().add(i * slot) };
            if let Err(err) = self.install_guard(inner, guard) {
                drop(slab); // unmaps
                return Err(exhausted("guard page", err));
            }
        }
        inner.uncarved = slab.start.as_ptr() as usize;
        inner.uncarved_left = count;
        inner.slabs.push(slab);
        inner.next_slab_stacks = (count * 2).min(MAX_STACKS_PER_SLAB);
        Ok(())
    }

    /// Make the page at `addr` inaccessible.
    fn install_guard(&self, inner: &mut Inner, addr: *mut u8) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if inner.guard != GuardKind::Mprotect {
            // SAFETY: `addr` is a page of a mapping this pool owns and no
            // stack has been handed out from it yet.
            let rc = unsafe { libc::madvise(addr.cast(), self.page, MADV_GUARD_INSTALL) };
            if rc == 0 {
                inner.guard = GuardKind::Madvise;
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if inner.guard == GuardKind::Madvise || err.raw_os_error() != Some(libc::EINVAL) {
                return Err(err);
            }
            // EINVAL on first use: the kernel predates 6.13.
        }
        inner.guard = GuardKind::Mprotect;
        // SAFETY: as above; this splits the mapping around the guard page.
        if unsafe { libc::mprotect(addr.cast(), self.page, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for Slab {
    fn drop(&mut self) {
        // SAFETY: the slab is a mapping of exactly `len` bytes from `start`,
        // and the pool only drops it once no coroutine runs on it (the
        // runtime unwinds every coroutine before it drops the pool).
        unsafe { libc::munmap(self.start.as_ptr().cast(), self.len) };
    }
}

/// A clear error for the runtime's callers when stacks run out.
fn exhausted(what: &str, err: io::Error) -> io::Error {
    io::Error::new(
        err.kind(),
        format!(
            "cannot allocate a coroutine stack ({what} failed: {err}); \
             memory or the kernel's mapping limit (vm.max_map_count) is exhausted"
        ),
    )
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(page).unwrap_or(4096).max(4096)
}

#[cfg(test)]
mod tests;
