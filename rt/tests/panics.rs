//! A panic that escapes a coroutine never kills a worker: it comes back in
//! `join` with its message and location.

use std::panic::{catch_unwind, AssertUnwindSafe};

fn boom() {
    panic!("boom {}", 7)
}
const BOOM_LINE: u32 = line!() - 2;

#[test]
fn panic_surfaces_in_join_with_message_and_location() {
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let err = rt.block_on(|| rt::spawn(boom).join().unwrap_err());
    assert!(err.is_panic());
    assert!(!err.is_cancelled());
    assert_eq!(err.to_string(), "coroutine panicked: boom 7");
    let panic = err.into_panic();
    assert_eq!(panic.message(), Some("boom 7"));
    let location = panic.location().expect("recorded by the hook");
    assert!(location.file().ends_with("panics.rs"), "{location}");
    assert_eq!(location.line(), BOOM_LINE);
}

#[test]
fn non_string_payloads_can_be_downcast() {
    let rt = rt::Builder::new().workers(1).build().unwrap();
    let panic = rt.block_on(|| {
        rt::spawn(|| std::panic::panic_any(42_u64))
            .join()
            .unwrap_err()
            .into_panic()
    });
    assert_eq!(panic.message(), None);
    assert_eq!(panic.downcast_ref::<u64>(), Some(&42));
}

#[test]
fn runtime_error_panics_are_caught_too() {
    let rt = rt::Builder::new().workers(1).build().unwrap();
    rt.block_on(|| {
        let v = [1, 2, 3];
        let index = std::hint::black_box(7);
        let err = rt::spawn(move || v[index]).join().unwrap_err();
        let message = err.into_panic().message().unwrap().to_owned();
        assert!(message.contains("index out of bounds"), "{message}");

        let zero = std::hint::black_box(0);
        let err = rt::spawn(move || 1 / zero).join().unwrap_err();
        assert!(err
            .into_panic()
            .message()
            .unwrap()
            .contains("divide by zero"));
    });
}

#[test]
fn workers_keep_serving_after_many_panics() {
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let (panicked, ok) = rt.block_on(|| {
        let handles: Vec<_> = (0..1_000)
            .map(|i| rt::spawn(move || if i % 3 == 0 { panic!("job {i}") } else { i }))
            .collect();
        let mut panicked = 0;
        let mut ok = 0;
        for h in handles {
            match h.join() {
                Ok(_) => ok += 1,
                Err(e) => {
                    assert!(e.into_panic().message().unwrap().starts_with("job "));
                    panicked += 1;
                }
            }
        }
        (panicked, ok)
    });
    assert_eq!((panicked, ok), (334, 666));
    assert_eq!(
        rt.block_on(|| rt::spawn(|| "alive").join().unwrap()),
        "alive"
    );
}

#[test]
fn detached_panic_does_not_disturb_others() {
    let rt = rt::Builder::new().workers(2).build().unwrap();
    rt.block_on(|| {
        for _ in 0..10 {
            drop(rt::spawn(|| panic!("detached and unobserved")));
        }
        let sum: i32 = (0..100)
            .map(|i| rt::spawn(move || i))
            .map(|h| h.join().unwrap())
            .sum();
        assert_eq!(sum, 4950);
    });
}

#[test]
fn block_on_propagates_the_panic_to_the_caller() {
    let rt = rt::Builder::new().workers(1).build().unwrap();
    let caught = catch_unwind(AssertUnwindSafe(|| rt.block_on(|| panic!("from block_on"))));
    let payload = caught.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"from block_on"));
    assert_eq!(rt.block_on(|| 1), 1, "the runtime survives");
}

#[test]
fn scope_panics_when_an_unjoined_coroutine_panicked() {
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let result = rt.block_on(|| {
        catch_unwind(AssertUnwindSafe(|| {
            rt::scope(|s| {
                s.spawn(|| panic!("inside scope"));
                s.spawn(|| 1);
            })
        }))
    });
    let payload = result.unwrap_err();
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"a scoped coroutine panicked")
    );
}

#[test]
fn scope_does_not_panic_when_the_panic_was_joined() {
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let seen =
        rt.block_on(|| rt::scope(|s| s.spawn(|| panic!("joined")).join().unwrap_err().is_panic()));
    assert!(seen);
}

/// Runs the scenario in a child process (so its stderr can be read) when
/// `RT_CHILD` is set; otherwise spawns that child and checks its output.
fn child_stderr(test: &str) -> Option<String> {
    if std::env::var_os("RT_CHILD").is_some() {
        return None;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("RT_CHILD", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "child failed: {out:?}");
    Some(String::from_utf8(out.stderr).unwrap())
}

#[test]
fn detached_panic_is_printed_once_naming_the_coroutine() {
    let Some(stderr) = child_stderr("detached_panic_is_printed_once_naming_the_coroutine") else {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        use std::sync::Arc;
        let rt = rt::Builder::new().workers(2).build().unwrap();
        // 0: handle alive; 1: handle dropped; 2: the coroutine is unwinding.
        let stage = Arc::new(AtomicUsize::new(0));
        let s = stage.clone();
        let id = rt.block_on(move || {
            let h = rt::CoroutineBuilder::new()
                .name("orphan")
                .spawn(move || -> () {
                    while s.load(SeqCst) == 0 {
                        rt::yield_now();
                    }
                    struct Unwinding(Arc<AtomicUsize>);
                    impl Drop for Unwinding {
                        fn drop(&mut self) {
                            self.0.store(2, SeqCst);
                        }
                    }
                    let _u = Unwinding(s);
                    panic!("lost in space")
                })
                .unwrap();
            let id = h.coroutine().id();
            drop(h); // detached before it panics
            stage.store(1, SeqCst);
            while stage.load(SeqCst) != 2 {
                rt::yield_now();
            }
            id
        });
        // The panicking coroutine is mid-unwind on its worker; the worker
        // finishes it (and prints) before it sees the shutdown.
        drop(rt);
        eprintln!("orphan id {id}");
        return;
    };
    assert_eq!(
        stderr.matches("panic: lost in space").count(),
        1,
        "{stderr}"
    );
    let id = stderr
        .lines()
        .find_map(|l| l.strip_prefix("orphan id "))
        .unwrap();
    assert!(
        stderr.contains(&format!("coroutine {id} \"orphan\" [panicked]")),
        "{stderr}"
    );
    assert!(stderr.contains("panics.rs:"), "location printed: {stderr}");
    // The default hook did not also print it at raise time.
    assert!(!stderr.contains("panicked at"), "{stderr}");
}

#[test]
fn joined_panic_prints_nothing() {
    let Some(stderr) = child_stderr("joined_panic_prints_nothing") else {
        let rt = rt::Builder::new().workers(1).build().unwrap();
        let err = rt.block_on(|| rt::spawn(|| panic!("quiet")).join().unwrap_err());
        assert!(err.is_panic());
        return;
    };
    assert!(!stderr.contains("quiet"), "{stderr}");
}

#[test]
fn unrecovered_chain_leaving_a_plain_thread_frame_is_printed_go_style() {
    let Some(stderr) =
        child_stderr("unrecovered_chain_leaving_a_plain_thread_frame_is_printed_go_style")
    else {
        let joined = std::thread::Builder::new()
            .name("worker-thread".into())
            .spawn(|| {
                let _ = rt::frame(|f| {
                    f.defer(|| panic!("second"));
                    panic!("first");
                });
            })
            .unwrap()
            .join();
        assert!(joined.is_err());
        return;
    };
    assert!(
        stderr.contains("panic: first\n\tpanic: second\n\nthread 'worker-thread' [panicked]:\n\t"),
        "{stderr}"
    );
    // Recorded, not printed, at raise time.
    assert!(!stderr.contains("panicked at"), "{stderr}");
}

#[test]
fn recovered_panics_print_nothing() {
    let Some(stderr) = child_stderr("recovered_panics_print_nothing") else {
        let r = rt::frame(|f| {
            f.defer(|| drop(rt::recover()));
            panic!("silent");
        });
        assert!(r.is_err());
        return;
    };
    assert!(!stderr.contains("silent"), "{stderr}");
}
