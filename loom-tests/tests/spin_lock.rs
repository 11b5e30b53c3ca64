//! The channel lock (`chan/lock.rs`) as it ships: a test-and-set spin lock
//! whose value is a loom cell, so loom reports two holders at once or a
//! holder that does not see the previous holder's writes (a missing
//! Acquire/Release pair). Checked to fail with the acquiring CAS made
//! `Relaxed`.
//!
//! Two threads: with three, loom explores schedules in which two spinners
//! yield to each other forever while the holder never runs again (an
//! unfair scheduler), and no model with a spin lock terminates.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use rt::model::SpinLock;

#[test]
fn the_lock_excludes_and_publishes_the_holders_writes() {
    loom::model(|| {
        let lock = Arc::new(SpinLock::new((0_u32, 0_u32)));
        let other = {
            let lock = lock.clone();
            thread::spawn(move || {
                let mut pair = lock.lock();
                // Two plain writes the next holder must see together.
                pair.0 += 1;
                pair.1 += 1;
            })
        };
        {
            let mut pair = lock.lock();
            assert_eq!(pair.0, pair.1, "a holder saw half of another's writes");
            pair.0 += 1;
            pair.1 += 1;
        }
        other.join().unwrap();
        assert_eq!(*lock.lock(), (2, 2));
    });
}
