//! Spawning and joining: every coroutine runs exactly once, results and
//! panics come back through `join`, from coroutines and plain threads.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

fn runtime(workers: usize) -> rt::Runtime {
    rt::Builder::new().workers(workers).build().unwrap()
}

#[test]
fn every_spawned_coroutine_runs_exactly_once() {
    for workers in [1, 2, 4] {
        let rt = runtime(workers);
        let runs: Arc<Vec<AtomicUsize>> =
            Arc::new((0..10_000).map(|_| AtomicUsize::new(0)).collect());
        let runs2 = runs.clone();
        rt.block_on(move || {
            let handles: Vec<_> = (0..10_000)
                .map(|i| {
                    let runs = runs2.clone();
                    rt::spawn(move || {
                        runs[i].fetch_add(1, SeqCst);
                        i
                    })
                })
                .collect();
            for (i, h) in handles.into_iter().enumerate() {
                assert_eq!(h.join().unwrap(), i);
            }
        });
        assert!(
            runs.iter().all(|r| r.load(SeqCst) == 1),
            "workers={workers}"
        );
    }
}

#[test]
fn detached_coroutines_all_run_before_their_effects_are_awaited() {
    let rt = runtime(2);
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    rt.block_on(move || {
        for _ in 0..5_000 {
            let c = c.clone();
            drop(rt::spawn(move || c.fetch_add(1, SeqCst)));
        }
        while c.load(SeqCst) < 5_000 {
            rt::yield_now();
        }
    });
    assert_eq!(count.load(SeqCst), 5_000);
}

#[test]
fn nested_spawns_fan_out_and_in() {
    fn tree(depth: u32) -> u64 {
        if depth == 0 {
            return 1;
        }
        let left = rt::spawn(move || tree(depth - 1));
        let right = rt::spawn(move || tree(depth - 1));
        left.join().unwrap() + right.join().unwrap()
    }
    let rt = runtime(2);
    assert_eq!(rt.block_on(|| tree(12)), 4096);
}

#[test]
fn join_works_from_a_plain_thread() {
    let rt = runtime(2);
    let handles: Vec<_> = (0..100).map(|i| rt.spawn(move || i * 3)).collect();
    let joined =
        std::thread::spawn(move || handles.into_iter().map(|h| h.join().unwrap()).sum::<i32>());
    assert_eq!(joined.join().unwrap(), 3 * 4950);
}

#[test]
fn spawn_outside_any_runtime_uses_the_default_runtime() {
    let h = rt::spawn(|| rt::current().is_some());
    assert!(h.join().unwrap());
    assert_eq!(rt::run(|| 5), 5);
}

#[test]
fn block_on_may_borrow_from_the_caller() {
    let rt = runtime(1);
    let mut data = vec![1, 2, 3];
    rt.block_on(|| data.push(4));
    assert_eq!(data, [1, 2, 3, 4]);
}

#[test]
fn go_evaluates_call_arguments_at_spawn_time() {
    fn pair(a: u32, b: String) -> String {
        format!("{a}-{b}")
    }
    let rt = runtime(1);
    rt.block_on(|| {
        let mut x = 1;
        let name = String::from("x");
        let h = rt::go!(pair(x, name.clone()));
        x = 2;
        assert_eq!(h.join().unwrap(), "1-x");
        let h = rt::go!(move || x * 10);
        assert_eq!(h.join().unwrap(), 20);
        let h = rt::go!(x + 1);
        assert_eq!(h.join().unwrap(), 3);
    });
}

#[test]
fn coroutines_have_unique_ids_and_optional_names() {
    let rt = runtime(2);
    rt.block_on(|| {
        let named = rt::CoroutineBuilder::new()
            .name("alpha")
            .spawn(|| {
                let me = rt::current().unwrap();
                (me.id(), me.name().map(str::to_owned))
            })
            .unwrap();
        let id = named.coroutine().id();
        let (inside_id, name) = named.join().unwrap();
        assert_eq!(inside_id, id);
        assert_eq!(name.as_deref(), Some("alpha"));
        let anon = rt::spawn(|| rt::current().unwrap().name().is_none());
        assert_ne!(anon.coroutine().id(), id);
        assert!(anon.join().unwrap());
    });
    assert!(rt::current().is_none());
}

#[test]
fn yield_now_alternates_two_coroutines_on_one_worker() {
    let rt = runtime(1);
    let log = rt.block_on(|| {
        let log = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let a = {
            let log = log.clone();
            rt::spawn(move || {
                for i in 0..3 {
                    log.lock().push(("a", i));
                    rt::yield_now();
                }
            })
        };
        let b = {
            let log = log.clone();
            rt::spawn(move || {
                for i in 0..3 {
                    log.lock().push(("b", i));
                    rt::yield_now();
                }
            })
        };
        a.join().unwrap();
        b.join().unwrap();
        Arc::try_unwrap(log).unwrap().into_inner()
    });
    assert_eq!(
        log,
        [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2)]
    );
}

fn depth(n: u32) -> u32 {
    let pad = std::hint::black_box([0_u8; 64]);
    if n == 0 {
        u32::from(pad[0])
    } else {
        1 + depth(n - 1)
    }
}

#[test]
fn moderate_recursion_fits_in_the_default_stack() {
    let rt = runtime(1);
    // At most ~200 bytes a frame even in debug builds: ~30 KiB of 64 KiB.
    assert_eq!(
        rt.block_on(|| rt::spawn(|| depth(150)).join().unwrap()),
        150
    );
}

#[test]
fn stack_size_is_configurable_for_deep_recursion() {
    let rt = rt::Builder::new()
        .workers(1)
        .stack_size(1 << 20)
        .build()
        .unwrap();
    assert_eq!(
        rt.block_on(|| rt::spawn(|| depth(3_000)).join().unwrap()),
        3_000
    );
}

#[test]
fn builder_rejects_bad_configuration_with_clear_errors() {
    let zero = rt::Builder::new().workers(0).build().unwrap_err();
    assert_eq!(zero.kind(), std::io::ErrorKind::InvalidInput);
    assert!(zero.to_string().contains("at least one worker"), "{zero}");

    let tiny = rt::Builder::new().stack_size(100).build().unwrap_err();
    assert_eq!(tiny.kind(), std::io::ErrorKind::InvalidInput);
    assert!(tiny.to_string().contains("below the minimum"), "{tiny}");

    let absurd = rt::Builder::new().stack_size(1 << 40).build().unwrap_err();
    assert!(absurd.to_string().contains("above the maximum"), "{absurd}");
}

#[test]
fn scope_joins_borrowing_coroutines_before_returning() {
    let rt = runtime(2);
    let mut slots = vec![0_usize; 64];
    rt.block_on(|| {
        rt::scope(|s| {
            for (i, slot) in slots.iter_mut().enumerate() {
                s.spawn(move || {
                    rt::yield_now();
                    *slot = i + 1;
                });
            }
        })
    });
    assert_eq!(slots, (1..=64).collect::<Vec<_>>());
}

#[test]
fn scope_returns_joined_values_and_works_from_a_plain_thread() {
    let text = String::from("hello world");
    let words = rt::scope(|s| {
        let h = s.spawn(|| text.split(' ').count());
        h.join().unwrap()
    });
    assert_eq!(words, 2);
}
