//! Model-based property test of `EvictionIndex`: random operations against a trivially
//! correct model, compared after every step.

use proptest::prelude::*;
use wasm_sandbox_cache::index::Insertion;
use wasm_sandbox_cache::{EvictionIndex, EvictionPolicy};

#[derive(Clone, Debug)]
enum Op {
    Insert(u8, u64),
    Touch(u8),
    Remove(u8),
    PopVictim,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..10, 0u64..60).prop_map(|(k, s)| Op::Insert(k, s)),
        3 => (0u8..10).prop_map(Op::Touch),
        1 => (0u8..10).prop_map(Op::Remove),
        1 => Just(Op::PopVictim),
    ]
}

/// The model: a plain vector, scanned linearly.
#[derive(Default)]
struct Model {
    entries: Vec<(u8, u64, u64, u64)>, // key, size, last access, accesses
    clock: u64,
}

impl Model {
    fn victim(&self, policy: EvictionPolicy) -> Option<usize> {
        (0..self.entries.len()).min_by_key(|&i| {
            let (_, _, last, acc) = self.entries[i];
            match policy {
                EvictionPolicy::Lfu => (acc, last),
                _ => (last, 0),
            }
        })
    }

    fn total(&self) -> u64 {
        self.entries.iter().map(|e| e.1).sum()
    }

    fn find(&self, key: u8) -> Option<usize> {
        self.entries.iter().position(|e| e.0 == key)
    }
}

fn check(policy: EvictionPolicy, max_bytes: u64, max_entries: usize, ops: Vec<Op>) {
    let mut real = EvictionIndex::new(policy, max_bytes, max_entries);
    let mut model = Model::default();
    let (mut inserts, mut evictions, mut removals, mut hits, mut rejections, mut replacements) =
        (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    for op in ops {
        match op {
            Op::Insert(key, size) => {
                let got = real.insert(key, size);
                let expected = if size > max_bytes || max_entries == 0 {
                    rejections += 1;
                    Insertion {
                        admitted: false,
                        evicted: vec![],
                    }
                } else {
                    let old = model.find(key).map(|i| model.entries.remove(i));
                    if old.is_some() {
                        replacements += 1;
                    } else {
                        inserts += 1;
                    }
                    let mut evicted = vec![];
                    while model.total() + size > max_bytes || model.entries.len() + 1 > max_entries
                    {
                        let i = model.victim(policy).expect("something to evict");
                        let (k, s, _, _) = model.entries.remove(i);
                        evicted.push((k, s));
                        evictions += 1;
                    }
                    model.clock += 1;
                    let accesses = old.map_or(1, |o| o.3 + 1);
                    model.entries.push((key, size, model.clock, accesses));
                    Insertion {
                        admitted: true,
                        evicted,
                    }
                };
                assert_eq!(got, expected);
                // The bound holds after every insert.
                assert!(real.total_bytes() <= max_bytes);
                assert!(real.len() <= max_entries);
            }
            Op::Touch(key) => {
                let present = match model.find(key) {
                    Some(i) => {
                        model.clock += 1;
                        model.entries[i].2 = model.clock;
                        model.entries[i].3 += 1;
                        hits += 1;
                        true
                    }
                    None => false,
                };
                assert_eq!(real.touch(&key), present);
            }
            Op::Remove(key) => {
                let expected = model.find(key).map(|i| model.entries.remove(i).1);
                if expected.is_some() {
                    removals += 1;
                }
                assert_eq!(real.remove(&key), expected);
            }
            Op::PopVictim => {
                let expected = model.victim(policy).map(|i| {
                    let (k, s, _, _) = model.entries.remove(i);
                    (k, s)
                });
                if expected.is_some() {
                    evictions += 1;
                }
                assert_eq!(real.pop_victim(), expected);
            }
        }
        // Compare the whole state after every step.
        assert_eq!(real.len(), model.entries.len());
        assert_eq!(real.total_bytes(), model.total());
        assert_eq!(
            real.victim().copied(),
            model.victim(policy).map(|i| model.entries[i].0)
        );
        for &(k, s, _, acc) in &model.entries {
            assert_eq!(real.size_of(&k), Some(s));
            assert_eq!(real.accesses_of(&k), Some(acc));
        }
        let stats = real.stats();
        assert_eq!(stats.inserts, inserts);
        assert_eq!(stats.replacements, replacements);
        assert_eq!(stats.rejections, rejections);
        assert_eq!(stats.evictions, evictions);
        assert_eq!(stats.removals, removals);
        assert_eq!(stats.hits, hits);
        // Accounting adds up: every admitted new key is present, evicted or removed.
        assert_eq!(
            stats.inserts,
            real.len() as u64 + stats.evictions + stats.removals
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn lru_index_matches_model(
        max_bytes in 0u64..150,
        max_entries in 0usize..6,
        ops in proptest::collection::vec(op(), 0..80),
    ) {
        check(EvictionPolicy::Lru, max_bytes, max_entries, ops);
    }

    #[test]
    fn lfu_index_matches_model(
        max_bytes in 0u64..150,
        max_entries in 0usize..6,
        ops in proptest::collection::vec(op(), 0..80),
    ) {
        check(EvictionPolicy::Lfu, max_bytes, max_entries, ops);
    }
}

#[test]
fn lru_and_lfu_pick_different_victims() {
    for (policy, expected) in [(EvictionPolicy::Lru, 2u8), (EvictionPolicy::Lfu, 3u8)] {
        let mut index = EvictionIndex::new(policy, 30, 3);
        index.insert(1, 10);
        index.insert(2, 10);
        index.touch(&1);
        index.touch(&2);
        index.touch(&1);
        index.insert(3, 10);
        // LRU: 2 was used longest ago; LFU: 3 has one access.
        let out = index.insert(4, 10);
        assert_eq!(out.evicted, vec![(expected, 10)], "{policy:?}");
    }
}
