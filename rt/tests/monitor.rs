//! The monitor names a worker stuck in one coroutine (here: a blocking
//! `nanosleep` system call) and where that coroutine was spawned; with the
//! monitor off nothing is printed. Runs in a child process to read stderr.

use std::process::Command;
use std::time::Duration;

fn child_stderr(scenario: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["child_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env("RT_MONITOR_SCENARIO", scenario)
        .output()
        .unwrap();
    assert!(out.status.success(), "child failed: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn child_entry() {
    let Ok(scenario) = std::env::var("RT_MONITOR_SCENARIO") else {
        return;
    };
    let monitor = match scenario.as_str() {
        "on" => Some(Duration::from_millis(50)),
        _ => None,
    };
    let rt = rt::Builder::new()
        .workers(1)
        .monitor(monitor)
        .build()
        .unwrap();
    rt.block_on(|| {
        let sleeper = rt::spawn(|| block_thread(Duration::from_millis(400))); // line 33
        sleeper.join().unwrap();
        // Short, well-behaved coroutines are never reported.
        for _ in 0..100 {
            rt::spawn(|| rt::sleep(Duration::from_millis(1)))
                .join()
                .unwrap();
        }
    });
}

#[test]
fn a_worker_stuck_in_a_blocking_call_is_reported_once_with_its_spawn_site() {
    let stderr = child_stderr("on");
    let reports: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("rt: worker 0"))
        .collect();
    assert_eq!(reports.len(), 1, "stderr: {stderr}");
    assert!(
        reports[0].contains("spawned at rt/tests/monitor.rs:33:"),
        "{}",
        reports[0]
    );
    assert!(reports[0].contains("rt::blocking"), "{}", reports[0]);
}

#[test]
fn the_monitor_can_be_turned_off() {
    let stderr = child_stderr("off");
    assert!(!stderr.contains("rt: worker"), "stderr: {stderr}");
}

#[path = "support/block_thread.rs"]
mod support;
use support::block_thread;
