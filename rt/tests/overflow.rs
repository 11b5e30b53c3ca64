//! Stack overflow in a coroutine aborts with a message naming it; other
//! faults and overflows of plain threads behave as without rt. Each scenario
//! runs in a child process (re-running this test binary).

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

/// Run `scenario` in a child process; returns (signal, stderr).
fn child(scenario: &str) -> (Option<i32>, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["child_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env("RT_OVERFLOW_SCENARIO", scenario)
        .output()
        .unwrap();
    (
        out.status.signal(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    if depth == u64::MAX {
        return 0;
    }
    frame[3] + recurse(depth + 1)
}

#[test]
fn child_entry() {
    let Ok(scenario) = std::env::var("RT_OVERFLOW_SCENARIO") else {
        return; // not a child: nothing to do
    };
    match scenario.as_str() {
        "coroutine" => {
            let rt = rt::Builder::new().workers(2).build().unwrap();
            rt.block_on(|| {
                rt::CoroutineBuilder::new()
                    .name("deep")
                    .spawn(|| recurse(0))
                    .unwrap()
                    .join()
                    .ok();
            });
        }
        "thread" => {
            recurse(0);
        }
        "null" => {
            let rt = rt::Builder::new().workers(1).build().unwrap();
            rt.block_on(|| {
                // SAFETY: deliberately not: a null read, to fault.
                unsafe { std::ptr::read_volatile(std::ptr::null::<u64>()) };
            });
        }
        other => panic!("unknown scenario {other}"),
    }
    unreachable!("the scenario should have killed the process");
}

#[test]
fn a_coroutine_overflow_names_the_coroutine_and_aborts() {
    let (signal, stderr) = child("coroutine");
    assert_eq!(signal, Some(libc::SIGABRT), "stderr: {stderr}");
    assert!(
        stderr.contains("'deep' has overflowed its 64 KiB stack"),
        "stderr: {stderr}"
    );
    assert!(
        stderr.contains("rt::Builder::stack_size"),
        "stderr: {stderr}"
    );
}

#[test]
fn a_plain_thread_overflow_keeps_the_std_message() {
    let (signal, stderr) = child("thread");
    assert_eq!(signal, Some(libc::SIGABRT), "stderr: {stderr}");
    assert!(
        stderr.contains("has overflowed its stack"),
        "stderr: {stderr}"
    );
    assert!(!stderr.contains("coroutine"), "stderr: {stderr}");
}

#[test]
fn other_faults_are_left_alone() {
    let (signal, stderr) = child("null");
    assert_eq!(signal, Some(libc::SIGSEGV), "stderr: {stderr}");
    assert!(!stderr.contains("overflowed"), "stderr: {stderr}");
}
