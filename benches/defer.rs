//! defer and panic_recover (BENCHMARKS.md).
//!
//! - `defer_lock`: lock, deferred unlock, increment: `defer!` vs scopeguard
//!   vs a plain RAII guard.
//! - `frame_defer_loop8`: a frame registering 8 `Frame::defer` closures in
//!   a loop, vs the same frame without defers (the overhead per defer is
//!   the difference / 8; Go's heap defer in `benches/go` is measured the
//!   same way).
//! - `panic_recover`: panic with a `&'static str` and recover it:
//!   `rt::frame` + `rt::recover` vs bare `std::panic::catch_unwind`.
//!
//! `cargo bench -p rt-benches --bench defer`

use std::hint::black_box;
use std::panic::catch_unwind;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use parking_lot::lock_api::RawMutex as _;
use parking_lot::RawMutex;

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn configure<'a>(c: &'a mut Criterion, name: &str) -> Group<'a> {
    let mut group = c.benchmark_group(name);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group
}

fn defer_lock(c: &mut Criterion) {
    let mut group = configure(c, "defer_lock");
    let raw = RawMutex::INIT;
    let mut counter = 0_u64;
    group.bench_function("rt_defer_macro", |b| {
        b.iter(|| {
            raw.lock();
            rt::defer! {
                // SAFETY: locked just above, on this thread.
                unsafe { raw.unlock() };
            }
            counter = black_box(counter + 1);
        })
    });
    group.bench_function("scopeguard", |b| {
        b.iter(|| {
            raw.lock();
            // SAFETY: locked just above, on this thread.
            let _guard = scopeguard::guard((), |()| unsafe { raw.unlock() });
            counter = black_box(counter + 1);
        })
    });
    let mutex = parking_lot::Mutex::new(0_u64);
    group.bench_function("raii", |b| {
        b.iter(|| {
            let mut guard = mutex.lock();
            *guard = black_box(*guard + 1);
        })
    });
    group.finish();
}

fn frame_defer_loop8(c: &mut Criterion) {
    let mut group = configure(c, "frame_defer_loop8");
    group.bench_function("rt_frame_defer", |b| {
        b.iter(|| {
            rt::frame(|f| {
                for i in 0..8_u64 {
                    f.defer(move || {
                        black_box(i);
                    });
                }
            })
        })
    });
    group.bench_function("rt_frame_no_defer", |b| {
        b.iter(|| {
            rt::frame(|_| {
                for i in 0..8_u64 {
                    black_box(i);
                }
            })
        })
    });
    group.finish();
}

/// The panicking call both variants make: the same function, never inlined,
/// so both unwind through the same frames up to their catch.
#[inline(never)]
fn fail() -> ! {
    panic!("boom")
}

fn panic_recover(c: &mut Criterion) {
    // Panics in this benchmark are expected: keep the default hook from
    // printing each one (rt's hook records instead inside frames, and
    // chains to this one outside).
    std::panic::set_hook(Box::new(|_| {}));
    let mut group = configure(c, "panic_recover");
    group.bench_function("rt_frame_recover", |b| {
        b.iter(|| {
            let r = rt::frame(|f| {
                f.defer(|| {
                    black_box(rt::recover());
                });
                fail();
            });
            black_box(r.is_err())
        })
    });
    group.bench_function("catch_unwind", |b| {
        b.iter(|| {
            let r = catch_unwind(|| -> () { fail() });
            black_box(r.is_err())
        })
    });
    group.finish();
}

criterion_group!(benches, defer_lock, frame_defer_loop8, panic_recover);
criterion_main!(benches);
