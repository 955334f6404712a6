//! Test scaffolding shared by the fuzz targets' `#[test]`s: a deterministic generator for
//! the smoke tests, and the replay of committed inputs.
//!
//! Every crate that compiles a target's module (this fuzz crate, and the workspace test
//! binaries that include the targets with `#[path]`) compiles this file next to it, so the
//! targets' tests reach it as `super::super::replay`.

use std::path::PathBuf;

/// splitmix64: a small deterministic generator, so the smoke tests need no extra crate.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next 64 pseudo-random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `count` pseudo-random inputs of up to `max_len - 1` bytes each.
    pub fn inputs(&mut self, count: usize, max_len: u64) -> Vec<Vec<u8>> {
        (0..count)
            .map(|_| {
                let len = (self.next() % max_len) as usize;
                (0..len).map(|_| self.next() as u8).collect()
            })
            .collect()
    }
}

/// Runs `run` on every committed input under `fuzz/<dir>/<target>` (`dir` is `corpus` or
/// `regressions`), found above the compiling crate's manifest, in file-name order, and
/// returns how many there were. A missing directory has none.
pub fn replay(target: &str, dir: &str, run: impl Fn(&[u8])) -> usize {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let Some(dir) = manifest
        .ancestors()
        .map(|d| d.join("fuzz").join(dir).join(target))
        .find(|d| d.is_dir())
    else {
        return 0;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("readable directory")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_file() && path.extension().is_none_or(|ext| ext != "md"))
        .collect();
    files.sort();
    for path in &files {
        eprintln!("{target}: {}", path.display());
        run(&std::fs::read(path).expect("readable input"));
    }
    files.len()
}
