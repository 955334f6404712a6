//! A hostile cache directory: FIFOs, sockets, directories and symlinks (to FIFOs and to
//! valid cache files outside the directory) planted under every name the cache opens, a
//! process holding the directory lock, other users' files, and sticky shared directories.
//!
//! Every cache operation runs on its own thread under [`within`], so an operation that
//! blocks fails its test instead of hanging the test binary.
//!
//! The names the cache opens are `<key>.cwasm` (artifact), `<key>.meta` (header) and
//! `.wsc-tmp-*` (temporary files; the cleaner opens them to probe their lock). There is no
//! index or lock file: the index lives in memory and the lock is a `flock` on the
//! directory itself, which
//! `a_process_holding_the_directory_lock_slows_the_cache_but_never_stalls_it` holds.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::Duration;

use wasm_sandbox_cache::{
    CacheConfig, CacheError, CacheKey, CacheStats, CompilationCache, SkipReason, VerifyReport,
};
use wasmtime::Engine;

use crate::*;

/// How long any single cache operation may take here. Generous, for a loaded machine: a
/// blocked operation never returns at all.
const BOUND: Duration = Duration::from_secs(20);

/// Runs `f` on its own thread and returns its result, failing the test if it has not
/// returned within [`BOUND`] (the thread is left behind, blocked; the test binary still
/// exits) and passing on its panic if it panicked.
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = channel();
    let thread = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(BOUND) {
        Ok(value) => value,
        Err(RecvTimeoutError::Timeout) => panic!("{what} did not return within {BOUND:?}"),
        Err(RecvTimeoutError::Disconnected) => match thread.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the thread sent nothing and did not panic"),
        },
    }
}

fn open_within(what: &str, config: CacheConfig) -> Result<Arc<CompilationCache>, CacheError> {
    within(what, move || CompilationCache::open(config).map(Arc::new))
}

/// `get_or_compile` of module `n`, bounded; returns the module's answer.
fn compile_within(what: &str, cache: &Arc<CompilationCache>, n: i32) -> i32 {
    let cache = cache.clone();
    within(what, move || {
        let engine = engine();
        let module = cache
            .get_or_compile(&engine, &wat(n), &settings())
            .expect("get_or_compile succeeds whatever the directory holds");
        answer(&engine, &module)
    })
}

fn contains_within(cache: &Arc<CompilationCache>, n: i32) -> bool {
    let cache = cache.clone();
    within("contains", move || {
        cache.contains(&engine(), &wat(n), &settings())
    })
}

fn verify_within(what: &str, cache: &Arc<CompilationCache>) -> VerifyReport {
    let cache = cache.clone();
    within(what, move || cache.verify().expect("verify succeeds"))
}

fn stats_within(cache: &Arc<CompilationCache>) -> CacheStats {
    let cache = cache.clone();
    within("stats", move || cache.stats())
}

fn clear_within(what: &str, cache: &Arc<CompilationCache>) {
    let cache = cache.clone();
    within(what, move || cache.clear().expect("clear succeeds"));
}

fn mkfifo(path: &Path) {
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        path,
        rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
    )
    .expect("mkfifo");
}

/// The module the planted-entry tests cache.
const N: i32 = 21;

/// Where, relative to the module's cache entry, a thing is planted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// `<key>.cwasm`, in place of the genuine artifact.
    Artifact,
    /// `<key>.meta`, in place of the genuine header.
    Header,
    /// `.wsc-tmp-planted`, next to the genuine entry.
    Temp,
}

/// What is planted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plant {
    Fifo,
    /// A symlink to a FIFO outside the directory.
    SymlinkToFifo,
    /// A symlink to a regular file outside the directory: for the artifact and header
    /// slots, the genuine file moved out, so following the link would load a valid entry.
    SymlinkToFile,
    Socket,
    Directory,
}

const PLANTS: [Plant; 5] = [
    Plant::Fifo,
    Plant::SymlinkToFifo,
    Plant::SymlinkToFile,
    Plant::Socket,
    Plant::Directory,
];

impl Plant {
    /// The reason the cache must report: what the entry itself is (a symlink is reported
    /// as a symlink, never as what it points to).
    fn reason(self) -> SkipReason {
        match self {
            Plant::Fifo => SkipReason::Fifo,
            Plant::SymlinkToFifo | Plant::SymlinkToFile => SkipReason::Symlink,
            Plant::Socket => SkipReason::Socket,
            Plant::Directory => SkipReason::Directory,
        }
    }
}

/// A cache directory holding one genuine entry for module [`N`], and a directory outside
/// it for symlink targets.
struct Scene {
    _root: tempfile::TempDir,
    dir: PathBuf,
    outside: PathBuf,
    key: CacheKey,
}

impl Scene {
    fn new() -> Scene {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("cache");
        let outside = root.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let engine = engine();
        open(&dir)
            .get_or_compile(&engine, &wat(N), &settings())
            .unwrap();
        let key = CacheKey::new(&engine, &wat(N), &settings());
        assert!(artifact_path(&dir, &key).is_file() && meta_path(&dir, &key).is_file());
        Scene {
            _root: root,
            dir,
            outside,
            key,
        }
    }

    fn slot_path(&self, slot: Slot) -> PathBuf {
        match slot {
            Slot::Artifact => artifact_path(&self.dir, &self.key),
            Slot::Header => meta_path(&self.dir, &self.key),
            Slot::Temp => self.dir.join(".wsc-tmp-planted"),
        }
    }

    /// Plants `plant` at `slot`'s name, returning the symlink target, if any. For the
    /// artifact and header slots the genuine file is moved out of the directory first
    /// (and is the target of [`Plant::SymlinkToFile`]).
    fn plant(&self, slot: Slot, plant: Plant) -> Option<PathBuf> {
        let at = self.slot_path(slot);
        let genuine = self.outside.join("genuine");
        if slot == Slot::Temp {
            std::fs::write(&genuine, b"a regular file outside the cache").unwrap();
        } else {
            std::fs::rename(&at, &genuine).unwrap();
        }
        match plant {
            Plant::Fifo => mkfifo(&at),
            Plant::SymlinkToFifo => {
                let fifo = self.outside.join("fifo");
                mkfifo(&fifo);
                std::os::unix::fs::symlink(&fifo, &at).unwrap();
                return Some(fifo);
            }
            Plant::SymlinkToFile => {
                std::os::unix::fs::symlink(&genuine, &at).unwrap();
                return Some(genuine);
            }
            Plant::Socket => drop(std::os::unix::net::UnixListener::bind(&at).unwrap()),
            Plant::Directory => std::fs::create_dir(&at).unwrap(),
        }
        None
    }

    /// Asserts that the planted entry and everything outside are as they were planted:
    /// not removed, not replaced, not written through.
    fn assert_untouched(&self, slot: Slot, plant: Plant, target: Option<&Path>, when: &str) {
        let at = self.slot_path(slot);
        let meta = std::fs::symlink_metadata(&at)
            .unwrap_or_else(|e| panic!("{when}: the planted {plant:?} is gone: {e}"));
        let file_type = meta.file_type();
        let intact = match plant {
            Plant::Fifo => file_type.is_fifo(),
            Plant::SymlinkToFifo | Plant::SymlinkToFile => {
                file_type.is_symlink() && std::fs::read_link(&at).ok().as_deref() == target
            }
            Plant::Socket => file_type.is_socket(),
            Plant::Directory => {
                file_type.is_dir() && std::fs::read_dir(&at).unwrap().next().is_none()
            }
        };
        assert!(intact, "{when}: the planted {plant:?} was changed");
        if plant == Plant::SymlinkToFifo {
            let fifo = std::fs::symlink_metadata(self.outside.join("fifo")).unwrap();
            assert!(
                fifo.file_type().is_fifo(),
                "{when}: the outside FIFO changed"
            );
        }
        let genuine = self.outside.join("genuine");
        let bytes = std::fs::read(&genuine).unwrap();
        match slot {
            Slot::Temp => assert_eq!(bytes, b"a regular file outside the cache", "{when}"),
            // The genuine half is still whole (never truncated or written through).
            Slot::Artifact | Slot::Header => {
                assert!(bytes.len() > 100, "{when}: {genuine:?} was truncated")
            }
        }
    }
}

/// Plants each thing at `slot` and runs every cache operation on the directory, bounded:
/// first on a cache that opened before the plant (the lookup meets it), then on one that
/// opens with it in place (the scan meets it).
fn planted_entries_are_skipped_never_followed_never_removed(slot: Slot) {
    for plant in PLANTS {
        let scene = Scene::new();
        let planted = scene.slot_path(slot);
        let case = format!("{plant:?} as {slot:?}");
        let disk_entry_intact = slot == Slot::Temp;

        let before = open_within(&format!("{case}: open"), CacheConfig::new(&scene.dir))
            .expect("open before the plant");
        let target = scene.plant(slot, plant);

        // A lookup meets the planted entry: a miss (or, for a temp name, the genuine hit).
        assert_eq!(
            contains_within(&before, N),
            disk_entry_intact,
            "{case}: contains"
        );
        let answer = compile_within(&format!("{case}: get_or_compile"), &before, N);
        assert_eq!(answer, N, "{case}");
        let s = stats_within(&before);
        if disk_entry_intact {
            assert_eq!((s.disk_hits, s.compiles), (1, 0), "{case}: {s:?}");
            assert_eq!(s.skipped_entries, 0, "{case}: {s:?}");
        } else {
            assert_eq!(
                (s.disk_hits, s.misses, s.compiles),
                (0, 1, 1),
                "{case}: {s:?}"
            );
            assert_eq!(
                s.corrupt_removed, 0,
                "{case}: a planted entry is not corrupt"
            );
            // The lookup and then the store met it once each; the store did not replace it.
            assert_eq!(s.skipped_entries, 2, "{case}: {s:?}");
            assert_eq!(s.store_failures, 1, "{case}: {s:?}");
        }
        scene.assert_untouched(slot, plant, target.as_deref(), &format!("{case}: lookup"));

        // A verify reports it, exactly once, as what it is.
        let skipped_before = s.skipped_entries;
        let report = verify_within(&format!("{case}: verify"), &before);
        assert_eq!(report.skipped.len(), 1, "{case}: {report:?}");
        assert_eq!(report.skipped[0].path, planted, "{case}: {report:?}");
        assert_eq!(
            report.skipped[0].reason,
            plant.reason(),
            "{case}: {report:?}"
        );
        if disk_entry_intact {
            assert_eq!((report.checked, report.valid), (1, 1), "{case}: {report:?}");
            assert_eq!(report.temp_files_removed, 0, "{case}: {report:?}");
        } else {
            // The genuine other half is an orphan now, and is ours: removed.
            assert_eq!((report.checked, report.valid), (0, 0), "{case}: {report:?}");
            assert_eq!(report.removed.len(), 1, "{case}: {report:?}");
            assert!(
                !report.removed.iter().any(|r| r.path == planted),
                "{case}: {report:?}"
            );
        }
        let s = stats_within(&before);
        assert_eq!(s.skipped_entries, skipped_before + 1, "{case}: {s:?}");
        scene.assert_untouched(slot, plant, target.as_deref(), &format!("{case}: verify"));

        // A clear leaves it.
        clear_within(&format!("{case}: clear"), &before);
        assert_eq!(
            stats_within(&before).skipped_entries,
            skipped_before + 2,
            "{case}"
        );
        // Only the planted entry is left.
        let left: Vec<_> = std::fs::read_dir(&scene.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(left, std::slice::from_ref(&planted), "{case}");
        scene.assert_untouched(slot, plant, target.as_deref(), &format!("{case}: clear"));
        drop(before);

        // A cache opening with the entry in place skips it in its scan.
        let after = open_within(&format!("{case}: open after"), CacheConfig::new(&scene.dir))
            .expect("open with a planted entry");
        let s = stats_within(&after);
        assert_eq!(s.skipped_entries, 1, "{case}: {s:?}");
        assert_eq!(
            (s.entries_on_disk, s.temp_files_removed),
            (0, 0),
            "{case}: {s:?}"
        );
        let answer = compile_within(&format!("{case}: get_or_compile after"), &after, N);
        assert_eq!(answer, N, "{case}");
        let s = stats_within(&after);
        assert_eq!((s.disk_hits, s.compiles), (0, 1), "{case}: {s:?}");
        // For a temp name the entry is stored normally; otherwise the planted name keeps
        // it out, and is left alone.
        assert_eq!(
            s.store_failures,
            u64::from(!disk_entry_intact),
            "{case}: {s:?}"
        );
        let report = verify_within(&format!("{case}: verify after"), &after);
        assert_eq!(report.skipped.len(), 1, "{case}: {report:?}");
        assert_eq!(
            report.skipped[0].reason,
            plant.reason(),
            "{case}: {report:?}"
        );
        assert_eq!(
            report.valid,
            usize::from(disk_entry_intact),
            "{case}: {report:?}"
        );
        clear_within(&format!("{case}: clear after"), &after);
        scene.assert_untouched(slot, plant, target.as_deref(), &format!("{case}: after"));
    }
}

#[test]
fn things_planted_as_artifacts_are_skipped_never_followed_never_removed() {
    planted_entries_are_skipped_never_followed_never_removed(Slot::Artifact);
}

#[test]
fn things_planted_as_headers_are_skipped_never_followed_never_removed() {
    planted_entries_are_skipped_never_followed_never_removed(Slot::Header);
}

#[test]
fn things_planted_as_temp_files_are_skipped_never_followed_never_removed() {
    planted_entries_are_skipped_never_followed_never_removed(Slot::Temp);
}

#[test]
fn a_symlink_to_a_valid_entry_is_never_loaded_through() {
    // Both halves of a genuine entry moved out and linked back: following the links
    // would be a disk hit.
    let scene = Scene::new();
    let cache = open_within("open", CacheConfig::new(&scene.dir)).unwrap();
    for (at, name) in [
        (artifact_path(&scene.dir, &scene.key), "artifact"),
        (meta_path(&scene.dir, &scene.key), "meta"),
    ] {
        let outside = scene.outside.join(name);
        std::fs::rename(&at, &outside).unwrap();
        std::os::unix::fs::symlink(&outside, &at).unwrap();
    }
    assert!(!contains_within(&cache, N));
    assert_eq!(compile_within("get_or_compile", &cache, N), N);
    let s = stats_within(&cache);
    assert_eq!(
        (s.disk_hits, s.compiles, s.store_failures),
        (0, 1, 1),
        "{s:?}"
    );
    let report = verify_within("verify", &cache);
    let mut reasons: Vec<_> = report.skipped.iter().map(|e| e.reason).collect();
    reasons.dedup();
    assert_eq!(reasons, [SkipReason::Symlink], "{report:?}");
    assert_eq!(report.skipped.len(), 2, "{report:?}");
    clear_within("clear", &cache);
    for name in ["artifact", "meta"] {
        assert!(scene.outside.join(name).is_file(), "{name} was removed");
    }
    assert!(
        std::fs::symlink_metadata(artifact_path(&scene.dir, &scene.key))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_corrupt_header_next_to_a_planted_artifact_removes_only_the_header() {
    // The header is ours but others can write it (so it is never trusted): the entry is
    // discarded, which removes the cache's files of that key, and only those.
    let scene = Scene::new();
    let cache = open_within("open", CacheConfig::new(&scene.dir)).unwrap();
    let target = scene.plant(Slot::Artifact, Plant::SymlinkToFifo);
    let meta = meta_path(&scene.dir, &scene.key);
    chmod(&meta, 0o666);
    assert_eq!(std::fs::metadata(&meta).unwrap().mode() & 0o777, 0o666);
    assert_eq!(compile_within("get_or_compile", &cache, N), N);
    let s = stats_within(&cache);
    assert_eq!(
        (s.disk_hits, s.compiles, s.corrupt_removed),
        (0, 1, 1),
        "{s:?}"
    );
    assert!(!meta.exists(), "the untrusted header of ours is removed");
    // Met by the removal and by the store, left alone by both.
    assert_eq!((s.skipped_entries, s.store_failures), (2, 1), "{s:?}");
    scene.assert_untouched(
        Slot::Artifact,
        Plant::SymlinkToFifo,
        target.as_deref(),
        "discard",
    );
}

#[test]
fn a_fifo_or_a_symlink_to_one_as_the_cache_directory_is_not_a_directory() {
    let root = tempfile::tempdir().unwrap();
    let fifo = root.path().join("fifo");
    mkfifo(&fifo);
    let link = root.path().join("link");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    for path in [fifo, link] {
        let err = open_within("open", CacheConfig::new(&path)).unwrap_err();
        assert!(
            matches!(&err, CacheError::NotADirectory { path: p } if *p == path),
            "{err:?}"
        );
    }
}

#[test]
fn other_users_files_under_the_cache_names_are_never_loaded_or_removed() {
    if !rustix::process::geteuid().is_root() {
        return; // only root can give a file away
    }
    let scene = Scene::new();
    let (art, meta) = (
        artifact_path(&scene.dir, &scene.key),
        meta_path(&scene.dir, &scene.key),
    );
    // A genuine, valid entry: only its owner is wrong.
    for path in [&art, &meta] {
        std::os::unix::fs::chown(path, Some(12345), Some(12345)).unwrap();
    }
    let cache = open_within("open", CacheConfig::new(&scene.dir)).unwrap();
    assert_eq!(stats_within(&cache).entries_on_disk, 0);
    assert_eq!(compile_within("get_or_compile", &cache, N), N);
    let s = stats_within(&cache);
    assert_eq!(
        (s.disk_hits, s.compiles, s.store_failures),
        (0, 1, 1),
        "{s:?}"
    );
    let report = verify_within("verify", &cache);
    assert_eq!(report.skipped.len(), 2, "{report:?}");
    assert!(
        report
            .skipped
            .iter()
            .all(|e| e.reason == SkipReason::OwnedByAnotherUser),
        "{report:?}"
    );
    clear_within("clear", &cache);
    for path in [&art, &meta] {
        assert_eq!(std::fs::metadata(path).unwrap().uid(), 12345, "{path:?}");
    }
}

#[test]
fn a_process_holding_the_directory_lock_slows_the_cache_but_never_stalls_it() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("cache");
    open(&dir);
    // Anyone who can open the directory can `flock` it.
    let holder = std::fs::File::open(&dir).unwrap();
    holder.lock().unwrap();
    let config = CacheConfig::new(&dir).lock_timeout(Duration::from_millis(50));
    let cache = open_within("open", config.clone()).unwrap();
    assert_eq!(compile_within("get_or_compile", &cache, 3), 3);
    let report = verify_within("verify", &cache);
    assert_eq!((report.checked, report.valid), (1, 1), "{report:?}");
    let s = stats_within(&cache);
    // open's scan, the miss's locked lookup, the store, verify's scan (at least).
    assert!(s.lock_timeouts >= 4, "{s:?}");
    assert_eq!(s.corrupt_removed, 0, "{s:?}");
    drop(cache);
    drop(holder);
    // The entry stored without the lock is whole.
    let fresh = open_within("open after", config).unwrap();
    assert_eq!(compile_within("get_or_compile after", &fresh, 3), 3);
    let s = stats_within(&fresh);
    assert_eq!((s.disk_hits, s.lock_timeouts), (1, 0), "{s:?}");
    clear_within("clear", &fresh);
}

#[test]
fn sticky_shared_directories_are_refused_unless_allowed() {
    let root = tempfile::tempdir().unwrap();
    for mode in [0o1777, 0o1770, 0o1733, 0o1703] {
        let dir = dir_with_mode(root.path(), &format!("sticky-{mode:o}"), mode);
        // The bits are what was set (root ignores them for access, not for the check).
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o7777, mode);
        let err = open_within("open", CacheConfig::new(&dir)).unwrap_err();
        let message = insecure(err, &dir, mode);
        assert!(message.contains("sticky"), "{message}");
        assert!(message.contains("writable by other users"), "{message}");
        assert!(
            message.contains("allow_shared_sticky_directory"),
            "{message}"
        );
        assert!(
            std::fs::read_dir(&dir).unwrap().next().is_none(),
            "nothing was created in a refused directory"
        );

        // Opted in: it works, and a new cache finds the entry.
        let allowed = CacheConfig::new(&dir).allow_shared_sticky_directory(true);
        let cache = open_within("open allowed", allowed.clone()).unwrap();
        assert!(cache.is_disk_enabled());
        assert_eq!(compile_within("get_or_compile", &cache, 4), 4);
        let again = open_within("open allowed again", allowed).unwrap();
        assert_eq!(compile_within("get_or_compile again", &again, 4), 4);
        assert_eq!(stats_within(&again).disk_hits, 1);
        // The cache's own files are private.
        for name in files_with_suffix(&dir, ".cwasm") {
            assert_eq!(
                std::fs::metadata(dir.join(&name)).unwrap().mode() & 0o777,
                0o600
            );
        }
    }

    // The opt-in is only for sticky directories: without the sticky bit, or owned by
    // another user, a shared directory is still refused.
    let plain = root.path().join("plain-777");
    std::fs::create_dir(&plain).unwrap();
    chmod(&plain, 0o777);
    let err = open_within(
        "open plain",
        CacheConfig::new(&plain).allow_shared_sticky_directory(true),
    )
    .unwrap_err();
    assert!(
        matches!(err, CacheError::InsecureDirectory { mode: 0o777, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("chmod go-w"), "{err}");
    if rustix::process::geteuid().is_root() {
        let theirs = root.path().join("theirs-1777");
        std::fs::create_dir(&theirs).unwrap();
        chmod(&theirs, 0o1777);
        std::os::unix::fs::chown(&theirs, Some(12345), Some(12345)).unwrap();
        let err = open_within(
            "open theirs",
            CacheConfig::new(&theirs).allow_shared_sticky_directory(true),
        )
        .unwrap_err();
        assert!(
            matches!(err, CacheError::InsecureDirectory { owner: 12345, .. }),
            "{err:?}"
        );
    }
}

#[test]
fn tmp_itself_is_refused_by_default() {
    let tmp = Path::new("/tmp");
    let Ok(meta) = std::fs::metadata(tmp) else {
        return;
    };
    if meta.mode() & 0o1002 != 0o1002 {
        return; // not a sticky world-writable /tmp on this machine
    }
    let err = open_within("open /tmp", CacheConfig::new(tmp)).unwrap_err();
    assert!(
        matches!(&err, CacheError::InsecureDirectory { path, mode, .. }
            if path == tmp && *mode & 0o1000 != 0),
        "{err:?}"
    );
}

#[test]
fn planted_entries_do_not_disturb_an_engine_using_the_rest_of_the_cache() {
    // Many planted things of every kind next to genuine entries: the other keys load.
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("cache");
    let seed = open(&dir);
    let engine: Engine = engine();
    for n in 0..3 {
        seed.get_or_compile(&engine, &wat(n), &settings()).unwrap();
    }
    drop(seed);
    for i in 0..4 {
        mkfifo(&dir.join(format!(".wsc-tmp-fifo{i}")));
        mkfifo(&dir.join(format!("{}.meta", format!("{i:x}").repeat(64))));
        std::os::unix::fs::symlink("/dev/zero", dir.join(format!(".wsc-tmp-zero{i}"))).unwrap();
    }
    let cache = open_within("open", CacheConfig::new(&dir)).unwrap();
    let s = stats_within(&cache);
    assert_eq!((s.entries_on_disk, s.skipped_entries), (3, 12), "{s:?}");
    for n in 0..3 {
        assert_eq!(compile_within("get_or_compile", &cache, n), n);
    }
    let s = stats_within(&cache);
    assert_eq!((s.disk_hits, s.compiles), (3, 0), "{s:?}");
    let report = verify_within("verify", &cache);
    assert_eq!(
        (report.checked, report.valid, report.skipped.len()),
        (3, 3, 12)
    );
    clear_within("clear", &cache);
    assert_eq!(files_with_prefix(&dir, ".wsc-tmp-").len(), 8);
    assert_eq!(files_with_suffix(&dir, ".meta").len(), 4);
    assert!(files_with_suffix(&dir, ".cwasm").is_empty());
}
