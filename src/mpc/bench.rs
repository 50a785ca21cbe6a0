//! The per-protocol cost table: each protocol run once on a tensor of a given size, both
//! parties joined in this thread ([`super::harness`]), metered (rounds, online bytes each way,
//! offline bytes, measured compute) with LAN / WAN latency estimates. Runs natively and in wasm.
//!
//! Each protocol's file declares its rows (`BENCH`, a list of [`BenchCase`]s); [`CASES`] is the
//! registry of the engine's files, and `crate::secure::bench` adds the attention rows.
//!
//! Shapes for `size` elements ([`Dims`]): element-wise ops on `[size]`; row ops (max, softmax,
//! LayerNorm, ...) on `[size / L, L]` with `L = min(size, 64)`; matmul on `m x m` times `m x m`
//! with `m = floor(sqrt(size))`; attention heads on `(1, L, max(L / 4, 1))`.

use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

use super::harness::{self, Program};
use super::network::NetworkProfile;
use super::party::{ProtocolFamily, SessionConfig, SessionSeeds, TruncMode};
use super::prg::Prg;
use super::protocols as pr;
use crate::Result;

/// One row of the table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchRow {
    /// Protocol name.
    pub protocol: String,
    /// Input shape.
    pub shape: Vec<usize>,
    /// Communication rounds.
    pub rounds: u64,
    /// Online bytes party 0 -> party 1.
    pub bytes_p0_to_p1: u64,
    /// Online bytes party 1 -> party 0.
    pub bytes_p1_to_p0: u64,
    /// Offline bytes dealer -> parties.
    pub bytes_offline: u64,
    /// Measured local compute (the slower party), seconds.
    pub compute_s: f64,
    /// Estimated online latency on LAN, seconds.
    pub lan_s: f64,
    /// Estimated online latency on WAN, seconds.
    pub wan_s: f64,
}

/// A tensor shape of the table, as a function of the size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dims {
    /// `[size]`.
    Flat,
    /// `[size / L, L]`.
    Rows,
    /// `[L]` (one value per channel of a row).
    RowLen,
    /// `[m, m]`.
    Mat,
    /// `[1, L, d]` (one attention head).
    Head,
    /// `[d, L]` (a Linformer projection).
    Proj,
    /// `[1]`.
    One,
}

impl Dims {
    fn shape(self, size: usize) -> Vec<usize> {
        let size = size.max(1);
        let l = size.min(64);
        let m = ((size as f64).sqrt().floor() as usize).max(1);
        let d = (l / 4).max(1);
        match self {
            Dims::Flat => vec![size],
            Dims::Rows => vec![(size / l).max(1), l],
            Dims::RowLen => vec![l],
            Dims::Mat => vec![m, m],
            Dims::Head => vec![1, l, d],
            Dims::Proj => vec![d, l],
            Dims::One => vec![1],
        }
    }
}

/// One input of a [`BenchCase`]: its owner and shape, uniform in `[lo, hi)`.
#[derive(Clone, Copy, Debug)]
pub struct BenchInput {
    /// The party that shares it.
    pub owner: usize,
    /// Its shape.
    pub dims: Dims,
    /// Lower end of its values.
    pub lo: f64,
    /// Upper end of its values.
    pub hi: f64,
}

/// An input of `dims` owned by `owner`, uniform in `[lo, hi)`.
pub const fn input(owner: usize, dims: Dims, lo: f64, hi: f64) -> BenchInput {
    BenchInput {
        owner,
        dims,
        lo,
        hi,
    }
}

/// What a row of the table measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// The program (the inputs are shared before the meter starts).
    Program,
    /// The sharing of the inputs (the program is not counted).
    Sharing,
}

/// One row of the table: a protocol, its inputs and how to run it.
#[derive(Clone, Copy, Debug)]
pub struct BenchCase {
    /// The name in the table.
    pub name: &'static str,
    /// The shape the row reports.
    pub dims: Dims,
    /// The inputs, shared before the program runs.
    pub inputs: &'static [BenchInput],
    /// Truncation protocol of the session.
    pub trunc: TruncMode,
    /// What is measured.
    pub measure: Measure,
    /// The program on the shared inputs.
    pub program: Program,
}

impl BenchCase {
    /// A row measuring `program` on `inputs`, with local truncation.
    pub const fn new(
        name: &'static str,
        dims: Dims,
        inputs: &'static [BenchInput],
        program: Program,
    ) -> Self {
        BenchCase {
            name,
            dims,
            inputs,
            trunc: TruncMode::Local,
            measure: Measure::Program,
            program,
        }
    }
}

/// The registry of the engine's rows, in table order: one line per protocol file.
pub const CASES: &[&[BenchCase]] = &[
    pr::input::BENCH,
    pr::trunc::BENCH,
    pr::beaver::BENCH,
    pr::matmul::BENCH,
    pr::msb::BENCH,
    pr::b2a::BENCH,
    pr::relu::BENCH,
    pr::exp::BENCH,
    pr::reciprocal::BENCH,
    pr::gelu::BENCH,
    pr::layer_norm::BENCH,
    pr::softmax::BENCH,
    pr::l2_normalize::BENCH,
];

fn random(prg: &mut Prg, shape: &[usize], lo: f64, hi: f64) -> ArrayD<f64> {
    let n: usize = shape.iter().product();
    let v = (0..n)
        .map(|_| lo + (hi - lo) * (prg.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).expect("sized")
}

/// Runs one case on tensors of about `size` elements with the protocols of `family` (seeds
/// from the OS).
pub fn run_case(
    case: &BenchCase,
    size: usize,
    family: ProtocolFamily,
    prg: &mut Prg,
) -> Result<BenchRow> {
    let inputs: Vec<(usize, ArrayD<f64>)> = case
        .inputs
        .iter()
        .map(|i| (i.owner, random(prg, &i.dims.shape(size), i.lo, i.hi)))
        .collect();
    let cfg = SessionConfig {
        trunc: case.trunc,
        family,
        ..SessionConfig::default()
    };
    let o = harness::run(cfg, SessionSeeds::from_os()?, &inputs, case.program)?;
    let t = match case.measure {
        Measure::Program => o.joint.total(),
        Measure::Sharing => o.inputs.total(),
    };
    let (lan, wan) = (NetworkProfile::lan(), NetworkProfile::wan());
    Ok(BenchRow {
        protocol: case.name.to_string(),
        shape: case.dims.shape(size),
        rounds: t.rounds,
        bytes_p0_to_p1: t.sent,
        bytes_p1_to_p0: t.recv,
        bytes_offline: t.offline_bytes(),
        compute_s: t.compute_s,
        lan_s: t.estimate(&lan),
        wan_s: t.estimate(&wan),
    })
}

/// Runs every case of `registry` once on tensors of about `size` elements with `family`.
pub fn run_cases(
    registry: &[&[BenchCase]],
    size: usize,
    family: ProtocolFamily,
) -> Result<Vec<BenchRow>> {
    let mut prg = Prg::from_os()?;
    let mut rows = Vec::new();
    for case in registry.iter().flat_map(|c| c.iter()) {
        rows.push(run_case(case, size, family, &mut prg)?);
    }
    Ok(rows)
}

/// Runs every engine protocol once on tensors of about `size` elements with `family`.
pub fn run(size: usize, family: ProtocolFamily) -> Result<Vec<BenchRow>> {
    run_cases(CASES, size, family)
}

/// A fixed-width text table of `rows`.
pub fn format_table(rows: &[BenchRow]) -> String {
    let mut out = format!(
        "{:<28} {:>12} {:>6} {:>12} {:>12} {:>12} {:>10} {:>10} {:>10}\n",
        "protocol",
        "shape",
        "rounds",
        "KB p0->p1",
        "KB p1->p0",
        "KB offline",
        "compute ms",
        "LAN ms",
        "WAN ms"
    );
    for r in rows {
        let shape = r
            .shape
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("x");
        out += &format!(
            "{:<28} {:>12} {:>6} {:>12.2} {:>12.2} {:>12.2} {:>10.2} {:>10.2} {:>10.1}\n",
            r.protocol,
            shape,
            r.rounds,
            r.bytes_p0_to_p1 as f64 / 1e3,
            r.bytes_p1_to_p0 as f64 / 1e3,
            r.bytes_offline as f64 / 1e3,
            r.compute_s * 1e3,
            r.lan_s * 1e3,
            r.wan_s * 1e3,
        );
    }
    out
}
