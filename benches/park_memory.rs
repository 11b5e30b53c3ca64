//! park_memory (BENCHMARKS.md, issue 6): park N coroutines on one channel,
//! report resident memory per parked coroutine (VmRSS growth / N), then
//! close the channel and report the time per release (close → every
//! coroutine finished, / N). Memory is not a criterion metric, so this is
//! a plain program; Go's counterpart is `benches/go/parkmem`.
//!
//! `cargo bench -p rt-benches --bench park_memory` (N = 1,000,000; set
//! `PARK_N` to change it). Then the memory_return shape (BENCHMARKS.md):
//! idle `PARK_IDLE` seconds (default 10) and report RSS each second, as
//! the scavenger gives the memory back.
//!
//! The coroutines share the channel and the two wait groups by reference
//! (`&'static`, leaked once per run), as Go's goroutines share them through
//! their closure: an `Arc` clone per coroutine would add four contended
//! reference-count updates per release (measured: about 10% of the release
//! time) that Go's garbage collector does not pay inside the timed window.

use std::time::{Duration, Instant};

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .expect("VmRSS");
    kb * 1024
}

/// CPU time (user + system) this process has used so far, all threads.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let n: usize = std::env::var("PARK_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    // The spawning loop and close() hold a worker for long on purpose.
    let runtime = rt::Builder::new().monitor(None).build().expect("runtime");
    let idle: u64 = std::env::var("PARK_IDLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let start_rss = rss_bytes();
    let (rss_per, release_ns, cpu_ns, peak) = runtime.block_on(|| {
        let (close, parked_on) = rt::chan::bounded::<()>(0);
        let parked_on: &'static rt::chan::Receiver<()> = Box::leak(Box::new(parked_on));
        let parked: &'static rt::sync::WaitGroup = Box::leak(Box::default());
        let finished: &'static rt::sync::WaitGroup = Box::leak(Box::default());
        parked.add(n);
        finished.add(n);
        // Warm up the allocator and the stack pool's first slabs so the
        // baseline is not the empty process.
        rt::spawn(|| ()).join().unwrap();
        let before = rss_bytes();
        for _ in 0..n {
            drop(rt::spawn(move || {
                parked.done();
                let _ = parked_on.recv(); // parks until the channel closes
                finished.done();
            }));
        }
        parked.wait();
        rt::sleep(Duration::from_millis(200)); // the last ones reach their park
        let after = rss_bytes();
        let (start, cpu_start) = (Instant::now(), cpu_time());
        drop(close);
        finished.wait();
        let (release, cpu) = (start.elapsed(), cpu_time() - cpu_start);
        (
            (after.saturating_sub(before)) as f64 / n as f64,
            release.as_nanos() as f64 / n as f64,
            cpu.as_nanos() as f64 / n as f64,
            after,
        )
    });
    println!("park_memory/rt: {n} parked coroutines: {rss_per:.0} bytes RSS each; release {release_ns:.1} ns each ({cpu_ns:.1} ns CPU)");
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    let mut rss = Vec::new();
    for _ in 0..idle {
        std::thread::sleep(Duration::from_secs(1));
        rss.push(format!("{:.0}", mib(rss_bytes())));
    }
    let after = rss_bytes();
    let bar = 2 * start_rss + 64 * 1024 * 1024;
    println!(
        "memory_return/rt: RSS {:.0} MiB before, {:.0} MiB at peak, then each second idle: {} MiB; after {idle} s {} the bar (2 x before + 64 MiB = {:.0} MiB)",
        mib(start_rss),
        mib(peak),
        rss.join(" "),
        if after <= bar { "within" } else { "over" },
        mib(bar)
    );
}
