//! [`TieringPolicy`]: where a module starts and when it tiers up.

use std::time::Duration;

use wasm_sandbox_core::Tier;

/// When a module leaves a tier: after `calls` calls of one export on that tier,
/// and no sooner than `min_interval` after the last tier change.
///
/// Both must hold. The call count is per export (the hottest export decides,
/// like V8's per-function budgets), the tier-up is per module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Threshold {
    /// Calls of one export since the last tier change.
    pub calls: u64,
    /// Time since the last tier change (or since the module was built).
    pub min_interval: Duration,
}

impl Threshold {
    /// A threshold of `calls` calls and `min_interval` since the last tier change.
    pub const fn new(calls: u64, min_interval: Duration) -> Self {
        Threshold {
            calls,
            min_interval,
        }
    }

    /// Met at once: the tier-up is queued when the module is built.
    pub const IMMEDIATE: Threshold = Threshold::new(0, Duration::ZERO);

    /// True when a tier-up is due at construction time.
    pub(crate) fn is_immediate(&self) -> bool {
        self.calls == 0 && self.min_interval.is_zero()
    }
}

/// How tier-ups proceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum TierUpMode {
    /// Never tier up: the module stays on its start tier.
    Fixed,
    /// One tier at a time, each step with its own threshold (the seed's
    /// Interpreter → Baseline → Optimized → HighlyOptimized).
    Stepwise,
    /// One background compile, from the start tier straight to the top tier,
    /// once the given threshold is met.
    StraightToTop(Threshold),
}

/// Where a [`TieredModule`](crate::TieredModule) starts, how high it may go,
/// and when it tiers up.
///
/// ```
/// use std::time::Duration;
/// use wasm_sandbox_core::Tier;
/// use wasm_sandbox_tiering::{Threshold, TieringPolicy};
///
/// // The seed's thresholds, starting on Winch.
/// let policy = TieringPolicy::default();
/// assert_eq!(policy.start_tier(), Tier::Baseline);
/// assert_eq!(policy.threshold(Tier::Baseline), Some(Threshold::new(1_000, Duration::from_millis(100))));
///
/// // Liftoff then TurboFan: Winch first, Cranelift in the background right away.
/// let eager = TieringPolicy::straight_to_top();
/// assert_eq!(eager.top_tier(), Tier::HighlyOptimized);
///
/// // Tests and latency-insensitive services: compile once, never tier up.
/// let fixed = TieringPolicy::fixed(Tier::HighlyOptimized);
/// assert_eq!(fixed.threshold(Tier::HighlyOptimized), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TieringPolicy {
    start: Tier,
    top: Tier,
    mode: TierUpMode,
    /// Thresholds to leave Interpreter, Baseline and Optimized (stepwise mode).
    steps: [Threshold; 3],
}

impl Default for TieringPolicy {
    /// [`TieringPolicy::stepwise`].
    fn default() -> Self {
        Self::stepwise()
    }
}

impl TieringPolicy {
    /// The seed's thresholds: Interpreter → Baseline at 100 calls and 10 ms,
    /// Baseline → Optimized at 1,000 calls and 100 ms, Optimized →
    /// HighlyOptimized at 10,000 calls and 1 s. Starts on
    /// [`Tier::Baseline`]; the top tier is [`Tier::HighlyOptimized`].
    pub fn stepwise() -> Self {
        TieringPolicy {
            start: Tier::Baseline,
            top: Tier::HighlyOptimized,
            mode: TierUpMode::Stepwise,
            steps: [
                Threshold::new(100, Duration::from_millis(10)),
                Threshold::new(1_000, Duration::from_millis(100)),
                Threshold::new(10_000, Duration::from_secs(1)),
            ],
        }
    }

    /// Start on [`Tier::Baseline`] and queue one background compile at the top
    /// tier as soon as the module is built ([`Threshold::IMMEDIATE`]): the
    /// first calls run on Winch, every later call on Cranelift. Use
    /// [`TieringPolicy::straight_to_top_after`] to wait for a threshold first.
    pub fn straight_to_top() -> Self {
        Self::straight_to_top_after(Threshold::IMMEDIATE)
    }

    /// Start on [`Tier::Baseline`] and go straight to the top tier in one
    /// background compile once `threshold` is met.
    pub fn straight_to_top_after(threshold: Threshold) -> Self {
        TieringPolicy {
            mode: TierUpMode::StraightToTop(threshold),
            ..Self::stepwise()
        }
    }

    /// Compile on `tier` only and never tier up.
    pub fn fixed(tier: Tier) -> Self {
        TieringPolicy {
            start: tier,
            top: tier,
            mode: TierUpMode::Fixed,
            ..Self::stepwise()
        }
    }

    /// Sets the tier compiled synchronously at construction. Default:
    /// [`Tier::Baseline`] (or the tier given to [`TieringPolicy::fixed`]).
    /// A cached higher tier, or a start tier that cannot honour the sandbox's
    /// limits, can make the module start higher (see [`crate::supports`]).
    pub fn start(mut self, tier: Tier) -> Self {
        self.start = tier;
        if self.top < tier {
            self.top = tier;
        }
        self
    }

    /// Sets the highest tier a tier-up may reach. Default:
    /// [`Tier::HighlyOptimized`].
    pub fn top(mut self, tier: Tier) -> Self {
        self.top = tier;
        if self.start > tier {
            self.start = tier;
        }
        self
    }

    /// Sets the threshold for leaving `from` in stepwise mode (for
    /// [`TierUpMode::StraightToTop`], it sets that mode's one threshold
    /// whatever `from` is). Leaving [`Tier::HighlyOptimized`] is not a thing:
    /// that call is ignored.
    pub fn threshold_from(mut self, from: Tier, threshold: Threshold) -> Self {
        match (&mut self.mode, step_index(from)) {
            (TierUpMode::StraightToTop(t), _) => *t = threshold,
            (_, Some(i)) => self.steps[i] = threshold,
            (_, None) => {}
        }
        self
    }

    /// Replaces every threshold with `threshold` (handy in tests).
    pub fn all_thresholds(mut self, threshold: Threshold) -> Self {
        self.steps = [threshold; 3];
        if let TierUpMode::StraightToTop(t) = &mut self.mode {
            *t = threshold;
        }
        self
    }

    /// The start tier.
    pub fn start_tier(&self) -> Tier {
        self.start
    }

    /// The highest tier a tier-up may reach.
    pub fn top_tier(&self) -> Tier {
        self.top
    }

    /// How tier-ups proceed.
    pub fn mode(&self) -> TierUpMode {
        self.mode
    }

    /// The threshold for leaving `tier`, or `None` if the module never leaves
    /// it (fixed policy, or `tier` is at or above the top tier).
    pub fn threshold(&self, tier: Tier) -> Option<Threshold> {
        if tier >= self.top {
            return None;
        }
        match self.mode {
            TierUpMode::Fixed => None,
            TierUpMode::Stepwise => step_index(tier).map(|i| self.steps[i]),
            TierUpMode::StraightToTop(t) => Some(t),
        }
    }

    /// The tier a tier-up from `tier` aims for, before skipping tiers that
    /// cannot run the sandbox: the next tier (stepwise) or the top tier.
    pub(crate) fn target_after(&self, tier: Tier) -> Option<Tier> {
        self.threshold(tier)?;
        match self.mode {
            TierUpMode::Fixed => None,
            TierUpMode::Stepwise => next_tier(tier).filter(|t| *t <= self.top),
            TierUpMode::StraightToTop(_) => Some(self.top),
        }
    }
}

fn step_index(tier: Tier) -> Option<usize> {
    match tier {
        Tier::Interpreter => Some(0),
        Tier::Baseline => Some(1),
        Tier::Optimized => Some(2),
        Tier::HighlyOptimized => None,
    }
}

/// The tier above `tier`, if any.
pub(crate) fn next_tier(tier: Tier) -> Option<Tier> {
    Tier::ALL.into_iter().find(|t| *t > tier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_thresholds() {
        let p = TieringPolicy::default();
        assert_eq!(p.threshold(Tier::Interpreter).unwrap().calls, 100);
        assert_eq!(
            p.threshold(Tier::Optimized).unwrap().min_interval,
            Duration::from_secs(1)
        );
        assert_eq!(p.threshold(Tier::HighlyOptimized), None);
        assert_eq!(p.target_after(Tier::Baseline), Some(Tier::Optimized));
    }

    #[test]
    fn straight_to_top_targets_the_top() {
        let p = TieringPolicy::straight_to_top();
        assert_eq!(p.target_after(Tier::Baseline), Some(Tier::HighlyOptimized));
        assert!(p.threshold(Tier::Baseline).unwrap().is_immediate());
        let p = p.top(Tier::Optimized);
        assert_eq!(p.target_after(Tier::Baseline), Some(Tier::Optimized));
        assert_eq!(p.target_after(Tier::Optimized), None);
    }

    #[test]
    fn fixed_never_moves() {
        for tier in Tier::ALL {
            let p = TieringPolicy::fixed(tier);
            assert_eq!(p.start_tier(), tier);
            assert_eq!(p.target_after(tier), None);
        }
    }

    #[test]
    fn start_and_top_stay_ordered() {
        let p = TieringPolicy::stepwise()
            .top(Tier::Baseline)
            .start(Tier::Optimized);
        assert!(p.start_tier() <= p.top_tier());
        let p = TieringPolicy::stepwise()
            .start(Tier::Optimized)
            .top(Tier::Interpreter);
        assert!(p.start_tier() <= p.top_tier());
    }
}
