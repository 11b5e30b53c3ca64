//! rt::local!: one value per coroutine (and per plain thread), created on
//! first use, dropped when the coroutine finishes, on its own thread.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

struct Tracked(Arc<AtomicUsize>, std::thread::ThreadId);

impl Drop for Tracked {
    fn drop(&mut self) {
        assert_eq!(
            std::thread::current().id(),
            self.1,
            "dropped on its own thread"
        );
        self.0.fetch_add(1, SeqCst);
    }
}

rt::local! {
    static COUNT: Cell<u64> = Cell::new(0);
    static NAME: RefCell<String> = RefCell::new(String::from("unset"));
    static TRACKED: RefCell<Option<Tracked>> = RefCell::new(None);
}

#[test]
fn each_coroutine_sees_its_own_values() {
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let sums = rt.block_on(|| {
        let hs: Vec<_> = (0..1_000_u64)
            .map(|i| {
                rt::spawn(move || {
                    for _ in 0..=i % 10 {
                        COUNT.with(|c| c.set(c.get() + 1));
                        rt::yield_now(); // others run and touch their own
                    }
                    NAME.with(|n| *n.borrow_mut() = format!("c{i}"));
                    rt::yield_now();
                    (COUNT.with(Cell::get), NAME.with(|n| n.borrow().clone()))
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    for (i, (count, name)) in sums.into_iter().enumerate() {
        assert_eq!(count, i as u64 % 10 + 1);
        assert_eq!(name, format!("c{i}"));
    }
    // A plain thread has its own values too.
    assert_eq!(COUNT.with(Cell::get), 0);
    assert_eq!(NAME.with(|n| n.borrow().clone()), "unset");
}

#[test]
fn values_are_dropped_when_their_coroutine_finishes() {
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    rt.block_on(move || {
        let hs: Vec<_> = (0..100)
            .map(|i| {
                let d = d.clone();
                rt::spawn(move || {
                    TRACKED
                        .with(|t| *t.borrow_mut() = Some(Tracked(d, std::thread::current().id())));
                    if i % 2 == 0 {
                        panic!("dropped on unwind too");
                    }
                })
            })
            .collect();
        for h in hs {
            let _ = h.join();
        }
    });
    assert_eq!(dropped.load(SeqCst), 100);
}
