//! `Builder::build` answers absurd values with an `InvalidInput` error that
//! says which value, never a panic or an abort.

use std::io::ErrorKind;

fn refused(builder: rt::Builder) -> String {
    let err = builder.build().expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    err.to_string()
}

#[test]
fn worker_counts_out_of_range_are_refused() {
    assert!(refused(rt::Builder::new().workers(0)).contains("at least one worker"));
    for n in [usize::MAX, 1 << 40, rt::MAX_WORKERS + 1] {
        assert!(refused(rt::Builder::new().workers(n)).contains("MAX_WORKERS"));
    }
    let rt = rt::Builder::new().workers(2).build().unwrap();
    assert_eq!(rt.block_on(|| 1), 1);
}

#[test]
fn a_thread_name_with_a_nul_byte_is_refused() {
    assert!(refused(rt::Builder::new().thread_name("a\0b")).contains("NUL"));
}

#[test]
fn stack_sizes_out_of_range_are_refused() {
    for size in [0, 1024, usize::MAX] {
        refused(rt::Builder::new().stack_size(size));
    }
}
