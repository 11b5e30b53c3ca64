//! The `tracing` feature: a coroutine's span is current exactly while the
//! coroutine runs. Run with `cargo test -p rt --features tracing --test
//! tracing`.
#![cfg(feature = "tracing")]

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records, for every event, its field `n` and the field `n` of the span
/// current on its thread (0: none).
#[derive(Default)]
struct Recorder {
    next_id: AtomicU64,
    /// Span id → its field `n`.
    spans: Mutex<HashMap<u64, u64>>,
    /// (event's n, current span's n).
    events: Mutex<Vec<(u64, u64)>>,
}

thread_local! {
    /// The spans entered on this thread, innermost last.
    static STACK: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Reads the field `n`.
struct N(u64);
impl Visit for N {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "n" {
            self.0 = value;
        }
    }
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

impl Subscriber for &'static Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next_id.fetch_add(1, SeqCst) + 1;
        let mut n = N(0);
        span.record(&mut n);
        self.spans.lock().unwrap().insert(id, n.0);
        Id::from_u64(id)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut n = N(0);
        event.record(&mut n);
        let current = STACK.with(|s| s.borrow().last().copied());
        let span_n = current.map_or(0, |id| self.spans.lock().unwrap()[&id]);
        self.events.lock().unwrap().push((n.0, span_n));
    }
    fn enter(&self, span: &Id) {
        STACK.with(|s| s.borrow_mut().push(span.into_u64()));
    }
    fn exit(&self, span: &Id) {
        STACK.with(|s| {
            let mut s = s.borrow_mut();
            let top = s.pop();
            assert_eq!(
                top,
                Some(span.into_u64()),
                "exited a span that was not innermost"
            );
        });
    }
}

fn recorder() -> &'static Recorder {
    static RECORDER: OnceLock<&'static Recorder> = OnceLock::new();
    RECORDER.get_or_init(|| {
        let recorder: &'static Recorder = Box::leak(Box::default());
        tracing::subscriber::set_global_default(recorder).unwrap();
        recorder
    })
}

/// 20 coroutines with spans, interleaved on one worker by yields and
/// sleeps, and 5 without: every event sees its own coroutine's span, and
/// the coroutines without one see none.
#[test]
fn each_coroutine_logs_inside_its_own_span_only() {
    let recorder = recorder();
    let rt = rt::Builder::new().workers(1).build().unwrap();
    rt.block_on(|| {
        let mut handles = Vec::new();
        for n in 1..=20u64 {
            let span = tracing::info_span!("coroutine", n);
            handles.push(
                rt::CoroutineBuilder::new()
                    .span(span)
                    .spawn(move || {
                        for i in 0..50 {
                            tracing::info!(n, "step");
                            if i % 2 == 0 {
                                rt::yield_now();
                            } else {
                                rt::sleep(std::time::Duration::from_micros(100));
                            }
                        }
                    })
                    .unwrap(),
            );
        }
        for _ in 0..5 {
            handles.push(rt::spawn(|| {
                for _ in 0..50 {
                    tracing::info!(n = 0u64, "no span");
                    rt::yield_now();
                }
            }));
        }
        for h in handles {
            h.join().unwrap();
        }
    });
    let events = recorder.events.lock().unwrap();
    assert_eq!(events.len(), 25 * 50);
    for &(event_n, span_n) in events.iter() {
        assert_eq!(
            event_n, span_n,
            "an event of coroutine {event_n} logged in span {span_n}"
        );
    }
    // Every span was exited when its coroutine ended.
    STACK.with(|s| assert!(s.borrow().is_empty()));
}
