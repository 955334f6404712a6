//! Unit tests for [`PooledBuf`]'s `Vec`-like behaviour.

use std::io::Write;

use crate::{ExhaustedPolicy, MemoryPool, PoolConfig, PoolError, SizeClass};

#[test]
fn grows_in_place_within_its_class() {
    let pool = MemoryPool::default();
    let mut buf = pool.with_capacity(10).expect("alloc");
    let ptr = buf.as_ptr();
    for i in 0..64u8 {
        buf.push(i).expect("push");
    }
    assert_eq!(buf.as_ptr(), ptr);
    assert_eq!(buf.capacity(), 64);
    assert_eq!(pool.stats().total_allocations(), 1);
}

#[test]
fn grows_across_classes_and_returns_old_blocks() {
    let pool = MemoryPool::default();
    let mut buf = pool.alloc_copy(b"hello").expect("alloc");
    let mut expected = b"hello".to_vec();
    for round in 0..14u8 {
        let chunk = vec![round; expected.len() + 1];
        buf.extend_from_slice(&chunk).expect("grow");
        expected.extend_from_slice(&chunk);
        assert_eq!(&buf[..], &expected[..]);
        assert!(buf.capacity() >= buf.len());
    }
    assert!(buf.len() > SizeClass::MAX_SIZE);
    assert_eq!(
        buf.class(),
        None,
        "past 64 KiB the buffer lives on the heap"
    );
    let stats = pool.stats();
    for class in SizeClass::ALL {
        let c = stats.class(class);
        assert_eq!(
            c.allocations, c.releases,
            "{class}: every outgrown block went back"
        );
        assert_eq!(c.idle, c.owned);
    }
    assert_eq!(stats.oversize, 1);
    let cap = buf.capacity();
    buf.extend_from_slice(&vec![7; cap - buf.len() + 1])
        .expect("grow on the heap");
    assert!(buf.capacity() >= 2 * cap, "heap growth doubles");
    assert_eq!(pool.stats().oversize, 2);
}

#[test]
fn resize_truncate_clear() {
    let pool = MemoryPool::default();
    let mut buf = pool.alloc(3).expect("alloc");
    buf.copy_from_slice(b"abc");
    buf.resize(5, b'z').expect("grow");
    assert_eq!(&buf[..], b"abczz");
    buf.resize(2, 0).expect("shrink");
    assert_eq!(&buf[..], b"ab");
    buf.truncate(10);
    assert_eq!(buf.len(), 2);
    buf.resize(200, b'q').expect("grow to 256 B");
    assert_eq!(buf.capacity(), 256);
    assert_eq!(&buf[..2], b"ab");
    assert!(buf[2..].iter().all(|&b| b == b'q'));
    buf.clear();
    assert!(buf.is_empty());
    assert_eq!(buf.capacity(), 256);
}

#[test]
fn failed_growth_leaves_the_buffer_unchanged() {
    let pool = MemoryPool::new(
        PoolConfig::new()
            .class_capacity(SizeClass::ALL[1], 0)
            .on_exhausted(ExhaustedPolicy::Error),
    );
    let mut buf = pool.alloc_copy(&[5; 60]).expect("alloc");
    let err = buf
        .extend_from_slice(&[6; 10])
        .expect_err("128 B class is disabled");
    assert!(matches!(err, PoolError::Exhausted { capacity: 0, .. }));
    assert_eq!(&buf[..], &[5; 60][..]);
    assert_eq!(buf.capacity(), 64);
    assert_eq!(buf.reserve(usize::MAX), Err(PoolError::OutOfMemory));
    assert!(buf.write_all(&[0; 10]).is_err());
    assert_eq!(buf.len(), 60);
}

#[test]
fn io_write_and_conversions() {
    let pool = MemoryPool::default();
    let mut buf = pool.with_capacity(0).expect("alloc");
    let n = 1;
    write!(buf, "a-{n}").expect("write");
    buf.flush().expect("flush");
    assert_eq!(buf.as_ref(), b"a-1");
    assert_eq!(buf.to_vec(), b"a-1".to_vec());
    buf.as_mut()[0] = b'b';
    assert_eq!(buf.as_slice(), b"b-1");
    assert!(buf.pool().same_pool(&pool));
    let debug = format!("{buf:?}");
    assert!(debug.contains("len: 3") && !debug.contains("98"), "{debug}");
}
