//! The one place that chooses between real and model-checked primitives.
//!
//! The synchronization protocols (coroutine state word, idle workers, worker
//! sleeper, join hand-off) are written against this module. Normally it
//! re-exports `std`/`parking_lot`; under `RUSTFLAGS="--cfg loom"` it
//! re-exports `loom`, so `loom-tests/` checks the very code that ships.
//! Both sides present the same (parking_lot-style) API.

#[cfg(not(loom))]
mod imp {
    pub(crate) mod sync {
        pub(crate) use parking_lot::{Condvar, Mutex};
        pub(crate) mod atomic {
            pub(crate) use std::sync::atomic::{
                fence, AtomicBool, AtomicU8, AtomicUsize, Ordering,
            };
        }
    }

    pub(crate) mod thread {
        pub(crate) use std::thread::{current, park, park_timeout, Thread};

        /// One round of a spin-wait for an atomic that another thread
        /// will change: a few CPU spin hints, then yields of the thread
        /// (its holder may have been preempted). `spins` counts rounds.
        #[inline]
        pub(crate) fn spin(spins: &mut u32, yield_after: u32) {
            *spins += 1;
            if *spins < yield_after {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    pub(crate) mod cell {
        /// `std::cell::UnsafeCell` with loom's closure-based access API.
        #[derive(Debug)]
        pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

        impl<T> UnsafeCell<T> {
            pub(crate) const fn new(value: T) -> Self {
                Self(std::cell::UnsafeCell::new(value))
            }

            #[inline(always)]
            pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
                f(self.0.get())
            }
        }
    }
}

#[cfg(loom)]
mod imp {
    pub(crate) mod sync {
        pub(crate) use loom::sync::MutexGuard;
        pub(crate) mod atomic {
            pub(crate) use loom::sync::atomic::{
                fence, AtomicBool, AtomicU8, AtomicUsize, Ordering,
            };
        }

        /// `loom::sync::Mutex` with parking_lot's infallible `lock`.
        #[derive(Debug)]
        pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

        impl<T> Mutex<T> {
            pub(crate) fn new(value: T) -> Self {
                Self(loom::sync::Mutex::new(value))
            }

            pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
                self.0.lock().unwrap()
            }
        }

        /// `loom::sync::Condvar` with parking_lot's `wait(&mut guard)`.
        #[derive(Debug, Default)]
        pub(crate) struct Condvar(loom::sync::Condvar);

        impl Condvar {
            pub(crate) fn new() -> Self {
                Self(loom::sync::Condvar::new())
            }

            pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
                // loom's wait consumes the guard; move it out and back in.
                // SAFETY: `guard` is read exactly once and overwritten with the
                // guard `wait` returns before anyone can observe it.
                unsafe {
                    let taken = std::ptr::read(guard);
                    std::ptr::write(guard, self.0.wait(taken).unwrap());
                }
            }

            /// loom has no clock: a timed wait is an untimed one (no model
            /// relies on a timeout firing).
            pub(crate) fn wait_for<T>(
                &self,
                guard: &mut MutexGuard<'_, T>,
                _timeout: std::time::Duration,
            ) {
                self.wait(guard);
            }

            pub(crate) fn notify_one(&self) -> bool {
                self.0.notify_one();
                true
            }
        }
    }

    pub(crate) mod thread {
        pub(crate) use loom::thread::{current, park, yield_now, Thread};

        /// A round of a spin-wait: tells loom that this thread waits for an
        /// atomic it just loaded to change (it is not scheduled again until
        /// it does), so spin-waits do not explode the model.
        pub(crate) fn spin(_spins: &mut u32, _yield_after: u32) {
            loom::hint::spin_loop();
        }

        /// loom has no clock: a timed park is an untimed one.
        pub(crate) fn park_timeout(_timeout: std::time::Duration) {
            park();
        }
    }

    pub(crate) mod cell {
        pub(crate) use loom::cell::UnsafeCell;
    }
}

pub(crate) use imp::*;
