//! `--remote-cache`: `compile` publishes for this binary's engine, other hosts (processes
//! with caches of their own) load what it published, four of them racing on one cold
//! module compile it once, and `cache stats` lists the store per engine.

use std::process::Stdio;
use std::time::Duration;

use crate::{cli, command, guest, output_within, stderr_line};

#[test]
fn four_cold_hosts_compile_one_module_once_and_the_rest_load_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    let url = format!("file://{}/fleet", store.display());
    let sqlite = guest("c/sqlite-shell/sqlite-shell.wasm");
    let children: Vec<_> = (0..4)
        .map(|i| {
            let cache_dir = dir.path().join(format!("host{i}"));
            command(&[
                "compile",
                "--remote-cache",
                &url,
                "--cache-dir",
                cache_dir.to_str().unwrap(),
                &sqlite,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs")
        })
        .collect();
    let outs: Vec<String> = children
        .into_iter()
        .map(|c| {
            let out = output_within(c, Duration::from_secs(300), "compile --remote-cache");
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .collect();
    let count = |what: &str| outs.iter().filter(|o| o.contains(what)).count();
    assert_eq!(count(": compiled ("), 1, "{outs:#?}");
    assert_eq!(count(": loaded from the remote cache ("), 3, "{outs:#?}");
    assert_eq!(count("published 1 artifact(s)"), 1, "{outs:#?}");

    // A fifth host runs from the store's artifact without compiling.
    let fifth = dir.path().join("host5");
    let abi = guest("c/abi/abi.wasm");
    let fifth_dir = fifth.to_str().unwrap();
    let out = cli(&[
        "compile",
        "--remote-cache",
        &url,
        "--cache-dir",
        fifth_dir,
        &abi,
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(": compiled ("));
    let sixth = dir.path().join("host6");
    let out = cli(&[
        "call",
        &abi,
        "process_batch",
        "--json",
        "[4]",
        "--remote-cache",
        &url,
        "--cache-dir",
        sixth.to_str().unwrap(),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[8]\n");
    let out = cli(&[
        "cache",
        "stats",
        "--remote-cache",
        &url,
        "--cache-dir",
        sixth.to_str().unwrap(),
    ]);
    let stats = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stats}");
    assert!(stats.contains("\"artifacts\": 2"), "{stats}");
    assert!(stats.contains("\"leases\": 0"), "{stats}");
    assert!(stats.contains("\"remote_enabled\": true"), "{stats}");
}

#[test]
fn a_bad_remote_url_is_a_usage_error_and_no_cache_excludes_it() {
    let out = cli(&[
        "compile",
        "--remote-cache",
        "ftp://nowhere/x",
        &guest("c/abi/abi.wasm"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_line(&out).contains("remote compilation cache"));
    let out = cli(&[
        "compile",
        "--remote-cache",
        "memory://",
        "--no-cache",
        &guest("c/abi/abi.wasm"),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_artifact_without_this_fleets_key_is_refused_and_compiled_here() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    let url = format!("file://{}", store.display());
    let abi = guest("c/abi/abi.wasm");
    let compile = |key: &str, host: &str| {
        let cache_dir = dir.path().join(host);
        let out = command(&[
            "compile",
            "--remote-cache",
            &url,
            "--cache-dir",
            cache_dir.to_str().unwrap(),
            &abi,
        ])
        .env("WASM_SANDBOX_REMOTE_CACHE_KEY", key)
        .output()
        .expect("the binary runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (a, b) = ("a".repeat(64), "b".repeat(64));
    assert!(compile(&a, "one").contains("published 1 artifact(s)"));
    let other_fleet = compile(&b, "two");
    assert!(other_fleet.contains(": compiled ("), "{other_fleet}");
    assert!(
        other_fleet.contains("refused 1 remote artifact(s)"),
        "{other_fleet}"
    );
    assert!(compile(&a, "three").contains(": loaded from the remote cache ("));
    let out = command(&["compile", "--remote-cache", &url, &abi])
        .env("WASM_SANDBOX_REMOTE_CACHE_KEY", "short")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_line(&out).contains("64 hex digits"));
}
