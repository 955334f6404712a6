//! Batched calls (`wasm-sandbox-batch`) on a real guest.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;

use wasm_sandbox::ModuleExecutor;
use wasm_sandbox_batch::{BatchConfig, BatchProcessor};
use wasm_sandbox_bench::{Goal, InputSize, Phase, compare};
use wasm_sandbox_core::{Module, Sandbox, SandboxConfig};

use super::{Ctx, RowResult, RowSet, Scale};
use crate::plain::BoxError;

/// The row sets of this section.
pub fn sets() -> Vec<RowSet> {
    vec![
        RowSet {
            id: "batch/workers",
            run: workers,
        },
        RowSet {
            id: "batch/guest-entry",
            run: guest_entry,
        },
    ]
}

fn abi_module() -> Result<Module, BoxError> {
    Ok(Sandbox::new(SandboxConfig::default())?.compile(wasm_sandbox_guests::ABI_WASM)?)
}

fn json_ints(n: usize) -> Bytes {
    serde_json::to_vec(&(0..n as i32).collect::<Vec<i32>>())
        .expect("ints encode")
        .into()
}

/// Submits `args` `calls` times through the processor and sums the lengths of the results.
///
/// Each result is used and dropped as it arrives, as the baselines drop each result after
/// the call (and as a server answers each request). Holding all of them until the last
/// arrives (`join_all`) keeps 256 results of 11 KB alive at once, and glibc then grows and
/// trims its heap every sample: about 380 page faults per sample, measured.
fn submit_all(
    rt: &tokio::runtime::Runtime,
    processor: &BatchProcessor<ModuleExecutor>,
    args: &Bytes,
    calls: usize,
) -> usize {
    use futures::StreamExt;
    rt.block_on(async {
        // Every call shares the one payload, as the sequential baseline reads the one buffer.
        let pending: futures::stream::FuturesUnordered<_> = (0..calls)
            .map(|_| processor.call_batched("process_batch", args.clone()))
            .collect();
        pending
            .fold(0, |total, r| async move {
                total + r.expect("batched call").len()
            })
            .await
    })
}

fn workers(ctx: &Ctx) -> RowResult {
    let module = abi_module()?;
    // Sustained load: four batches' worth of calls per sample, so the row measures throughput
    // rather than the start-up of one batch from idle threads.
    let calls: usize = ctx.pick(4, 256, 256);
    let batch_size: usize = ctx.pick(4, 64, 64);
    let args = json_ints(ctx.pick(10, 2000, 2000));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let processor = {
        let _guard = rt.enter();
        BatchProcessor::new(
            ModuleExecutor::new(module.clone()).with_batch_entry(false),
            BatchConfig::new()
                .workers(2)
                .batch_size(batch_size)
                .batch_timeout(Duration::from_millis(1)),
        )?
    };
    let mut inst = module.instantiate()?;
    let mut one_at_a_time = || {
        (0..calls)
            .map(|_| inst.call_bytes("process_batch", &args).expect("call").len())
            .sum::<usize>()
    };
    let kb = args.len() / 1024;
    let row = compare(
        "BatchProcessor 2 workers vs one at a time",
        &mut one_at_a_time,
        || submit_all(&rt, &processor, &args, calls),
        &ctx.config(Scale::Medium),
    )
    .with_names(
        "sequential Instance::call_bytes",
        "BatchProcessor, 2 workers",
    )
    .with_measures(format!(
        "{calls} calls of `process_batch` (ABI_WASM; JSON array of 2000 ints in, doubled out, \
         about {kb} KB each way) per sample: one after another on one instance, against \
         submitted together to a BatchProcessor (batch size {batch_size}, 2 worker threads \
         each owning an instance; the caller waits on a current-thread tokio runtime)."
    ))
    .with_goal(Goal::at_least(1.8));

    // The hardware's share: the same calls shared out by two plain threads, each with its own
    // instance, no processor in between. They take calls from one counter, as the workers take
    // chunks from one group, so a slower core (the vCPUs here are often unequal) does fewer.
    let (mut a, mut b) = (module.instantiate()?, module.instantiate()?);
    let mut two_threads = || {
        let next = AtomicUsize::new(0);
        let share = |inst: &mut wasm_sandbox_core::Instance| {
            let mut bytes = 0;
            while next.fetch_add(1, Ordering::Relaxed) < calls {
                bytes += inst.call_bytes("process_batch", &args).expect("call").len();
            }
            bytes
        };
        std::thread::scope(|s| {
            let other = s.spawn(|| share(&mut b));
            share(&mut a) + other.join().expect("thread")
        })
    };
    // All three ways answer the same calls with the same bytes.
    let expected = one_at_a_time();
    assert_eq!(two_threads(), expected);
    assert_eq!(submit_all(&rt, &processor, &args, calls), expected);
    let ceiling = compare(
        "2 plain threads vs one at a time",
        &mut one_at_a_time,
        &mut two_threads,
        &ctx.config(Scale::Medium),
    )
    .with_names("sequential Instance::call_bytes", "2 scoped threads")
    .with_measures(format!(
        "Attribution for the first row: the same {calls} calls shared out by two plain threads \
         (one spawned per sample) taking calls from one atomic counter, each with its own \
         instance, and no processor: how much two threads can gain on this machine at all."
    ));

    // What the processor keeps of that, measured head to head so that the machine's moods
    // (an unequal or stolen second vCPU) hit both sides of each round alike.
    let overhead = compare(
        "BatchProcessor vs 2 plain threads",
        &mut two_threads,
        || submit_all(&rt, &processor, &args, calls),
        &ctx.config(Scale::Medium),
    )
    .with_names("2 scoped threads", "BatchProcessor, 2 workers")
    .with_measures(format!(
        "The two rows above head to head: {calls} calls through the BatchProcessor (queueing, \
         flushing, chunking, answering through channels) against the same calls on two plain \
         threads. 1.00x means the processor costs nothing over the threads themselves."
    ));
    Ok([row, ceiling, overhead]
        .into_iter()
        .map(|r| {
            r.with_group("batch")
                .with_phase(Phase::Execution)
                .with_throughput(InputSize::Items(calls as u64))
        })
        .collect())
}

fn guest_entry(ctx: &Ctx) -> RowResult {
    let module = abi_module()?;
    // Sustained load, as in `batch/workers`: four batches per sample keep the workers busy,
    // so the row weighs the guest calls rather than waking parked workers (with one batch of
    // 256, a sample was about 250 µs and the row read 1.05-1.49 run to run).
    let calls: usize = ctx.pick(4, 1024, 1024);
    let batch: usize = ctx.pick(4, 256, 256);
    let args = json_ints(3);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let make = |batch_entry| {
        let _guard = rt.enter();
        BatchProcessor::new(
            ModuleExecutor::new(module.clone()).with_batch_entry(batch_entry),
            BatchConfig::new()
                .workers(2)
                .batch_size(batch)
                .batch_timeout(Duration::from_millis(1)),
        )
    };
    let per_call = make(false)?;
    let entry = make(true)?;
    assert_eq!(
        submit_all(&rt, &per_call, &args, calls),
        submit_all(&rt, &entry, &args, calls)
    );
    let row = compare(
        "guest batch entry point vs per-call",
        || submit_all(&rt, &per_call, &args, calls),
        || submit_all(&rt, &entry, &args, calls),
        &ctx.config(Scale::Medium),
    )
    .with_group("batch")
    .with_phase(Phase::Execution)
    .with_names(
        "BatchProcessor, one guest call per item",
        "BatchProcessor, process_batch__batch",
    )
    .with_throughput(InputSize::Items(calls as u64))
    .with_measures(format!(
        "{calls} small calls (`[0,1,2]` JSON) per sample, flushed as batches of {batch}, through \
         a BatchProcessor with 2 workers: each chunk a worker takes (shrinking from {} calls to \
         single ones, which skip it) runs \
         as one call of the guest's `process_batch__batch` (u32 LE count, then u32 LE length + \
         bytes per item; results as u8 status + u32 LE length + bytes), against one ABI call \
         per item.",
        batch.div_ceil(4)
    ));
    Ok(vec![row])
}
