//! The per-protocol cost table: each protocol run once on a tensor of a given size, both
//! parties joined in this thread, metered (rounds, online bytes each way, offline bytes,
//! measured compute) with LAN / WAN latency estimates. Runs natively and in wasm.
//!
//! Shapes for `size` elements: element-wise ops on `[size]`; row ops (max, softmax, LayerNorm,
//! ...) on `[size / L, L]` with `L = min(size, 64)`; matmul on `m x m` times `m x m` with
//! `m = floor(sqrt(size))`; attention heads on `(1, L, max(L / 4, 1))`.

use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

use super::exec::run_joined;
use super::meter::{NetworkProfile, Report};
use super::party::{local_pair_with, Party, SessionConfig, SessionSeeds, TruncMode};
use super::prg::Prg;
use super::protocols as pr;
use super::transport::mem_pair;
use crate::Result;

/// The normaliser's epsilon of the ReLU-Softmax (RSAttn) and 2Quad rows (the paper's 1e-8).
const RS_EPS: f64 = 1e-8;
/// The shift of the 2Quad row (MPCFormer's c = 5).
const TWO_QUAD_C: f64 = 5.0;

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
    /// Offline bytes dealer -> party 1.
    pub bytes_offline: u64,
    /// Measured local compute (the slower party), seconds.
    pub compute_s: f64,
    /// Estimated online latency on LAN, seconds.
    pub lan_s: f64,
    /// Estimated online latency on WAN, seconds.
    pub wan_s: f64,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    ShareP0,
    ShareP1,
    Reveal,
    TruncExact,
    Mul,
    Square,
    Matmul,
    Msb,
    B2a,
    Select,
    Relu,
    Relu6,
    Max,
    Exp,
    Reciprocal,
    Rsqrt,
    Gelu,
    LayerNorm,
    Softmax,
    RsAttn,
    Sparsemax,
    TwoQuad,
    L2Normalize,
    ScaleAttn,
    XNorm,
    Linformer,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::ShareP0 => "share_input (party 0)",
            Op::ShareP1 => "share_input (party 1)",
            Op::Reveal => "reveal",
            Op::TruncExact => "trunc (exact)",
            Op::Mul => "mul",
            Op::Square => "square",
            Op::Matmul => "matmul",
            Op::Msb => "msb",
            Op::B2a => "b2a",
            Op::Select => "select",
            Op::Relu => "relu",
            Op::Relu6 => "relu6",
            Op::Max => "max (last axis)",
            Op::Exp => "exp",
            Op::Reciprocal => "reciprocal",
            Op::Rsqrt => "rsqrt",
            Op::Gelu => "gelu",
            Op::LayerNorm => "layer_norm",
            Op::Softmax => "softmax",
            Op::RsAttn => "relu_softmax (RSAttn)",
            Op::Sparsemax => "sparsemax",
            Op::TwoQuad => "two_quad",
            Op::L2Normalize => "l2_normalize (XNorm rows)",
            Op::ScaleAttn => "scale_attn",
            Op::XNorm => "xnorm attention",
            Op::Linformer => "linformer attention",
        }
    }

    const ALL: [Op; 26] = [
        Op::ShareP0,
        Op::ShareP1,
        Op::Reveal,
        Op::TruncExact,
        Op::Mul,
        Op::Square,
        Op::Matmul,
        Op::Msb,
        Op::B2a,
        Op::Select,
        Op::Relu,
        Op::Relu6,
        Op::Max,
        Op::Exp,
        Op::Reciprocal,
        Op::Rsqrt,
        Op::Gelu,
        Op::LayerNorm,
        Op::Softmax,
        Op::RsAttn,
        Op::Sparsemax,
        Op::TwoQuad,
        Op::L2Normalize,
        Op::ScaleAttn,
        Op::XNorm,
        Op::Linformer,
    ];
}

/// An input: owner, shape, value.
type Input = (usize, Vec<usize>, Option<ArrayD<f64>>);

struct Shapes {
    flat: Vec<usize>,
    rows: Vec<usize>,
    mat: Vec<usize>,
    head: Vec<usize>,
    proj: Vec<usize>,
}

fn shapes(size: usize) -> Shapes {
    let size = size.max(1);
    let l = size.min(64);
    let m = ((size as f64).sqrt().floor() as usize).max(1);
    let d = (l / 4).max(1);
    Shapes {
        flat: vec![size],
        rows: vec![(size / l).max(1), l],
        mat: vec![m, m],
        head: vec![1, l, d],
        proj: vec![d, l],
    }
}

fn random(prg: &mut Prg, shape: &[usize], lo: f64, hi: f64) -> ArrayD<f64> {
    let n: usize = shape.iter().product();
    let v = (0..n)
        .map(|_| lo + (hi - lo) * (prg.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).expect("sized")
}

/// Shares `inputs` (owned by party 0; the last one by party 1 for ops with weights), resets the
/// meter, runs `op`.
async fn program(p: &mut Party, op: Op, inputs: &[Input]) -> Result<()> {
    let mut xs = Vec::new();
    for (owner, shape, v) in inputs {
        let v = if p.id() == *owner { v.as_ref() } else { None };
        if matches!(op, Op::ShareP0 | Op::ShareP1) {
            p.meter.reset();
        }
        xs.push(pr::share_input(p, *owner, v, shape).await?);
    }
    if matches!(op, Op::ShareP0 | Op::ShareP1) {
        return Ok(());
    }
    p.meter.reset();
    let x = &xs[0];
    match op {
        Op::ShareP0 | Op::ShareP1 => {}
        Op::Reveal => {
            pr::reveal(p, x).await?;
        }
        Op::TruncExact => {
            let f = p.fp().frac_bits;
            pr::trunc(p, x, f).await?;
        }
        Op::Mul => {
            pr::mul(p, x, &xs[1]).await?;
        }
        Op::Square => {
            pr::square(p, x).await?;
        }
        Op::Matmul => {
            pr::matmul(p, x, &xs[1]).await?;
        }
        Op::Msb => {
            pr::msb(p, x).await?;
        }
        Op::B2a => {
            let b = pr::msb(p, x).await?;
            p.meter.reset();
            pr::b2a(p, &b).await?;
        }
        Op::Select => {
            let b = pr::msb(p, x).await?;
            p.meter.reset();
            pr::select(p, &b, x, &xs[1]).await?;
        }
        Op::Relu => {
            pr::relu(p, x).await?;
        }
        Op::Relu6 => {
            pr::relu6(p, x).await?;
        }
        Op::Max => {
            pr::max_last(p, x).await?;
        }
        Op::Exp => {
            pr::exp(p, x).await?;
        }
        Op::Reciprocal => {
            pr::reciprocal(p, x).await?;
        }
        Op::Rsqrt => {
            pr::rsqrt(p, x).await?;
        }
        Op::Gelu => {
            pr::gelu(p, x).await?;
        }
        Op::LayerNorm => {
            pr::layer_norm(p, x, Some(&xs[1]), Some(&xs[2]), 1e-5).await?;
        }
        Op::Softmax => {
            pr::softmax(p, x).await?;
        }
        Op::RsAttn => {
            pr::relu_softmax(p, x, RS_EPS).await?;
        }
        Op::Sparsemax => {
            pr::sparsemax(p, x, pr::approx::SPARSEMAX_ITERS).await?;
        }
        Op::TwoQuad => {
            pr::two_quad(p, x, TWO_QUAD_C, RS_EPS).await?;
        }
        Op::L2Normalize => {
            pr::l2_normalize(p, x, 1e-6).await?;
        }
        Op::ScaleAttn => {
            let n = x.shape()[1] as f64;
            let d = x.shape()[2] as f64;
            pr::scale_attn(p, x, &xs[1], &xs[2], 1.0 / (n * d.sqrt())).await?;
        }
        Op::XNorm => {
            pr::xnorm(p, x, &xs[1], &xs[2], &xs[3], 1e-6).await?;
        }
        Op::Linformer => {
            let d = x.shape()[2] as f64;
            pr::linformer(p, x, &xs[1], &xs[2], &xs[3], &xs[4], 1.0 / d.sqrt()).await?;
        }
    }
    Ok(())
}

fn inputs_for(op: Op, s: &Shapes, prg: &mut Prg) -> (Vec<usize>, Vec<Input>) {
    let mut inp = |owner: usize, shape: &Vec<usize>, lo: f64, hi: f64| {
        (owner, shape.clone(), Some(random(prg, shape, lo, hi)))
    };
    match op {
        Op::ShareP0 => (s.flat.clone(), vec![inp(0, &s.flat, -4.0, 4.0)]),
        Op::ShareP1 => (s.flat.clone(), vec![inp(1, &s.flat, -4.0, 4.0)]),
        Op::Mul | Op::Select => (
            s.flat.clone(),
            vec![inp(0, &s.flat, -4.0, 4.0), inp(1, &s.flat, -4.0, 4.0)],
        ),
        Op::Matmul => (
            s.mat.clone(),
            vec![inp(0, &s.mat, -1.0, 1.0), inp(1, &s.mat, -1.0, 1.0)],
        ),
        Op::Reciprocal | Op::Rsqrt => (s.flat.clone(), vec![inp(0, &s.flat, 0.01, 100.0)]),
        Op::Exp => (s.flat.clone(), vec![inp(0, &s.flat, -8.0, 0.0)]),
        Op::Max | Op::Softmax | Op::RsAttn | Op::Sparsemax | Op::TwoQuad | Op::L2Normalize => {
            (s.rows.clone(), vec![inp(0, &s.rows, -4.0, 4.0)])
        }
        Op::LayerNorm => {
            let c = vec![s.rows[1]];
            (
                s.rows.clone(),
                vec![
                    inp(0, &s.rows, -4.0, 4.0),
                    inp(1, &c, 0.5, 1.5),
                    inp(1, &c, -0.5, 0.5),
                ],
            )
        }
        Op::ScaleAttn => (
            s.head.clone(),
            vec![
                inp(0, &s.head, -1.0, 1.0),
                inp(0, &s.head, -1.0, 1.0),
                inp(0, &s.head, -1.0, 1.0),
            ],
        ),
        Op::XNorm => (
            s.head.clone(),
            vec![
                inp(0, &s.head, -1.0, 1.0),
                inp(0, &s.head, -1.0, 1.0),
                inp(0, &s.head, -1.0, 1.0),
                inp(1, &vec![1], 0.5, 1.5),
            ],
        ),
        Op::Linformer => (
            s.head.clone(),
            vec![
                inp(0, &s.head, -1.0, 1.0),
                inp(0, &s.head, -1.0, 1.0),
                inp(0, &s.head, -1.0, 1.0),
                inp(1, &s.proj, -0.3, 0.3),
                inp(1, &s.proj, -0.3, 0.3),
            ],
        ),
        _ => (s.flat.clone(), vec![inp(0, &s.flat, -4.0, 4.0)]),
    }
}

/// Runs every protocol once on tensors of about `size` elements (seeds from the OS).
pub fn run(size: usize) -> Result<Vec<BenchRow>> {
    let s = shapes(size);
    let mut prg = Prg::from_os()?;
    let (lan, wan) = (NetworkProfile::lan(), NetworkProfile::wan());
    let mut rows = Vec::new();
    for op in Op::ALL {
        let cfg = SessionConfig {
            trunc: if matches!(op, Op::TruncExact) {
                TruncMode::Exact
            } else {
                TruncMode::Local
            },
            ..SessionConfig::default()
        };
        let (shape, inputs) = inputs_for(op, &s, &mut prg);
        let (a, b) = mem_pair();
        let (mut p0, mut p1) =
            local_pair_with(cfg, SessionSeeds::from_os()?, Box::new(a), Box::new(b))?;
        run_joined(program(&mut p0, op, &inputs), program(&mut p1, op, &inputs))?;
        let t = Report::joint(&p0.meter.report(), &p1.meter.report()).total();
        rows.push(BenchRow {
            protocol: op.name().to_string(),
            shape,
            rounds: t.rounds,
            bytes_p0_to_p1: t.sent,
            bytes_p1_to_p0: t.recv,
            bytes_offline: t.offline_bytes(),
            compute_s: t.compute_s,
            lan_s: t.estimate(&lan),
            wan_s: t.estimate(&wan),
        });
    }
    Ok(rows)
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
