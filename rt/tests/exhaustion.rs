//! Running out of stacks is an error from `try_spawn` and a clear panic
//! from `spawn`, never undefined behaviour, and the runtime keeps serving
//! the coroutines it has. The address-space limit is lowered in a child
//! process (re-running this test binary), so other tests are not affected.

use std::process::Command;

#[test]
fn try_spawn_fails_cleanly_when_stacks_run_out_and_the_runtime_keeps_serving() {
    if std::env::var_os("RT_EXHAUSTION_CHILD").is_none() {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "try_spawn_fails_cleanly_when_stacks_run_out_and_the_runtime_keeps_serving",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("RT_EXHAUSTION_CHILD", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("exhausted after"), "{stdout}");
        return;
    }
    let runtime = rt::Builder::new().workers(2).build().unwrap();
    // Let both worker threads finish starting (std maps each one's signal
    // stack as it starts) before the limit is lowered.
    runtime.block_on(|| rt::sleep(std::time::Duration::from_millis(100)));
    let (release, wait) = rt::chan::bounded::<()>(0);
    // Cap the address space a little above what is mapped now: new stack
    // slabs (mapped with MAP_NORESERVE, but still address space) fail.
    let mapped = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<u64>().ok())
        .unwrap()
        * 1024;
    let limit = libc::rlimit {
        rlim_cur: mapped + 64 * 1024 * 1024,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit on a valid struct.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) }, 0);

    let count = runtime.block_on(move || {
        let mut parked = Vec::new();
        let err = loop {
            let wait = wait.clone();
            match rt::try_spawn(move || wait.recv().is_err()) {
                Ok(handle) => parked.push(handle),
                Err(err) => break err,
            }
            assert!(parked.len() < 1_000_000, "the limit did not bite");
        };
        assert!(
            err.to_string()
                .contains("cannot allocate a coroutine stack"),
            "unclear error: {err}"
        );
        // spawn (not try_) panics with the same clear message.
        let panic = std::panic::catch_unwind(|| rt::spawn(|| ())).unwrap_err();
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(
            message.starts_with("rt::spawn: cannot allocate a coroutine stack"),
            "{message}"
        );
        // The runtime still serves what it has: release them all.
        let count = parked.len();
        drop(release);
        let released = parked
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|&closed| closed)
            .count();
        assert_eq!(released, count);
        // Their stacks are free again: spawning works.
        assert_eq!(rt::spawn(|| 5).join().unwrap(), 5);
        count
    });
    println!("exhausted after {count} coroutines");
}
