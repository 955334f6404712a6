//! Several processes, each with an empty disk cache of its own, start on one cold module
//! against one `file://` store: exactly one compiles, the others load its artifact.

use std::time::Duration;

use wasm_sandbox_cache::{CacheConfig, CompilationCache, RemoteConfig};

use crate::{CHILD_MODE, answer, engine, settings, wat};

const STORE_URL: &str = "WASM_SANDBOX_REMOTE_TEST_URL";
const CACHE_DIR: &str = "WASM_SANDBOX_REMOTE_TEST_DIR";
const MODULE_N: &str = "WASM_SANDBOX_REMOTE_TEST_N";

/// The child: opens its cache on the store, loads the module, publishes, prints its stats.
pub(crate) fn child_compile() {
    let url = std::env::var(STORE_URL).expect("store url");
    let dir = std::env::var_os(CACHE_DIR).expect("cache dir");
    let n: i32 = std::env::var(MODULE_N).expect("n").parse().expect("n");
    let cache = CompilationCache::open(
        CacheConfig::new(dir).remote_config(RemoteConfig::url(url).key_from_env(false)),
    )
    .expect("open");
    let engine = engine();
    let module = cache
        .get_or_compile(&engine, &wat(n, 2000), &settings())
        .expect("module");
    assert_eq!(answer(&engine, &module), n);
    assert!(cache.flush_remote(Duration::from_secs(30)), "published");
    let s = cache.stats();
    println!(
        "REMOTE-STATS compiles={} remote_hits={} lease_waits={} errors={} verify_failures={}",
        s.compiles, s.remote_hits, s.remote_lease_waits, s.remote_errors, s.remote_verify_failures
    );
}

fn field(line: &str, name: &str) -> u64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {line:?}"))
        .parse()
        .expect("number")
}

#[test]
fn four_processes_on_one_cold_module_compile_it_once() {
    const PROCESSES: usize = 4;
    for round in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        std::fs::create_dir(&store).unwrap();
        let url = format!("file://{}/fleet", store.display());
        let n = 900 + round;
        let children: Vec<_> = (0..PROCESSES)
            .map(|i| {
                std::process::Command::new(std::env::current_exe().expect("current exe"))
                    .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
                    .env(CHILD_MODE, "compile")
                    .env(STORE_URL, &url)
                    .env(CACHE_DIR, dir.path().join(format!("host{i}")))
                    .env(MODULE_N, n.to_string())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn child")
            })
            .collect();
        let lines: Vec<String> = children
            .into_iter()
            .map(|child| {
                let out = child.wait_with_output().expect("child");
                let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
                assert!(
                    out.status.success(),
                    "child failed: {stdout}\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                stdout
                    .lines()
                    .find_map(|l| l.find("REMOTE-STATS").map(|at| l[at..].to_owned()))
                    .unwrap_or_else(|| panic!("no stats in {stdout}"))
            })
            .collect();
        let sum = |name| lines.iter().map(|l| field(l, name)).sum::<u64>();
        assert_eq!(sum("compiles"), 1, "round {round}: {lines:#?}");
        assert_eq!(sum("remote_hits"), PROCESSES as u64 - 1, "{lines:#?}");
        assert_eq!(sum("errors") + sum("verify_failures"), 0, "{lines:#?}");
        let files = crate::walk(&store);
        assert_eq!(files.len(), 1, "one artifact, no lease left: {files:?}");
        assert!(files[0].ends_with(".wsc"));
    }
}
