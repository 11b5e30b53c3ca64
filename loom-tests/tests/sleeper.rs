//! The worker sleeper: an `unpark` before or during `park` is never lost.
#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, Ordering::Acquire, Ordering::Release};
use loom::sync::Arc;
use loom::thread;
use rt::model::{AfterWake, Sleeper};

#[test]
fn unpark_before_or_during_park_wakes_the_worker() {
    loom::model(|| {
        let sleeper = Arc::new(Sleeper::new());
        let work = Arc::new(AtomicBool::new(false));
        let producer = {
            let (sleeper, work) = (sleeper.clone(), work.clone());
            thread::spawn(move || {
                work.store(true, Release);
                // Never blocked in a poller here.
                assert_eq!(sleeper.wake(), AfterWake::Done);
            })
        };
        // If the wake were lost, this would block forever: loom reports
        // the deadlock.
        while !work.load(Acquire) {
            sleeper.sleep();
        }
        producer.join().unwrap();
    });
}
