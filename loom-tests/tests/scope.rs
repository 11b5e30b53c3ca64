//! A scope's protocol (`rt/src/scope/state.rs`): the owner returns only
//! after every coroutine counted itself finished, a finish that races the
//! owner's wait is never lost, and an interrupted owner cancels every
//! unfinished coroutine — including one registered after the cancellation
//! was passed on.
#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use rt::model::{ScopeState, ScopedChild};

/// A child as the scope sees it: a flag its cancellation sets.
struct Child(Arc<AtomicBool>);

impl ScopedChild for Child {
    fn cancel(&self) {
        self.0.store(true, SeqCst);
    }

    fn is_abandoned(&self) -> bool {
        false
    }
}

/// Spawn a child that, if `until_cancelled`, runs until cancelled; then
/// counts itself done and finished. Registered after it starts, as a real
/// spawn may be (it can even finish first).
fn spawn_child(
    scope: &Arc<ScopeState<Child>>,
    done: &Arc<AtomicUsize>,
    until_cancelled: bool,
) -> thread::JoinHandle<()> {
    let slot = scope.reserve();
    let cancelled = Arc::new(AtomicBool::new(false));
    let (s, d, c) = (scope.clone(), done.clone(), cancelled.clone());
    let handle = thread::spawn(move || {
        while until_cancelled && !c.load(SeqCst) {
            loom::hint::spin_loop();
        }
        d.fetch_add(1, SeqCst);
        s.finished_one(slot);
    });
    scope.spawned(slot, Child(cancelled));
    handle
}

#[test]
fn the_owner_waits_for_every_child_and_no_finish_is_lost() {
    loom::model(|| {
        let scope = Arc::new(ScopeState::<Child>::default());
        let done = Arc::new(AtomicUsize::new(0));
        let a = spawn_child(&scope, &done, false);
        let b = spawn_child(&scope, &done, false);
        scope.wait(false); // a lost wake-up deadlocks here
        assert_eq!(done.load(SeqCst), 2, "the scope ended before its children");
        a.join().unwrap();
        b.join().unwrap();
    });
}

#[test]
fn a_child_registered_after_the_interruption_is_cancelled_too() {
    loom::model(|| {
        let scope = Arc::new(ScopeState::<Child>::default());
        let done = Arc::new(AtomicUsize::new(0));
        // A child that spawns a sibling (which runs until cancelled) while
        // the owner, interrupted, may already have passed the cancellation
        // on: the sibling must be cancelled when it is registered.
        let slot = scope.reserve();
        let (s, d) = (scope.clone(), done.clone());
        let spawner = thread::spawn(move || {
            let sibling = spawn_child(&s, &d, true);
            d.fetch_add(1, SeqCst);
            s.finished_one(slot);
            sibling.join().unwrap();
        });
        scope.spawned(slot, Child(Arc::new(AtomicBool::new(false))));
        scope.wait(true);
        assert_eq!(done.load(SeqCst), 2, "the scope ended before its children");
        spawner.join().unwrap();
    });
}

#[test]
fn an_interrupted_owner_cancels_unfinished_children_and_still_waits() {
    loom::model(|| {
        let scope = Arc::new(ScopeState::<Child>::default());
        let done = Arc::new(AtomicUsize::new(0));
        // Runs until cancelled: only the owner's passed-on interruption
        // ends it.
        let stuck = spawn_child(&scope, &done, true);
        let quick = spawn_child(&scope, &done, false);
        scope.wait(true);
        assert_eq!(done.load(SeqCst), 2, "the scope ended before its children");
        stuck.join().unwrap();
        quick.join().unwrap();
    });
}
