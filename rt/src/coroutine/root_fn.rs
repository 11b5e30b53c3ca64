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

use std::mem::{ManuallyDrop, MaybeUninit};

/// Closures up to this many bytes (and 16-byte alignment) are stored inline.
pub(crate) const INLINE: usize = 64;

/// Room for one closure, or for the pointer to a boxed one.
#[repr(C, align(16))]
struct Storage(MaybeUninit<[u8; INLINE]>);

/// A `FnOnce() + Send` closure of any type, called or dropped exactly once.
pub(crate) struct RootFn {
    /// The closure (inline) or a `*mut F` to it (boxed).
    storage: Storage,
    /// Moves the closure out of `storage` and calls it.
    call: unsafe fn(*mut Storage),
    /// Drops the closure in `storage` without calling it.
    drop: unsafe fn(*mut Storage),
}

// SAFETY: built only from `F: Send` closures (see `new`); the function
// pointers are plain code.
unsafe impl Send for RootFn {}

impl RootFn {
    /// Erase `f`, including its lifetime.
    ///
    /// # Safety
    ///
    /// Everything `f` borrows must stay valid until the `RootFn` is called
    /// or dropped.
    pub(crate) unsafe fn new<F: FnOnce() + Send>(f: F) -> RootFn {
        let mut storage = Storage(MaybeUninit::uninit());
        let fits = size_of::<F>() <= INLINE && align_of::<F>() <= align_of::<Storage>();
        if fits {
            // SAFETY: `F` fits the storage's size and alignment (checked).
            unsafe { storage.0.as_mut_ptr().cast::<F>().write(f) };
            RootFn {
                storage,
                call: call_inline::<F>,
                drop: drop_inline::<F>,
            }
        } else {
            let boxed = Box::into_raw(Box::new(f));
            // SAFETY: a pointer fits the storage.
            unsafe { storage.0.as_mut_ptr().cast::<*mut F>().write(boxed) };
            RootFn {
                storage,
                call: call_boxed::<F>,
                drop: drop_boxed::<F>,
            }
        }
    }

    /// Call the closure.
    pub(crate) fn call(self) {
        // The closure is moved out by `call`: `self` must not drop it again.
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `call` matches the closure `storage` holds (set together
        // in `new`), and it runs once: `self` is consumed.
        unsafe { (this.call)(&mut this.storage) }
    }
}

impl Drop for RootFn {
    fn drop(&mut self) {
        // SAFETY: as in `call`; a RootFn is dropped only if never called.
        unsafe { (self.drop)(&mut self.storage) }
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

    #[test]
    fn small_and_large_closures_run_once_and_drop_once() {
        let drops = Arc::new(AtomicUsize::new(0));
        let runs = Arc::new(AtomicUsize::new(0));
        let small = Counted(drops.clone());
        let large = (Counted(drops.clone()), [7u64; 32]);
        let (r1, r2) = (runs.clone(), runs.clone());
        // SAFETY: the closures borrow nothing.
        let (a, b) = unsafe {
            (
                RootFn::new(move || {
                    let _keep = &small;
                    r1.fetch_add(1, Ordering::Relaxed);
                }),
                RootFn::new(move || {
                    let large = large; // the whole tuple, not just `.1`
                    assert_eq!(large.1.iter().sum::<u64>(), 7 * 32);
                    r2.fetch_add(1, Ordering::Relaxed);
                }),
            )
        };
        a.call();
        b.call();
        assert_eq!(runs.load(Ordering::Relaxed), 2);
        assert_eq!(drops.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn dropped_without_a_call_drops_the_captures() {
        let drops = Arc::new(AtomicUsize::new(0));
        let small = Counted(drops.clone());
        let large = (Counted(drops.clone()), [0u8; 200]);
        // SAFETY: the closures borrow nothing.
        unsafe {
            drop(RootFn::new(move || drop(small)));
            drop(RootFn::new(move || drop(large)));
        }
        assert_eq!(drops.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn over_aligned_closures_are_boxed_and_still_work() {
        #[repr(align(64))]
        struct Wide(u8);
        let wide = Wide(5);
        let seen = Arc::new(AtomicUsize::new(0));
        let seen2 = seen.clone();
        // SAFETY: the closure borrows nothing.
        let f = unsafe {
            RootFn::new(move || {
                assert_eq!(&wide as *const Wide as usize % 64, 0);
                seen2.store(wide.0 as usize, Ordering::Relaxed);
            })
        };
        let moved = f; // moving a RootFn moves the closure's bytes
        moved.call();
        assert_eq!(seen.load(Ordering::Relaxed), 5);
    }
}
