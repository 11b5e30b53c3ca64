//! A worker pool whose jobs sometimes panic: deferred cleanup always runs,
//! and recovered jobs are reported instead of killing the pool.
//!
//! Run: `cargo run --release --example defer_recover`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Pretend to process a job; some inputs are bad and panic.
fn process(job: u32) -> u32 {
    let items = [10, 20, 30];
    if job % 7 == 3 {
        panic!("job {job}: malformed input");
    }
    if job % 11 == 5 {
        return items[job as usize]; // index out of bounds: a runtime error
    }
    job * 2
}

fn main() {
    let cleaned_up = Arc::new(AtomicUsize::new(0));
    let results = rt::run(|| {
        let handles: Vec<_> = (0..20)
            .map(|job| {
                let cleaned_up = cleaned_up.clone();
                rt::spawn(move || {
                    rt::frame(|f| {
                        // Like Go's `defer release()`: runs however the job ends.
                        f.defer(move || {
                            cleaned_up.fetch_add(1, Ordering::SeqCst);
                        });
                        // Like Go's `defer func() { if r := recover(); ... }()`.
                        f.defer(move || {
                            if let Some(panic) = rt::recover() {
                                println!("recovered job {job:2}: {panic}");
                            }
                        });
                        process(job)
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic escapes a frame"))
            .collect::<Vec<_>>()
    });

    let ok = results.iter().filter(|r| r.is_ok()).count();
    let recovered: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .map(|e| {
            e.panic()
                .location()
                .map(|l| l.to_string())
                .unwrap_or_default()
        })
        .collect();
    println!(
        "{ok} jobs succeeded, {} recovered (raised at {:?})",
        recovered.len(),
        recovered
    );
    println!(
        "cleanup ran {} times for 20 jobs",
        cleaned_up.load(Ordering::SeqCst)
    );
    assert_eq!(cleaned_up.load(Ordering::SeqCst), 20);
}
