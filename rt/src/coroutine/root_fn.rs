//! A coroutine's root function, type-erased without a heap allocation
//! when it is small.
//!
//! Most coroutines capture a few handles (a socket, an `Arc`, a channel
//! end), so their closure fits in [`INLINE`] bytes kept inside the task,
//! whose memory is recycled: spawning then allocates nothing. A
//! `Box<dyn FnOnce>` would cost a `malloc` per spawn and, worse, a `free`
//! when the coroutine *ends* (a boxed `dyn FnOnce` is called in place and
//! freed afterwards), touching a heap line that went cold while the
//! coroutine was parked: a tenth of the time it took to finish a million
//! parked coroutines (`docs/benchmarks.md`, park_memory). Bigger closures
//! are boxed, and the box is freed as soon as the closure is moved out of
//! it, before it runs.

use std::mem::MaybeUninit;

/// Closures up to this many bytes (and 16-byte alignment) are stored inline.
pub(crate) const INLINE: usize = 64;

/// Room for one closure, or for the pointer to a boxed one.
#[repr(C, align(16))]
struct Storage(MaybeUninit<[u8; INLINE]>);

/// How to call or drop the closure a [`RootFn`] holds.
struct VTable {
    /// Moves the closure out of the storage and calls it.
    call: unsafe fn(*mut Storage),
    /// Drops the closure in the storage without calling it.
    drop: unsafe fn(*mut Storage),
}

/// A slot for one `FnOnce() + Send` closure of any type, called or
/// dropped exactly once. It lives where it is first filled (a task) and is
/// called in place, so the closure is copied once, when it is called.
pub(crate) struct RootFn {
    /// The closure (inline) or a `*mut F` to it (boxed).
    storage: Storage,
    /// Matches what `storage` holds; `None` when it holds nothing.
    vtable: Option<&'static VTable>,
}

// SAFETY: filled only with `F: Send` closures (see `set`).
unsafe impl Send for RootFn {}

impl RootFn {
    /// An empty slot.
    pub(crate) const fn empty() -> RootFn {
        RootFn {
            storage: Storage(MaybeUninit::uninit()),
            vtable: None,
        }
    }

    /// Put `f` into the slot (dropping what it held), erasing its lifetime.
    ///
    /// # Safety
    ///
    /// Everything `f` borrows must stay valid until the slot is called,
    /// cleared or dropped.
    pub(crate) unsafe fn set<F: FnOnce() + Send>(&mut self, f: F) {
        self.clear();
        let fits = size_of::<F>() <= INLINE && align_of::<F>() <= align_of::<Storage>();
        if fits {
            // SAFETY: `F` fits the storage's size and alignment (checked).
            unsafe { self.storage.0.as_mut_ptr().cast::<F>().write(f) };
            self.vtable = Some(
                const {
                    &VTable {
                        call: call_inline::<F>,
                        drop: drop_inline::<F>,
                    }
                },
            );
        } else {
            let boxed = Box::into_raw(Box::new(f));
            // SAFETY: a pointer fits the storage.
            unsafe { self.storage.0.as_mut_ptr().cast::<*mut F>().write(boxed) };
            self.vtable = Some(
                const {
                    &VTable {
                        call: call_boxed::<F>,
                        drop: drop_boxed::<F>,
                    }
                },
            );
        }
    }

    /// Call the closure the slot holds, leaving it empty.
    ///
    /// # Safety
    ///
    /// `this` points to a live slot that nobody else uses meanwhile.
    pub(crate) unsafe fn call(this: *mut RootFn) {
        // SAFETY: per the contract.
        let this = unsafe { &mut *this };
        let vtable = this
            .vtable
            .take()
            .expect("a coroutine's root function runs once");
        // SAFETY: `vtable` matches the storage (set together), and the slot
        // is marked empty first: the closure is moved out exactly once.
        unsafe { (vtable.call)(&mut this.storage) }
    }

    /// Drop the closure the slot holds, if any, without calling it.
    pub(crate) fn clear(&mut self) {
        if let Some(vtable) = self.vtable.take() {
            // SAFETY: as in `call`.
            unsafe { (vtable.drop)(&mut self.storage) }
        }
    }
}

impl Drop for RootFn {
    fn drop(&mut self) {
        self.clear();
    }
}

/// # Safety
/// `storage` holds an `F`, which is not used again.
unsafe fn call_inline<F: FnOnce()>(storage: *mut Storage) {
    // SAFETY: per the contract.
    let f = unsafe { storage.cast::<F>().read() };
    f();
}

/// # Safety
/// As for `call_inline`.
unsafe fn drop_inline<F>(storage: *mut Storage) {
    // SAFETY: per the contract.
    unsafe { storage.cast::<F>().drop_in_place() };
}

/// # Safety
/// `storage` holds a `*mut F` from `Box::into_raw`, which is not used again.
unsafe fn call_boxed<F: FnOnce()>(storage: *mut Storage) {
    // SAFETY: per the contract. The box is freed before `f` runs.
    let f = unsafe { *Box::from_raw(storage.cast::<*mut F>().read()) };
    f();
}

/// # Safety
/// As for `call_boxed`.
unsafe fn drop_boxed<F>(storage: *mut Storage) {
    // SAFETY: per the contract.
    drop(unsafe { Box::from_raw(storage.cast::<*mut F>().read()) });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Counts drops of its clones.
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn filled(f: impl FnOnce() + Send) -> RootFn {
        let mut slot = RootFn::empty();
        // SAFETY: the tests' closures borrow nothing.
        unsafe { slot.set(f) };
        slot
    }

    #[test]
    fn small_and_large_closures_run_once_and_drop_once() {
        let drops = Arc::new(AtomicUsize::new(0));
        let runs = Arc::new(AtomicUsize::new(0));
        let small = Counted(drops.clone());
        let large = (Counted(drops.clone()), [7u64; 32]);
        let (r1, r2) = (runs.clone(), runs.clone());
        let mut a = filled(move || {
            let _keep = &small;
            r1.fetch_add(1, Ordering::Relaxed);
        });
        let mut b = filled(move || {
            let large = large; // the whole tuple, not just `.1`
            assert_eq!(large.1.iter().sum::<u64>(), 7 * 32);
            r2.fetch_add(1, Ordering::Relaxed);
        });
        // SAFETY: live slots, used by this thread only.
        unsafe {
            RootFn::call(&mut a);
            RootFn::call(&mut b);
        }
        drop((a, b)); // empty now: drops nothing more
        assert_eq!(runs.load(Ordering::Relaxed), 2);
        assert_eq!(drops.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn cleared_dropped_or_refilled_slots_drop_the_captures_once() {
        let drops = Arc::new(AtomicUsize::new(0));
        let (small, large) = (Counted(drops.clone()), (Counted(drops.clone()), [0u8; 200]));
        let mut slot = filled(move || drop(small));
        slot.clear();
        assert_eq!(drops.load(Ordering::Relaxed), 1);
        slot.clear(); // already empty
                      // SAFETY: borrows nothing.
        unsafe { slot.set(move || drop(large)) };
        let refill = Counted(drops.clone());
        // SAFETY: borrows nothing. Refilling drops the large closure.
        unsafe { slot.set(move || drop(refill)) };
        assert_eq!(drops.load(Ordering::Relaxed), 2);
        drop(slot);
        assert_eq!(drops.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn over_aligned_closures_are_boxed_and_still_work() {
        #[repr(align(64))]
        struct Wide(u8);
        let wide = Wide(5);
        let seen = Arc::new(AtomicUsize::new(0));
        let seen2 = seen.clone();
        let slot = filled(move || {
            assert_eq!(&wide as *const Wide as usize % 64, 0);
            seen2.store(wide.0 as usize, Ordering::Relaxed);
        });
        let mut moved = slot; // moving a slot moves the closure's bytes
                              // SAFETY: a live slot, used by this thread only.
        unsafe { RootFn::call(&mut moved) };
        assert_eq!(seen.load(Ordering::Relaxed), 5);
    }
}
