//! Shared workload parameters for the benchmarks in this folder.
//!
//! Every peer runs the same parameters; see `../shared/BENCHMARKS.md` in the
//! project notes and `docs/benchmarks.md` for results.

/// Tasks alive at once in `spawn_join`.
pub const SPAWN_TASKS: usize = 200_000;
/// Batch size of the batched `spawn_join` variant.
pub const SPAWN_BATCH: usize = 1_000;
/// Yields per task in the `yield` workload (two tasks, one worker).
pub const YIELDS: usize = 1_000_000;
/// Round trips per run of `chan_pingpong`: two tasks bounce a `u64` over a
/// pair of rendezvous channels, on 1 and on 2 workers.
pub const PINGPONG_ROUND_TRIPS: usize = 500_000;

/// The `http_plaintext` protocol shared by rt's `examples/http_hello.rs`
/// and the Rust peers in `http/`.
#[path = "../examples/http_proto.rs"]
pub mod http;
