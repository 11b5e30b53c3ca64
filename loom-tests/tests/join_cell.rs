//! The join hand-off: the joiner always gets the value exactly once, and a
//! detached result is handed back to the completer exactly once.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use rt::model::JoinCell;

#[test]
fn joiner_receives_the_value_whatever_the_interleaving() {
    loom::model(|| {
        let cell = Arc::new(JoinCell::<u32>::new());
        let completer = {
            let cell = cell.clone();
            thread::spawn(move || assert!(cell.complete(Ok(42)).is_none()))
        };
        // Parks (loom::thread::park) until completed; a lost wake deadlocks.
        assert_eq!(cell.wait().unwrap(), 42);
        completer.join().unwrap();
    });
}

#[test]
fn detach_racing_complete_hands_the_value_to_exactly_one_side() {
    loom::model(|| {
        let cell = Arc::new(JoinCell::<Arc<()>>::new());
        let value = Arc::new(());
        let completer = {
            let (cell, value) = (cell.clone(), value.clone());
            thread::spawn(move || cell.complete(Ok(value)).is_some())
        };
        let detached_got_it = cell.detach().is_some();
        let completer_got_it = completer.join().unwrap();
        assert!(
            detached_got_it ^ completer_got_it,
            "exactly one side owns the result"
        );
        // Both sides dropped what they got: only our reference remains.
        assert_eq!(Arc::strong_count(&value), 1);
    });
}

#[test]
fn a_joiner_that_gives_up_detaches_and_the_result_goes_to_exactly_one_side() {
    // The joiner registers (it waits), then is interrupted (cancel,
    // timeout) and its handle detaches, racing the completion. Without the
    // WAITING -> DETACHED step the result stays in the cell, owned by
    // nobody (a scoped result would outlive its scope).
    loom::model(|| {
        let cell = Arc::new(JoinCell::<Arc<()>>::new());
        let value = Arc::new(());
        let completer = {
            let (cell, value) = (cell.clone(), value.clone());
            thread::spawn(move || cell.complete(Ok(value)).is_some())
        };
        cell.register();
        let joiner_got_it = cell.detach().is_some();
        let completer_got_it = completer.join().unwrap();
        assert!(
            joiner_got_it ^ completer_got_it,
            "exactly one side owns the result"
        );
        assert_eq!(Arc::strong_count(&value), 1);
    });
}
