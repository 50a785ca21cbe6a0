//! The per-protocol cost table of the whole system: the engine's rows
//! ([`crate::mpc::bench::CASES`]) and the attention rows that need the model's constants or
//! whole heads ([`CASES`]), in one run.

use crate::mpc::bench::{run_cases, BenchCase, BenchRow};
use crate::mpc::ProtocolFamily;
use crate::Result;

/// The registry of the attention rows: one line per file.
pub const CASES: &[&[BenchCase]] = &[super::attention::BENCH, super::heads::BENCH];

/// Runs every protocol once on tensors of about `size` elements with `family` (seeds from
/// the OS).
pub fn run(size: usize, family: ProtocolFamily) -> Result<Vec<BenchRow>> {
    let registry: Vec<&[BenchCase]> = crate::mpc::bench::CASES
        .iter()
        .chain(CASES)
        .copied()
        .collect();
    run_cases(&registry, size, family)
}
