//! loom model checks of rt's synchronization protocols live in `tests/`.
//!
//! Run them with `RUSTFLAGS="--cfg loom" cargo test -p loom-tests --release`.
