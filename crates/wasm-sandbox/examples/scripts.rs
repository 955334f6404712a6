//! Untrusted scripts, one per call, each in pristine state: a Lua
//! interpreter (`guests/c/lua-eval`) pre-initialized once with its prelude
//! (the standard libraries and a few hundred lines of Lua), then 1,000
//! scripts that each try to leave state behind for the next one (a global,
//! a patched standard library, a patched prelude function, metatables on
//! `nil` and on `_G`, a module in `package.loaded`, a hoard of memory, the
//! PRNG's state), each on a fresh instance of the snapshot. Every script
//! first looks for what the others left and reports it.
//!
//! Also: hostile scripts (an endless loop, a memory bomb, a runtime error)
//! end in their typed errors and leave nothing behind either; and the
//! control: the same scripts on one *reused* instance do see each other's
//! state, so the check can see a leak.
//!
//! It exits with status 1 if a claim does not hold. Run it with
//! `cargo run -p wasm-sandbox --example scripts`.

use std::time::{Duration, Instant};

use wasm_sandbox::cache::CacheConfig;
use wasm_sandbox::{
    Error, Isolation, LoadOptions, PerformanceConfig, Plugin, PreInit, WasiConfig, WasmSandbox,
};
use wasm_sandbox_guests as guests;

/// Looks for every kind of state a script may leave, then leaves its own
/// kind (`KIND`), and reports `clean` or what it found.
const PROBE: &str = r#"
local found = {}
local function saw(what) found[#found + 1] = what end
if rawget(_G, "LEAK") ~= nil then saw("global") end
if string.leak ~= nil then saw("string library") end
if json.encode({1, 2}) ~= "[1,2]" then saw("prelude json.encode") end
if getmetatable(nil) ~= nil then saw("nil metatable") end
if getmetatable(_G) ~= nil then saw("_G metatable") end
if package.loaded.leak ~= nil then saw("package.loaded") end
if rawget(_G, "HOARD") ~= nil then saw("memory hoard") end
if math.random(1, 1 << 30) ~= FIRST_RANDOM then saw("PRNG state") end
"#;

/// What each kind of script leaves behind.
const LEAVE: [&str; 8] = [
    "LEAK = SELF",
    "string.leak = function() return SELF end",
    r#"json.encode = function() return "pwned" end"#,
    r#"debug.setmetatable(nil, { __index = function() return "pwned" end })"#,
    r#"setmetatable(_G, { __index = function() return "pwned" end })"#,
    "package.loaded.leak = { by = SELF }",
    r#"HOARD = {} for i = 1, 20000 do HOARD[i] = string.rep("x", 64) .. i end"#,
    "for _ = 1, 100 do math.random() end",
];

fn script(n: usize) -> String {
    let kind = n % LEAVE.len();
    let leave = LEAVE[kind].replace("SELF", &n.to_string());
    format!(
        "{PROBE}\n{leave}\nif #found == 0 then return 'clean' else return 'dirty: ' .. table.concat(found, ', ') end"
    )
}

/// The prelude, plus the first PRNG draw that every pristine instance makes
/// next (recorded at init: it is part of the snapshot).
fn prelude() -> String {
    format!(
        "{}\nmath.randomseed(42)\nFIRST_RANDOM = math.random(1, 1 << 30)\nmath.randomseed(42)\n",
        guests::LUA_PRELUDE
    )
}

#[derive(Default)]
struct Checks {
    failed: Vec<String>,
}

impl Checks {
    fn check(&mut self, ok: bool, what: impl Into<String>) {
        let what = what.into();
        println!("[{}] {what}", if ok { "ok" } else { "FAILED" });
        if !ok {
            self.failed.push(what);
        }
    }
}

async fn eval(plugin: &Plugin, source: &str) -> Result<String, Error> {
    let out = plugin.call_bytes("eval", source.as_bytes()).await?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let sandbox = WasmSandbox::builder()
        // The interpreter writes a Lua error's message on stderr before it traps.
        .wasi(WasiConfig::capture())
        .performance_config(PerformanceConfig {
            // 16 pool slots of the default 64 MiB memory limit: instances are pool slots
            // whose memory is a copy-on-write image of the snapshot.
            memory_pool_size: 1 << 30,
            enable_caching: true,
            ..Default::default()
        })
        .timeout(Duration::from_millis(500))
        // The snapshot's artifact is cached (in memory here; on disk, a restarted
        // process loads it without running the init step).
        .cache_config(CacheConfig::in_memory())
        .enable_metrics(true)
        .build()
        .await?;
    let mut checks = Checks::default();

    let init = PreInit::call_bytes("init", prelude().into_bytes());
    let started = Instant::now();
    let lua = sandbox
        .load_with(
            guests::LUA_EVAL_WASM,
            LoadOptions::new().name("lua").preinit(init.clone()).fresh(),
        )
        .await?;
    println!(
        "pre-initialized the interpreter and its prelude in {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    checks.check(
        sandbox.metrics().preinits == 1,
        "the init step ran once, at load time",
    );

    // 1,000 scripts, 8 at a time, each on a fresh instance of the snapshot.
    let scripts: Vec<String> = (0..1000).map(script).collect();
    let started = Instant::now();
    let mut dirty = Vec::new();
    for chunk in scripts.chunks(8) {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, source) in chunk.iter().enumerate() {
            let (lua, source) = (lua.clone(), source.clone());
            tasks.spawn(async move { (i, eval(&lua, &source).await) });
        }
        while let Some(done) = tasks.join_next().await {
            let (_, result) = done.expect("a script task panicked");
            match result {
                Ok(out) if out == "clean" => {}
                other => dirty.push(format!("{other:?}")),
            }
        }
    }
    let fresh_time = started.elapsed();
    checks.check(
        dirty.is_empty(),
        format!(
            "1,000 scripts on fresh instances: none saw another's state ({} did{})",
            dirty.len(),
            dirty
                .first()
                .map(|d| format!(", first: {d}"))
                .unwrap_or_default()
        ),
    );
    println!(
        "  {:.1} µs per script",
        fresh_time.as_secs_f64() * 1e6 / 1000.0
    );

    // Hostile scripts end in their typed errors, and the next script is still clean.
    let hostile = [
        ("an endless loop", "while true do end", "timeout"),
        (
            "a memory bomb",
            "local s = 'x' while true do s = s .. s end",
            "limit",
        ),
        ("a runtime error", "error('boom')", "trap"),
    ];
    for (what, source, class) in hostile {
        let err = eval(&lua, source).await;
        let ok = match (&err, class) {
            (Err(Error::Timeout { .. }), "timeout") => true,
            (Err(Error::LimitExceeded { .. }), "limit") => true,
            (Err(Error::Trap { message, .. }), "trap") => message.contains("boom"),
            _ => false,
        };
        checks.check(ok, format!("{what} ends in a {class} error: {err:?}"));
        let next = eval(&lua, &script(0)).await;
        checks.check(
            matches!(&next, Ok(s) if s == "clean"),
            format!("the script after {what} is clean: {next:?}"),
        );
    }

    // The control: the same scripts on reused instances do see each other's state.
    let reused = sandbox
        .load_with(
            guests::LUA_EVAL_WASM,
            LoadOptions::new()
                .name("lua-reused")
                .preinit(init)
                .isolation(Isolation::Reuse),
        )
        .await?;
    let started = Instant::now();
    let mut seen = 0;
    for source in &scripts[..200] {
        if eval(&reused, source).await? != "clean" {
            seen += 1;
        }
    }
    let reuse_time = started.elapsed();
    checks.check(
        seen > 100,
        format!("the control: on reused instances, {seen} of 200 scripts saw another's state"),
    );
    println!(
        "  {:.1} µs per script on a reused instance (fresh, 8 at a time: {:.1} µs)",
        reuse_time.as_secs_f64() * 1e6 / 200.0,
        fresh_time.as_secs_f64() * 1e6 / 1000.0
    );
    checks.check(
        sandbox.metrics().preinits == 1,
        "the second plugin of the same snapshot ran no init step: it came from the cache",
    );

    if checks.failed.is_empty() {
        println!("\nall checks passed");
        Ok(())
    } else {
        eprintln!(
            "\n{} check(s) failed: {:?}",
            checks.failed.len(),
            checks.failed
        );
        std::process::exit(1);
    }
}
