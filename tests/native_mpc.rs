//! End-to-end tests of the 2PC engine (`mpcvit::mpc`): every protocol against plaintext on
//! random and edge inputs with its stated error bound, the exact round / byte counts of every
//! protocol against its documented formula (`mpc::protocols::cost`), a statistical audit of
//! the messages each party receives, transport failures, the dealer running ahead, TCP and the
//! shaped transport. Both parties run joined in one thread unless stated.

use std::cell::RefCell;
use std::rc::Rc;

use futures::future::LocalBoxFuture;
use mpcvit::model::Attention;
use mpcvit::mpc::dealer::Dealer;
use mpcvit::mpc::exec::{block_on_local, run_joined};
use mpcvit::mpc::harness::{self, Outcome};
use mpcvit::mpc::protocols as pr;
use mpcvit::mpc::protocols::b2a::bit_mul_cost;
use mpcvit::mpc::protocols::beaver::{mul_cost, square_cost};
use mpcvit::mpc::protocols::cost::Cost;
use mpcvit::mpc::protocols::exp::exp_cost;
use mpcvit::mpc::protocols::gelu::{gelu_cost, gelu_relu_cost};
use mpcvit::mpc::protocols::input::{reveal_cost, reveal_to_cost, share_input_cost};
use mpcvit::mpc::protocols::l2_normalize::l2_normalize_cost;
use mpcvit::mpc::protocols::layer_norm::layer_norm_cost;
use mpcvit::mpc::protocols::matmul::matmul_cost;
use mpcvit::mpc::protocols::msb::msb_cost;
use mpcvit::mpc::protocols::reciprocal::{divide_cost, reciprocal_cost, rsqrt_cost};
use mpcvit::mpc::protocols::relu::{max_last_cost, relu6_cost, relu_cost};
use mpcvit::mpc::protocols::softmax::{
    relu_softmax_cost, softmax_cost, sparsemax_cost, two_quad_cost, SPARSEMAX_ITERS,
};
use mpcvit::mpc::transport::{mem_pair, ChannelTransport, Recording, HEADER_LEN};
use mpcvit::mpc::{
    local_pair_with, ArithShare, DealerClient, FixedPoint, Party, Prg, ProtocolFamily, Report,
    SessionConfig, SessionSeeds, Stats, Transport, TruncMode,
};
use mpcvit::secure::attention::attention_map;
use mpcvit::secure::heads::{
    self, linformer_cost, scale_attn_cost, scale_attn_reassociates, xnorm_cost,
};
use mpcvit::{Error, Result};
use ndarray::{ArrayD, Axis, IxDyn};

// ---------------------------------------------------------------------------------------------
// Harness

type Op = harness::Program;

fn cfg(mode: TruncMode) -> SessionConfig {
    SessionConfig {
        fixed: FixedPoint::default(),
        trunc: mode,
        ..SessionConfig::default()
    }
}

fn pair_seeded(mode: TruncMode, seed: u64) -> (Party, Party) {
    let (a, b) = mem_pair();
    local_pair_with(
        cfg(mode),
        SessionSeeds::insecure_fixed(seed),
        Box::new(a),
        Box::new(b),
    )
    .unwrap()
}

/// Two parties of `family` with truncation `mode` over an in-memory transport.
fn family_pair(family: ProtocolFamily, mode: TruncMode, seed: u64) -> (Party, Party) {
    let session = SessionConfig {
        family,
        ..cfg(mode)
    };
    let (a, b) = mem_pair();
    local_pair_with(
        session,
        SessionSeeds::insecure_fixed(seed),
        Box::new(a),
        Box::new(b),
    )
    .unwrap()
}

fn run_op_seeded(mode: TruncMode, seed: u64, inputs: &[(usize, ArrayD<f64>)], op: Op) -> Outcome {
    harness::run(cfg(mode), SessionSeeds::insecure_fixed(seed), inputs, op).unwrap()
}

fn run_op(mode: TruncMode, inputs: &[(usize, ArrayD<f64>)], op: Op) -> Outcome {
    run_op_seeded(mode, 7, inputs, op)
}

fn as_cost(s: &Stats) -> Cost {
    Cost {
        rounds: s.rounds,
        p0_to_p1: s.sent,
        p1_to_p0: s.recv,
        offline: s.offline_recv,
        ..Cost::default()
    }
}

fn assert_cost(name: &str, o: &Outcome, want: Cost) {
    let got = as_cost(&o.joint.total());
    if got != want {
        for r in &o.joint.rows {
            eprintln!("{:?} {:?} {:?}", r.labels, r.ops, as_cost(&r.stats));
        }
    }
    assert_eq!(
        got, want,
        "{name}: metered cost differs from the documented formula"
    );
}

fn fp() -> FixedPoint {
    FixedPoint::default()
}

/// The value the protocol actually receives: the input rounded to fixed point.
fn quant(x: &ArrayD<f64>) -> ArrayD<f64> {
    let f = fp();
    x.mapv(|v| f.decode(f.encode(v)))
}

fn uniform(prg: &mut Prg, shape: &[usize], lo: f64, hi: f64) -> ArrayD<f64> {
    let n: usize = shape.iter().product();
    let v = (0..n)
        .map(|_| lo + (hi - lo) * (prg.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

fn log_uniform(prg: &mut Prg, shape: &[usize], lo: f64, hi: f64) -> ArrayD<f64> {
    uniform(prg, shape, lo.ln(), hi.ln()).mapv(f64::exp)
}

fn arr(v: &[f64]) -> ArrayD<f64> {
    ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.to_vec()).unwrap()
}

fn prg(n: u64) -> Prg {
    Prg::new(mpcvit::mpc::Seed::insecure_fixed(1000 + n))
}

fn max_abs_err(a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn max_rel_err(a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| ((x - y) / y).abs())
        .fold(0.0, f64::max)
}

fn rows_map(x: &ArrayD<f64>, f: impl Fn(&[f64]) -> Vec<f64>) -> ArrayD<f64> {
    let last = x.ndim() - 1;
    let mut out = x.clone();
    for (mut o, r) in out
        .lanes_mut(Axis(last))
        .into_iter()
        .zip(x.lanes(Axis(last)))
    {
        let v = f(&r.to_vec());
        for (a, b) in o.iter_mut().zip(v) {
            *a = b;
        }
    }
    out
}

fn gelu_tanh(x: f64) -> f64 {
    0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh())
}

const MODES: [TruncMode; 2] = [TruncMode::Local, TruncMode::Exact];

// ---------------------------------------------------------------------------------------------
// Sharing, reveal, linear ops, multiplication

#[test]
fn input_sharing_and_reveal_counts() {
    let x = arr(&[0.0, -1.5, 3.25, 1000.0, -40000.0]);
    for owner in [0usize, 1] {
        let (mut p0, mut p1) = pair_seeded(TruncMode::Local, 1);
        let prog = async |p: &mut Party, x: ArrayD<f64>| {
            let mine = if p.id() == owner { Some(x) } else { None };
            {
                let s = pr::share_input(p, owner, mine.as_ref(), &[5]).await?;
                let share_cost = p.meter.report();
                p.meter.reset();
                let both = pr::reveal(p, &s).await?;
                let r_both = p.meter.report();
                p.meter.reset();
                let to1 = pr::reveal_to(p, &s, 1).await?;
                let r_to1 = p.meter.report();
                Ok::<_, Error>((both, to1, share_cost, r_both, r_to1))
            }
        };
        let (a, b) = run_joined(prog(&mut p0, x.clone()), prog(&mut p1, x.clone())).unwrap();
        assert_eq!(a.0, x);
        assert_eq!(b.0, x);
        assert!(a.1.is_none());
        assert_eq!(b.1.as_ref().unwrap(), &x);
        let c = |i: usize| -> Cost {
            let (ra, rb) = match i {
                0 => (&a.2, &b.2),
                1 => (&a.3, &b.3),
                _ => (&a.4, &b.4),
            };
            as_cost(&Report::joint(ra, rb).total())
        };
        assert_eq!(c(0), share_input_cost(owner, 5));
        assert_eq!(c(1), reveal_cost(5));
        assert_eq!(c(2), reveal_to_cost(1, 5));
    }
}

#[test]
fn fixed_operand_products_match_plaintext_and_their_formulas() {
    use mpcvit::mpc::protocols::fixed_matmul::{
        fix_operands_cost, input_matmul_fixed_cost, matmul_fixed_cost,
    };
    let mut g = prg(5);
    let w1 = uniform(&mut g, &[4, 5], -3.0, 3.0);
    let w2 = uniform(&mut g, &[4, 3], -3.0, 3.0);
    let mut x = uniform(&mut g, &[2, 3, 4], -3.0, 3.0);
    // Edges: zeros, negatives, the largest magnitudes local truncation is documented for.
    x[[0, 0, 0]] = 0.0;
    x[[0, 0, 1]] = -90.0;
    x[[1, 2, 3]] = 90.0;
    let xin = uniform(&mut g, &[3, 4], 0.0, 1.0);
    let plain = |a: &ArrayD<f64>, w: &ArrayD<f64>| -> ArrayD<f64> {
        let (m, k) = (a.shape()[a.ndim() - 2], a.shape()[a.ndim() - 1]);
        let c = w.shape()[1];
        let b = a.len() / (m * k);
        let a3 = quant(a).into_shape_with_order((b, m, k)).unwrap();
        let wq = quant(w);
        let mut out = ArrayD::zeros(IxDyn(&[b, m, c]));
        for bi in 0..b {
            for i in 0..m {
                for j in 0..c {
                    out[[bi, i, j]] = (0..k).map(|t| a3[[bi, i, t]] * wq[[t, j]]).sum();
                }
            }
        }
        let mut shape = a.shape()[..a.ndim() - 1].to_vec();
        shape.push(c);
        out.into_shape_with_order(IxDyn(&shape)).unwrap()
    };
    for family in [ProtocolFamily::Classic, ProtocolFamily::Fss] {
        for mode in MODES {
            let (mut p0, mut p1) = family_pair(family, mode, 3);
            let prog = async |p: &mut Party| {
                let server = p.id() == 1;
                let shapes: [&[usize]; 2] = [&[4, 5], &[4, 3]];
                let ops = pr::fix_operands(
                    p,
                    &[
                        (shapes[0], server.then_some(&w1)),
                        (shapes[1], server.then_some(&w2)),
                    ],
                )
                .await?;
                let mut costs = vec![p.meter.report()];
                p.meter.reset();
                let z0 =
                    pr::input_matmul_fixed(p, (!server).then_some(&xin), &[3, 4], &ops[0]).await?;
                costs.push(p.meter.report());
                let xs = pr::share_input(p, 0, (!server).then_some(&x), &[2, 3, 4]).await?;
                p.meter.reset();
                let z12 = pr::matmul_fixed_many(p, &[(&xs, &ops[0]), (&xs, &ops[1])]).await?;
                costs.push(p.meter.report());
                // The same operand again: its mask is reused behind a fresh triple.
                let z3 = pr::matmul_fixed(p, &xs, &ops[0]).await?;
                let mut out = Vec::new();
                for z in [&z0, &z12[0], &z12[1], &z3] {
                    out.push(pr::reveal(p, z).await?);
                }
                Ok::<_, Error>((out, costs))
            };
            let (r0, r1) = run_joined(prog(&mut p0), prog(&mut p1)).unwrap();
            let what = format!("{family:?} {mode:?}");
            let wants = [
                plain(&xin, &w1),
                plain(&x, &w1),
                plain(&x, &w2),
                plain(&x, &w1),
            ];
            for (i, want) in wants.iter().enumerate() {
                assert_eq!(r0.0[i].shape(), want.shape(), "{what}: product {i}");
                assert_eq!(r0.0[i], r1.0[i]);
                assert!(
                    max_abs_err(&r0.0[i], want) <= 1.5 * fp().ulp(),
                    "{what}: product {i} off by {}",
                    max_abs_err(&r0.0[i], want)
                );
            }
            let cost = |i: usize| as_cost(&Report::joint(&r0.1[i], &r1.1[i]).total());
            assert_eq!(cost(0), fix_operands_cost(20 + 12), "{what}: set-up");
            assert_eq!(
                cost(1),
                input_matmul_fixed_cost(mode, 1, 3, 4, 5),
                "{what}: input"
            );
            assert_eq!(
                cost(2),
                matmul_fixed_cost(mode, &[(2, 3, 4, 5), (2, 3, 4, 3)]),
                "{what}: products"
            );
        }
    }
}

#[test]
fn fixed_operands_reject_bad_shapes_and_missing_inputs() {
    let w = arr(&[1.0, 2.0]);
    let w21 = ArrayD::from_shape_vec(IxDyn(&[2, 1]), vec![1.0, 2.0]).unwrap();
    let fix = |shape: &'static [usize], value: &ArrayD<f64>, supply: bool| {
        let (mut p0, mut p1) = pair_seeded(TruncMode::Local, 2);
        let prog = async |p: &mut Party| {
            let v = (p.id() == 1 && supply).then_some(value);
            pr::fix_operands(p, &[(shape, v)]).await.map(|_| ())
        };
        run_joined(prog(&mut p0), prog(&mut p1))
    };
    let is_shape = |r: Result<((), ())>, what: &str| match r {
        Err(Error::ShapeMismatch { op, .. }) => assert_eq!(op, "fix_operands", "{what}"),
        other => panic!("{what}: expected a shape error, got {other:?}"),
    };
    is_shape(fix(&[2], &w, true), "not a matrix");
    is_shape(
        fix(&[1, 3], &w21, true),
        "declared shape differs from the value's",
    );
    is_shape(fix(&[2, 1], &w21, false), "the server supplies no weight");
    fix(&[2, 1], &w21, true).unwrap();

    // A product whose inner dimension is not the operand's rows, and a missing image.
    for missing_input in [false, true] {
        let (mut p0, mut p1) = pair_seeded(TruncMode::Local, 2);
        let prog = async |p: &mut Party| {
            let ops = pr::fix_operands(p, &[(&[2, 1], (p.id() == 1).then_some(&w21))]).await?;
            if missing_input {
                pr::input_matmul_fixed(p, None, &[3, 2], &ops[0])
                    .await
                    .map(|_| ())
            } else {
                let x = ArithShare::zeros(&[3, 4]);
                pr::matmul_fixed(p, &x, &ops[0]).await.map(|_| ())
            }
        };
        match run_joined(prog(&mut p0), prog(&mut p1)) {
            Err(Error::ShapeMismatch { op, .. }) => {
                assert!(op.ends_with("matmul_fixed"), "{op}")
            }
            other => panic!("expected a shape error, got {other:?}"),
        }
    }
}

#[test]
fn local_linear_ops() {
    let x = arr(&[1.0, -2.0, 3.5]);
    let o = run_op(TruncMode::Local, &[(0, x.clone())], |p, xs| {
        Box::pin(async move {
            let c = pr::add_const(p, &xs[0], 0.5);
            let c = pr::add_public(p, &c, &arr(&[1.0, 1.0, 1.0]))?;
            let c = c.sub(&xs[0].neg())?; // x + 1.5 + x
            pr::scale(p, &c, -0.25).await
        })
    });
    let want = x.mapv(|v| (2.0 * v + 1.5) * -0.25);
    assert!(max_abs_err(&o.out, &want) <= 2.0 * fp().ulp());
    assert_cost("scale", &o, Cost::default());
}

#[test]
fn mul_square_matmul_accuracy_and_counts() {
    for mode in MODES {
        mul_square_matmul_case(mode);
    }
}

fn mul_square_matmul_case(mode: TruncMode) {
    let mut g = prg(1);
    // Random, then edge values: zeros, negatives, large magnitudes. Exact truncation takes
    // products near 2^29 (ring values near 2^61). Local truncation fails with probability
    // about |xy| 2^(2F) / 2^63 per element (25% at 2^29: its documented domain is products far
    // below 2^31), so its large edges stop at products of 2^15 (failure 2^-16 per element).
    let mut xv = uniform(&mut g, &[6, 8], -10.0, 10.0);
    let mut yv = uniform(&mut g, &[6, 8], -10.0, 10.0);
    let big = match mode {
        TruncMode::Exact => [(-1000.0, 999.5), (20000.0, -20000.0), (23170.0, 23170.0)],
        TruncMode::Local => [(-181.0, 180.5), (150.0, -150.0), (181.0, 181.0)],
    };
    let edges = [
        (0.0, 5.0),
        (-3.0, 0.0),
        big[0],
        big[1],
        big[2],
        (-0.5, -0.5),
    ];
    for (i, (a, b)) in edges.iter().enumerate() {
        xv[[0, i]] = *a;
        yv[[0, i]] = *b;
    }
    let (xq, yq) = (quant(&xv), quant(&yv));
    let o = run_op(mode, &[(0, xv.clone()), (1, yv.clone())], |p, xs| {
        Box::pin(async move { pr::mul(p, &xs[0], &xs[1]).await })
    });
    let want = &xq * &yq;
    assert!(
        max_abs_err(&o.out, &want) <= 1.5 * fp().ulp(),
        "mul {mode:?}"
    );
    assert_cost("mul", &o, mul_cost(mode, 48, 48));

    // Broadcast: (6, 8) * (8,) weights.
    let w = uniform(&mut g, &[8], -2.0, 2.0);
    let o = run_op(mode, &[(0, xv.clone()), (1, w.clone())], |p, xs| {
        Box::pin(async move { pr::mul(p, &xs[0], &xs[1]).await })
    });
    let want = &xq * &quant(&w);
    assert!(max_abs_err(&o.out, &want) <= 1.5 * fp().ulp());
    assert_cost("mul broadcast", &o, mul_cost(mode, 48, 8));

    let o = run_op(mode, &[(0, xv.clone())], |p, xs| {
        Box::pin(async move { pr::square(p, &xs[0]).await })
    });
    assert!(max_abs_err(&o.out, &(&xq * &xq)) <= 1.5 * fp().ulp());
    assert_cost("square", &o, square_cost(mode, 48));

    // Batched matmul (2, 3, 4) x (4, 5) weights, and (2,3,4) x (2,4,5).
    let a = uniform(&mut g, &[2, 3, 4], -3.0, 3.0);
    let b = uniform(&mut g, &[4, 5], -3.0, 3.0);
    let b3 = uniform(&mut g, &[2, 4, 5], -3.0, 3.0);
    let o = run_op(mode, &[(0, a.clone()), (1, b.clone())], |p, xs| {
        Box::pin(async move { pr::matmul(p, &xs[0], &xs[1]).await })
    });
    let (aq, bq) = (quant(&a), quant(&b));
    let mut want = ArrayD::zeros(IxDyn(&[2, 3, 5]));
    for bi in 0..2 {
        for i in 0..3 {
            for j in 0..5 {
                want[[bi, i, j]] = (0..4).map(|t| aq[[bi, i, t]] * bq[[t, j]]).sum();
            }
        }
    }
    assert!(max_abs_err(&o.out, &want) <= 1.5 * fp().ulp(), "matmul");
    assert_cost("matmul", &o, matmul_cost(mode, 2, 1, 3, 4, 5));
    let o = run_op(mode, &[(0, a.clone()), (0, b3.clone())], |p, xs| {
        Box::pin(async move { pr::matmul(p, &xs[0], &xs[1]).await })
    });
    let b3q = quant(&b3);
    for bi in 0..2 {
        for i in 0..3 {
            for j in 0..5 {
                let w: f64 = (0..4).map(|t| aq[[bi, i, t]] * b3q[[bi, t, j]]).sum();
                assert!((o.out[[bi, i, j]] - w).abs() <= 1.5 * fp().ulp());
            }
        }
    }
    assert_cost("batched matmul", &o, matmul_cost(mode, 2, 2, 3, 4, 5));
}

#[test]
fn exact_truncation_near_the_range_limit() {
    // Ring values up to 2^61 (2F-bit products of magnitude 2^29) truncate exactly.
    let f = fp();
    let vals: Vec<u64> = [
        0i64,
        1,
        -1,
        1 << 40,
        -(1 << 40),
        (1 << 61) - 7,
        -(1 << 61) + 3,
        123_456_789_012,
    ]
    .iter()
    .map(|&v| v as u64)
    .collect();
    let (mut p0, mut p1) = pair_seeded(TruncMode::Exact, 3);
    let input = ArrayD::from_shape_vec(IxDyn(&[vals.len()]), vals.clone()).unwrap();
    let prog = async |p: &mut Party| {
        let input = input.clone();
        {
            let mine = if p.id() == 0 { Some(&input) } else { None };
            let s = pr::share_input_ring(p, 0, mine, &[8]).await?;
            let t = pr::trunc(p, &s, 16).await?;
            pr::reveal_ring(p, &t).await
        }
    };
    let (r, _) = run_joined(prog(&mut p0), prog(&mut p1)).unwrap();
    for (got, v) in r.iter().zip(&vals) {
        let want = ((*v as i64) as f64 / 65536.0).round();
        assert!(
            (*got as i64 as f64 - want).abs() <= 1.0,
            "{v}: {}",
            *got as i64
        );
    }
    let _ = f;
}

// ---------------------------------------------------------------------------------------------
// Comparisons

#[test]
fn msb_is_exact_on_every_ring_element() {
    let mut g = prg(2);
    let mut vals: Vec<u64> = vec![
        0,
        1,
        u64::MAX,
        1 << 63,
        (1 << 63) - 1,
        (1 << 63) + 1,
        1 << 62,
        65536,
        0u64.wrapping_sub(65536),
    ];
    while vals.len() < 200 {
        vals.push(g.next_u64());
    }
    let n = vals.len();
    let input = ArrayD::from_shape_vec(IxDyn(&[n]), vals.clone()).unwrap();
    let (mut p0, mut p1) = pair_seeded(TruncMode::Local, 4);
    let prog = async |p: &mut Party| {
        let input = input.clone();
        {
            let mine = if p.id() == 1 { Some(&input) } else { None };
            let s = pr::share_input_ring(p, 1, mine, &[n]).await?;
            p.meter.reset();
            let m = pr::msb(p, &s).await?;
            let rep = p.meter.report();
            let a = pr::b2a(p, &m).await?;
            Ok::<_, Error>((pr::reveal_ring(p, &a).await?, rep))
        }
    };
    let ((r, rep0), (_, rep1)) = run_joined(prog(&mut p0), prog(&mut p1)).unwrap();
    for (got, v) in r.iter().zip(&vals) {
        assert_eq!(*got, v >> 63, "msb of {v:#x}");
    }
    assert_eq!(as_cost(&Report::joint(&rep0, &rep1).total()), msb_cost(n));
    assert_eq!(msb_cost(n).rounds, 7);
}

fn edge_values(g: &mut Prg) -> ArrayD<f64> {
    let mut v = vec![
        0.0,
        1.0 / 65536.0,
        -1.0 / 65536.0,
        6.0,
        -6.0,
        5.99998,
        6.00002,
        1e9,
        -1e9,
        4e13,
        -4e13,
    ];
    let r = uniform(g, &[117], -20.0, 20.0);
    v.extend(r.iter());
    arr(&v)
}

#[test]
fn relu_relu6_select_compare_max() {
    let mut g = prg(3);
    let x = edge_values(&mut g);
    let n = x.len();
    let xq = quant(&x);
    let o = run_op(TruncMode::Local, &[(0, x.clone())], |p, xs| {
        Box::pin(async move { pr::relu(p, &xs[0]).await })
    });
    assert_eq!(o.out, xq.mapv(|v| v.max(0.0)));
    assert_cost("relu", &o, relu_cost(n));
    assert_eq!(relu_cost(n).rounds, 8);

    let o = run_op(TruncMode::Local, &[(1, x.clone())], |p, xs| {
        Box::pin(async move { pr::relu6(p, &xs[0]).await })
    });
    assert_eq!(o.out, xq.mapv(|v| v.clamp(0.0, 6.0)));
    assert_cost("relu6", &o, relu6_cost(n));

    let y = uniform(&mut g, &[n], -20.0, 20.0);
    let yq = quant(&y);
    let o = run_op(
        TruncMode::Local,
        &[(0, x.clone()), (1, y.clone())],
        |p, xs| {
            Box::pin(async move {
                let b = pr::lt(p, &xs[0], &xs[1]).await?;
                p.meter.reset();
                pr::select(p, &b, &xs[1], &xs[0]).await
            })
        },
    );
    let want = ndarray::Zip::from(&xq)
        .and(&yq)
        .map_collect(|a, b| a.max(*b));
    assert_eq!(o.out, want);
    assert_cost("select", &o, bit_mul_cost(n));

    let o = run_op(TruncMode::Local, &[(0, x.clone())], |p, xs| {
        Box::pin(async move {
            let b = pr::drelu(p, &xs[0]).await?;
            let b2 = pr::lt_const(p, &xs[0], 6.0).await?;
            let a = pr::b2a(p, &b.xor(&b2)?).await?;
            Ok(a.mul_int(65536))
        })
    });
    assert_eq!(o.out, xq.mapv(|v| ((v >= 0.0) != (v < 6.0)) as u8 as f64));

    // Max along the last axis, odd and even lengths.
    for len in [1usize, 2, 7, 16, 65] {
        let x = uniform(&mut g, &[3, len], -50.0, 50.0);
        let o = run_op(TruncMode::Local, &[(0, x.clone())], |p, xs| {
            Box::pin(async move { pr::max_last(p, &xs[0]).await })
        });
        let want = rows_map(&quant(&x), |r| {
            vec![r.iter().cloned().fold(f64::MIN, f64::max)]
        });
        assert_eq!(
            o.out.iter().cloned().collect::<Vec<_>>(),
            want.index_axis(Axis(1), 0)
                .iter()
                .cloned()
                .collect::<Vec<_>>()
        );
        assert_cost("max", &o, max_last_cost(3, len));
    }
}

// ---------------------------------------------------------------------------------------------
// Approximations: error bounds (stated in each protocol file of `mpc::protocols`) and counts

#[test]
fn exp_error_bound() {
    let mut g = prg(4);
    let mut x = uniform(&mut g, &[400], -16.0, 0.0);
    x[0] = 0.0;
    x[1] = -16.0;
    x[2] = -1.0 / 65536.0;
    for mode in MODES {
        let o = run_op(mode, &[(0, x.clone())], |p, xs| {
            Box::pin(async move { pr::exp(p, &xs[0]).await })
        });
        let err = max_abs_err(&o.out, &quant(&x).mapv(f64::exp));
        eprintln!("measured: exp {mode:?} abs err on [-16, 0] {err:.2e}");
        assert!(err <= 5e-3, "exp {mode:?} abs err {err}");
        assert_cost("exp", &o, exp_cost(mode, 400));
    }
    let far = arr(&[-30.0, -100.0, -127.0]);
    let o = run_op(TruncMode::Local, &[(0, far)], |p, xs| {
        Box::pin(async move { pr::exp(p, &xs[0]).await })
    });
    assert!(o.out.iter().all(|v| (0.0..1e-4).contains(v)), "{:?}", o.out);
    let pos = uniform(&mut g, &[200], -4.0, 4.0);
    let o = run_op(TruncMode::Local, &[(0, pos.clone())], |p, xs| {
        Box::pin(async move { pr::exp(p, &xs[0]).await })
    });
    let rel = max_rel_err(&o.out, &quant(&pos).mapv(f64::exp));
    eprintln!("measured: exp rel err on [-4, 4] {rel:.2e}");
    assert!(rel <= 7e-2, "exp rel err on [-4, 4]: {rel}");
}

#[test]
fn reciprocal_error_bound() {
    let mut g = prg(5);
    let mut x = log_uniform(&mut g, &[500], 0.01, 1e4);
    x[0] = 0.01;
    x[1] = 1.0;
    x[2] = 4.0;
    x[3] = 1e4;
    for mode in MODES {
        let o = run_op(mode, &[(0, x.clone())], |p, xs| {
            Box::pin(async move { pr::reciprocal(p, &xs[0]).await })
        });
        let want = quant(&x).mapv(|v| 1.0 / v);
        let (mut rel, mut abs) = (0f64, 0f64);
        for ((got, w), xv) in o.out.iter().zip(&want).zip(&x) {
            if *xv <= 4.0 {
                rel = rel.max(((got - w) / w).abs());
            }
            if *xv >= 1.0 {
                abs = abs.max((got - w).abs());
            }
        }
        eprintln!(
            "measured: reciprocal {mode:?}: rel err on [0.01, 4] {rel:.2e}, abs err on [1, 1e4] {abs:.2e}"
        );
        assert!(rel <= 4e-4 && abs <= 1.5e-4);
        assert_cost("reciprocal", &o, reciprocal_cost(mode, 500));
    }
    assert_eq!(reciprocal_cost(TruncMode::Local, 1).rounds, 10);
    assert_eq!(divide_cost(TruncMode::Local, 4, 1).rounds, 11);
}

#[test]
fn divide_keeps_the_quotient_precise() {
    let mut g = prg(14);
    let s = log_uniform(&mut g, &[50, 1], 0.01, 1e5);
    let frac = uniform(&mut g, &[50, 4], 0.0, 1.0);
    let q = &frac * &s;
    for mode in MODES {
        let o = run_op(mode, &[(0, q.clone()), (1, s.clone())], |p, xs| {
            Box::pin(async move { pr::divide(p, &xs[0], &xs[1]).await })
        });
        let want = &quant(&q) / &quant(&s);
        let err = max_abs_err(&o.out, &want);
        eprintln!("measured: divide {mode:?} abs err {err:.2e}");
        assert!(err <= 2e-4, "divide {mode:?}: {err}");
        assert_cost("divide", &o, divide_cost(mode, 200, 50));
    }
}

#[test]
fn rsqrt_error_bound() {
    let mut g = prg(6);
    let mut x = log_uniform(&mut g, &[500], 1e-3, 1e4);
    x[0] = 1e-3;
    x[1] = 1.0;
    x[2] = 1e4;
    for mode in MODES {
        let o = run_op(mode, &[(0, x.clone())], |p, xs| {
            Box::pin(async move { pr::rsqrt(p, &xs[0]).await })
        });
        let want = quant(&x).mapv(|v| 1.0 / v.sqrt());
        let (mut rel, mut abs) = (0f64, 0f64);
        for ((got, w), xv) in o.out.iter().zip(&want).zip(&x) {
            if *xv <= 100.0 {
                rel = rel.max(((got - w) / w).abs());
            } else {
                abs = abs.max((got - w).abs());
            }
        }
        eprintln!(
            "measured: rsqrt {mode:?}: rel err on [1e-3, 100] {rel:.2e}, abs err on [100, 1e4] {abs:.2e}"
        );
        assert!(rel <= 2e-3 && abs <= 1e-4);
        assert_cost("rsqrt", &o, rsqrt_cost(mode, 500));
    }
    assert_eq!(rsqrt_cost(TruncMode::Local, 1).rounds, 10);
    assert_eq!(layer_norm_cost(TruncMode::Local, 1, 4, true).rounds, 12);
}

#[test]
fn gelu_error_bound() {
    let mut g = prg(7);
    let mut v = vec![0.0, 4.0, -4.0, 3.99998, -3.99998, 1e6, -1e6, 100.0, -100.0];
    v.extend(uniform(&mut g, &[391], -8.0, 8.0).iter());
    let x = arr(&v);
    for mode in MODES {
        let o = run_op(mode, &[(0, x.clone())], |p, xs| {
            Box::pin(async move { pr::gelu(p, &xs[0]).await })
        });
        let err = max_abs_err(&o.out, &quant(&x).mapv(gelu_tanh));
        eprintln!("measured: gelu {mode:?} abs err {err:.2e}");
        assert!(err <= 5e-4, "gelu {mode:?} abs err {err}");
        assert_cost("gelu", &o, gelu_cost(mode, 400));
    }
    // The series' four product rounds ride on the comparison's seven; one selection round.
    assert_eq!(gelu_cost(TruncMode::Local, 1).rounds, 8);
    // Exact truncation adds a round after each product round and after the sum: 9 + 1.
    assert_eq!(gelu_cost(TruncMode::Exact, 1).rounds, 10);
}

#[test]
fn gelu_with_relu_shares_its_rounds() {
    let mut g = prg(8);
    let x = uniform(&mut g, &[5, 40], -8.0, 8.0);
    let mut rv = vec![0.0, -0.0, 1e-4, -1e-4, 3.5, -3.5, 1e6, -1e6];
    rv.extend(uniform(&mut g, &[16], -20.0, 20.0).iter());
    let r = ArrayD::from_shape_vec(IxDyn(&[3, 8]), rv).unwrap();
    for mode in MODES {
        let o = run_op(mode, &[(0, x.clone()), (0, r.clone())], |p, xs| {
            Box::pin(async move {
                let (gx, rr) = pr::gelu_relu(p, &xs[0], &xs[1]).await?;
                ArithShare::concat(0, &[&gx.reshape(&[200])?, &rr.reshape(&[24])?])
            })
        });
        let got_g = o.out.slice(ndarray::s![..200]).to_owned().into_dyn();
        let got_r = o.out.slice(ndarray::s![200..]).to_owned().into_dyn();
        let want_g = quant(&x)
            .mapv(gelu_tanh)
            .into_shape_with_order(IxDyn(&[200]))
            .unwrap();
        let want_r = quant(&r)
            .mapv(|v| v.max(0.0))
            .into_shape_with_order(IxDyn(&[24]))
            .unwrap();
        assert!(max_abs_err(&got_g, &want_g) <= 5e-4, "gelu half {mode:?}");
        assert_eq!(
            max_abs_err(&got_r, &want_r),
            0.0,
            "relu half {mode:?} is exact"
        );
        assert_cost("gelu_relu", &o, gelu_relu_cost(mode, 200, 24));
    }
    assert_eq!(
        gelu_relu_cost(TruncMode::Local, 10, 7).rounds,
        gelu_cost(TruncMode::Local, 10).rounds
    );
}

fn plain_layer_norm(x: &ArrayD<f64>, g: &ArrayD<f64>, b: &ArrayD<f64>) -> ArrayD<f64> {
    rows_map(x, |r| {
        let c = r.len() as f64;
        let m = r.iter().sum::<f64>() / c;
        let var = r.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / c;
        r.iter()
            .enumerate()
            .map(|(i, v)| (v - m) / (var + 1e-5).sqrt() * g[i] + b[i])
            .collect()
    })
}

#[test]
fn layer_norm_accuracy() {
    let mut g = prg(8);
    let c = 32;
    for (lo, hi) in [(-0.2, 0.2), (-3.0, 3.0), (-60.0, 60.0)] {
        let x = uniform(&mut g, &[2, 5, c], lo, hi);
        let gamma = uniform(&mut g, &[c], 0.5, 1.5);
        let beta = uniform(&mut g, &[c], -0.5, 0.5);
        for mode in MODES {
            let o = run_op(
                mode,
                &[(0, x.clone()), (1, gamma.clone()), (1, beta.clone())],
                |p, xs| {
                    Box::pin(async move {
                        pr::layer_norm(p, &xs[0], Some(&xs[1]), Some(&xs[2]), 1e-5).await
                    })
                },
            );
            let want = plain_layer_norm(&quant(&x), &quant(&gamma), &quant(&beta));
            let err = max_abs_err(&o.out, &want);
            eprintln!("measured: layer_norm on [{lo}, {hi}] {mode:?} abs err {err:.2e}");
            assert!(err <= 5e-3, "layer_norm on [{lo}, {hi}] {mode:?}: {err}");
            assert_cost("layer_norm", &o, layer_norm_cost(mode, 10, c, true));
        }
    }
    // Without affine parameters.
    let x = uniform(&mut g, &[4, c], -2.0, 2.0);
    let o = run_op(TruncMode::Local, &[(0, x.clone())], |p, xs| {
        Box::pin(async move { pr::layer_norm(p, &xs[0], None, None, 1e-5).await })
    });
    let ones = ArrayD::from_elem(IxDyn(&[c]), 1.0);
    let zeros = ArrayD::zeros(IxDyn(&[c]));
    assert!(max_abs_err(&o.out, &plain_layer_norm(&quant(&x), &ones, &zeros)) <= 1e-2);
    assert_cost(
        "layer_norm",
        &o,
        layer_norm_cost(TruncMode::Local, 4, c, false),
    );
}

/// LayerNorm folded into two fixed maps on a partition of the rows (MPCViT+'s GeLU and
/// linearised tokens) and into one map on every row, in both families and truncations: the
/// plaintext `LN(x) W + b`, computed from the folded `W' = diag(g) W`, `b' = beta W + b`, within
/// the documented bound, and the metered cost exactly the formula (as many rounds as the bare
/// LayerNorm: the products ride in the squares' round).
#[test]
fn layer_norm_folded_into_fixed_products_matches_plaintext_and_its_formula() {
    use mpcvit::mpc::protocols::layer_norm::{layer_norm_cost_fss, layer_norm_linear_cost};
    let (rows, c) = (6usize, 16usize);
    let mut g = prg(12);
    let mut x = uniform(&mut g, &[rows, c], -3.0, 3.0);
    // Rows of very different scales: std ~0.1 to ~40.
    for j in 0..c {
        x[[1, j]] *= 0.05;
        x[[4, j]] *= 15.0;
    }
    let gamma = uniform(&mut g, &[c], 0.5, 1.5);
    let beta = uniform(&mut g, &[c], -0.5, 0.5);
    let fold = |w: &ArrayD<f64>, b: &ArrayD<f64>| {
        let mut wf = w.clone();
        for (i, mut row) in wf.outer_iter_mut().enumerate() {
            row.mapv_inplace(|v| v * gamma[i]);
        }
        let bf = ArrayD::from_shape_fn(IxDyn(&[w.shape()[1]]), |j| {
            (0..c).map(|i| beta[i] * w[[i, j[0]]]).sum::<f64>() + b[j[0]]
        });
        (wf, bf)
    };
    let (w1, b1) = (
        uniform(&mut g, &[c, 12], -0.5, 0.5),
        uniform(&mut g, &[12], -1.0, 1.0),
    );
    let (w2, b2) = (
        uniform(&mut g, &[c, 5], -0.5, 0.5),
        uniform(&mut g, &[5], -1.0, 1.0),
    );
    let ((f1, fb1), (f2, fb2)) = (fold(&w1, &b1), fold(&w2, &b2));
    let (part_a, part_b): (&[usize], &[usize]) = (&[0, 2, 3, 5], &[4, 1]);
    let normed = plain_layer_norm(&quant(&x), &quant(&gamma), &quant(&beta));
    let want = |rows: &[usize], w: &ArrayD<f64>, b: &ArrayD<f64>| {
        ArrayD::from_shape_fn(IxDyn(&[rows.len(), w.shape()[1]]), |ij| {
            (0..c)
                .map(|k| normed[[rows[ij[0]], k]] * w[[k, ij[1]]])
                .sum::<f64>()
                + b[ij[1]]
        })
    };
    let col_norm = |w: &ArrayD<f64>| {
        (0..w.shape()[1])
            .map(|j| (0..c).map(|i| w[[i, j]].abs()).sum::<f64>())
            .fold(0.0, f64::max)
    };
    let all: Vec<usize> = (0..rows).collect();
    for family in [ProtocolFamily::Classic, ProtocolFamily::Fss] {
        for mode in MODES {
            let (mut p0, mut p1) = family_pair(family, mode, 4);
            let prog = async |p: &mut Party| {
                let server = p.id() == 1;
                let ops = pr::fix_operands(
                    p,
                    &[
                        (&[c, 12], server.then_some(&f1)),
                        (&[c, 5], server.then_some(&f2)),
                    ],
                )
                .await?;
                let xs = pr::share_input(p, 0, (!server).then_some(&x), &[rows, c]).await?;
                let bs1 = pr::share_input(p, 1, server.then_some(&fb1), &[12]).await?;
                let bs2 = pr::share_input(p, 1, server.then_some(&fb2), &[5]).await?;
                let map = |rows, w, b| pr::FoldedLinear { rows, w, b };
                p.meter.reset();
                let two = [
                    map(Some(part_a), &ops[0], &bs1),
                    map(Some(part_b), &ops[1], &bs2),
                ];
                let ys = pr::layer_norm_linear(p, &xs, &two, 1e-5).await?;
                let split = p.meter.report();
                p.meter.reset();
                let one = pr::layer_norm_linear(p, &xs, &[map(None, &ops[0], &bs1)], 1e-5).await?;
                let whole = p.meter.report();
                let mut out = Vec::new();
                for y in ys.iter().chain(&one) {
                    out.push(pr::reveal(p, y).await?);
                }
                Ok::<_, Error>((out, [split, whole]))
            };
            let (r0, r1) = run_joined(prog(&mut p0), prog(&mut p1)).unwrap();
            let what = format!("{family:?} {mode:?}");
            let wants = [
                want(part_a, &w1, &b1),
                want(part_b, &w2, &b2),
                want(&all, &w1, &b1),
            ];
            let norms = [col_norm(&f1), col_norm(&f2), col_norm(&f1)];
            for (i, want) in wants.iter().enumerate() {
                assert_eq!(r0.0[i], r1.0[i]);
                let err = max_abs_err(&r0.0[i], want);
                eprintln!("measured: layer_norm_linear {what} map {i}: abs err {err:.2e}");
                assert!(err <= 1e-2 * norms[i], "{what}: map {i} off by {err}");
            }
            let f = fp().frac_bits;
            let cost = |i: usize| as_cost(&Report::joint(&r0.1[i], &r1.1[i]).total());
            // The meter's offline total counts the keys to both parties (`as_cost`).
            let both = |k: Cost| Cost {
                offline: k.offline + k.offline_p0,
                offline_p0: 0,
                ..k
            };
            let split = both(layer_norm_linear_cost(
                family,
                mode,
                c,
                &[(4, 12), (2, 5)],
                f,
            ));
            assert_eq!(cost(0), split, "{what}: two maps");
            let whole = both(layer_norm_linear_cost(family, mode, c, &[(rows, 12)], f));
            assert_eq!(cost(1), whole, "{what}: one map");
            let bare = match family {
                ProtocolFamily::Classic => layer_norm_cost(mode, rows, c, true),
                ProtocolFamily::Fss => layer_norm_cost_fss(mode, rows, c, true, f),
            };
            assert_eq!(
                whole.rounds, bare.rounds,
                "{what}: the products add no round"
            );
        }
    }
}

#[test]
fn layer_norm_linear_rejects_rows_read_twice_or_never() {
    let (rows, c) = (3usize, 4usize);
    let w = ArrayD::from_elem(IxDyn(&[c, 2]), 0.5);
    for parts in [
        vec![vec![0, 1], vec![1, 2]],
        vec![vec![0, 2]],
        vec![vec![0, 1, 3]],
    ] {
        let (mut p0, mut p1) = pair_seeded(TruncMode::Local, 2);
        let prog = async |p: &mut Party| {
            let ops = pr::fix_operands(p, &[(&[c, 2], (p.id() == 1).then_some(&w))]).await?;
            let b = ArithShare::zeros(&[2]);
            let maps: Vec<_> = parts
                .iter()
                .map(|r| pr::FoldedLinear {
                    rows: Some(r),
                    w: &ops[0],
                    b: &b,
                })
                .collect();
            let x = ArithShare::zeros(&[rows, c]);
            pr::layer_norm_linear(p, &x, &maps, 1e-5).await.map(|_| ())
        };
        match run_joined(prog(&mut p0), prog(&mut p1)) {
            Err(Error::ShapeMismatch { op, .. }) => {
                assert_eq!(op, "layer norm linear", "{parts:?}")
            }
            other => panic!("{parts:?}: expected a shape error, got {other:?}"),
        }
    }
}

fn plain_softmax(r: &[f64]) -> Vec<f64> {
    let m = r.iter().cloned().fold(f64::MIN, f64::max);
    let e: Vec<f64> = r.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

fn plain_sparsemax(r: &[f64]) -> Vec<f64> {
    let mut z = r.to_vec();
    z.sort_by(|a, b| b.total_cmp(a));
    let (mut cum, mut best_cum, mut best_k) = (0.0, z[0], 1usize);
    for (i, &zk) in z.iter().enumerate() {
        cum += zk;
        if 1.0 + (i + 1) as f64 * zk > cum {
            best_k = i + 1;
            best_cum = cum;
        }
    }
    let tau = (best_cum - 1.0) / best_k as f64;
    r.iter().map(|v| (v - tau).max(0.0)).collect()
}

fn plain_map(variant: Attention, x: &ArrayD<f64>) -> ArrayD<f64> {
    rows_map(x, |r| {
        let n = r.len() as f64;
        match variant {
            Attention::Softmax => plain_softmax(r),
            Attention::Relu => r.iter().map(|v| v.max(0.0) / n).collect(),
            Attention::Relu6 => r.iter().map(|v| v.clamp(0.0, 6.0) / n).collect(),
            Attention::Square => r.iter().map(|v| v * v / n).collect(),
            Attention::ScaleAttn => r.iter().map(|v| v / n).collect(),
            Attention::Sparsemax => plain_sparsemax(r),
            Attention::TwoQuad => {
                let q: Vec<f64> = r.iter().map(|v| (v + 5.0) * (v + 5.0)).collect();
                let s: f64 = q.iter().sum::<f64>() + 1e-8;
                q.iter().map(|v| v / s).collect()
            }
            Attention::RsAttn => {
                let q: Vec<f64> = r.iter().map(|v| v.max(0.0)).collect();
                let s: f64 = q.iter().sum::<f64>() + 1e-8;
                q.iter().map(|v| v / s).collect()
            }
            Attention::Linformer | Attention::XNorm => unreachable!(),
        }
    })
}

#[test]
fn attention_maps_accuracy_and_counts() {
    let mut g = prg(9);
    let (rows, len) = (2 * 9, 9);
    let mut x = uniform(&mut g, &[2, 9, len], -6.0, 6.0);
    // Edge rows: all equal, all negative (RSAttn maps to zeros), one dominant entry.
    for j in 0..len {
        x[[0, 0, j]] = 1.0;
        x[[0, 1, j]] = -2.0 - j as f64;
        x[[0, 2, j]] = if j == 3 { 12.0 } else { -1.0 };
    }
    let xq = quant(&x);
    let n = rows * len;
    let cases: [(Attention, Op, f64, Cost); 8] = [
        (
            Attention::Softmax,
            |p, xs| Box::pin(async move { attention_map(p, Attention::Softmax, &xs[0]).await }),
            5e-3,
            softmax_cost(TruncMode::Local, rows, len),
        ),
        (
            Attention::RsAttn,
            |p, xs| Box::pin(async move { attention_map(p, Attention::RsAttn, &xs[0]).await }),
            1e-3,
            relu_softmax_cost(TruncMode::Local, rows, len),
        ),
        (
            Attention::TwoQuad,
            |p, xs| Box::pin(async move { attention_map(p, Attention::TwoQuad, &xs[0]).await }),
            1e-3,
            two_quad_cost(TruncMode::Local, rows, len),
        ),
        (
            Attention::Sparsemax,
            |p, xs| Box::pin(async move { attention_map(p, Attention::Sparsemax, &xs[0]).await }),
            2f64.powi(-9) + 1e-4,
            sparsemax_cost(rows, len, SPARSEMAX_ITERS),
        ),
        (
            Attention::Relu,
            |p, xs| Box::pin(async move { attention_map(p, Attention::Relu, &xs[0]).await }),
            6e-5,
            relu_cost(n),
        ),
        (
            Attention::Relu6,
            |p, xs| Box::pin(async move { attention_map(p, Attention::Relu6, &xs[0]).await }),
            6e-5,
            relu6_cost(n),
        ),
        (
            Attention::Square,
            |p, xs| Box::pin(async move { attention_map(p, Attention::Square, &xs[0]).await }),
            // 1/n is encoded with relative error 3e-5 (n = 9) and S^2 reaches 144 here.
            6e-4,
            square_cost(TruncMode::Local, n),
        ),
        (
            Attention::ScaleAttn,
            |p, xs| Box::pin(async move { attention_map(p, Attention::ScaleAttn, &xs[0]).await }),
            6e-5,
            Cost::default(),
        ),
    ];
    for (variant, op, tol, want_cost) in cases {
        let o = run_op(TruncMode::Local, &[(0, x.clone())], op);
        let err = max_abs_err(&o.out, &plain_map(variant, &xq));
        eprintln!("measured: {} map abs err {err:.2e}", variant.name());
        assert!(err <= tol, "{}: abs err {err} > {tol}", variant.name());
        assert_cost(variant.name(), &o, want_cost);
    }
    // RSAttn row with no positive entry maps to zeros.
    let o = run_op(TruncMode::Local, &[(0, x.clone())], |p, xs| {
        Box::pin(async move { pr::relu_softmax(p, &xs[0], 1e-8).await })
    });
    assert!(o
        .out
        .index_axis(Axis(0), 0)
        .index_axis(Axis(0), 1)
        .iter()
        .all(|v| v.abs() <= 1e-4));
    // Exact truncation: the same maps, counted with their truncation rounds.
    let o = run_op(TruncMode::Exact, &[(0, x.clone())], |p, xs| {
        Box::pin(async move { pr::softmax(p, &xs[0]).await })
    });
    assert!(max_abs_err(&o.out, &plain_map(Attention::Softmax, &xq)) <= 5e-3);
    assert_cost(
        "softmax exact",
        &o,
        softmax_cost(TruncMode::Exact, rows, len),
    );
    // Larger score ranges (ViT scores after scaling are within a few tens).
    let wide = uniform(&mut g, &[4, 65], -30.0, 30.0);
    let o = run_op(TruncMode::Local, &[(0, wide.clone())], |p, xs| {
        Box::pin(async move { pr::softmax(p, &xs[0]).await })
    });
    assert!(max_abs_err(&o.out, &plain_map(Attention::Softmax, &quant(&wide))) <= 5e-3);
    let o = run_op(TruncMode::Local, &[(0, wide.clone())], |p, xs| {
        Box::pin(async move { pr::relu_softmax(p, &xs[0], 1e-8).await })
    });
    assert!(max_abs_err(&o.out, &plain_map(Attention::RsAttn, &quant(&wide))) <= 1e-3);
}

fn head_inputs(g: &mut Prg, h: usize, n: usize, d: usize) -> [ArrayD<f64>; 3] {
    [
        uniform(g, &[h, n, d], -1.0, 1.0),
        uniform(g, &[h, n, d], -1.0, 1.0),
        uniform(g, &[h, n, d], -1.0, 1.0),
    ]
}

fn plain_matmul(a: &ArrayD<f64>, b: &ArrayD<f64>) -> ArrayD<f64> {
    // (h, m, k) x (h, k, p) or (m, k) x (h, k, p)
    let bs = b.shape();
    let (h, k, p) = (bs[0], bs[1], bs[2]);
    let a3 = if a.ndim() == 2 {
        a.broadcast(IxDyn(&[h, a.shape()[0], k]))
            .unwrap()
            .to_owned()
    } else {
        a.clone()
    };
    let m = a3.shape()[1];
    let mut out = ArrayD::zeros(IxDyn(&[h, m, p]));
    for hi in 0..h {
        for i in 0..m {
            for j in 0..p {
                out[[hi, i, j]] = (0..k).map(|t| a3[[hi, i, t]] * b[[hi, t, j]]).sum();
            }
        }
    }
    out
}

fn t2(x: &ArrayD<f64>) -> ArrayD<f64> {
    let mut v = x.view();
    let nd = v.ndim();
    v.swap_axes(nd - 2, nd - 1);
    v.as_standard_layout().to_owned()
}

#[test]
fn attention_heads() {
    let mut g = prg(10);
    let (h, n, d) = (2, 12, 4);
    let [q, k, v] = head_inputs(&mut g, h, n, d);
    let (qq, kq, vq) = (quant(&q), quant(&k), quant(&v));
    // ScaleAttn: scale * Q K^T V, re-associated since d*d < n*n.
    let o = run_op(
        TruncMode::Local,
        &[(0, q.clone()), (0, k.clone()), (0, v.clone())],
        |p, xs| {
            Box::pin(async move {
                heads::scale_attn(p, &xs[0], &xs[1], &xs[2], 1.0 / (12.0 * 2.0)).await
            })
        },
    );
    let want = plain_matmul(&plain_matmul(&qq, &t2(&kq)), &vq).mapv(|x| x / 24.0);
    eprintln!(
        "measured: scale_attn abs err {:.2e}",
        max_abs_err(&o.out, &want)
    );
    assert!(max_abs_err(&o.out, &want) <= 1e-4, "scale_attn");
    assert!(scale_attn_reassociates(n, d, d));
    assert_cost(
        "scale_attn",
        &o,
        scale_attn_cost(TruncMode::Local, h, n, d, d),
    );
    assert_eq!(scale_attn_cost(TruncMode::Local, h, n, d, d).rounds, 2);

    // Linformer with k = 3.
    let e = uniform(&mut g, &[3, n], -0.5, 0.5);
    let f = uniform(&mut g, &[3, n], -0.5, 0.5);
    let o = run_op(
        TruncMode::Local,
        &[
            (0, q.clone()),
            (0, k.clone()),
            (0, v.clone()),
            (1, e.clone()),
            (1, f.clone()),
        ],
        |p, xs| {
            Box::pin(async move {
                heads::linformer(p, &xs[0], &xs[1], &xs[2], &xs[3], &xs[4], 0.5).await
            })
        },
    );
    let ek = plain_matmul(&quant(&e), &kq);
    let fv = plain_matmul(&quant(&f), &vq);
    let s = plain_matmul(&qq, &t2(&ek)).mapv(|x| x * 0.5);
    let want = plain_matmul(&rows_map(&s, plain_softmax), &fv);
    eprintln!(
        "measured: linformer abs err {:.2e}",
        max_abs_err(&o.out, &want)
    );
    assert_cost(
        "linformer",
        &o,
        linformer_cost(TruncMode::Local, h, n, d, 3),
    );
    assert!(
        max_abs_err(&o.out, &want) <= 5e-3,
        "linformer {}",
        max_abs_err(&o.out, &want)
    );

    // XNorm: gamma_h * rownorm(Q) colnorm(K^T V).
    let gamma = arr(&[0.8, 1.3]);
    let o = run_op(
        TruncMode::Local,
        &[
            (0, q.clone()),
            (0, k.clone()),
            (0, v.clone()),
            (1, gamma.clone()),
        ],
        |p, xs| {
            Box::pin(async move { heads::xnorm(p, &xs[0], &xs[1], &xs[2], &xs[3], 1e-6).await })
        },
    );
    let norm_rows = |x: &ArrayD<f64>| {
        rows_map(x, |r| {
            let s = (r.iter().map(|v| v * v).sum::<f64>() + 1e-6).sqrt();
            r.iter().map(|v| v / s).collect()
        })
    };
    let qn = norm_rows(&qq);
    let kvn = t2(&norm_rows(&t2(&plain_matmul(&t2(&kq), &vq))));
    let mut want = plain_matmul(&qn, &kvn);
    for hi in 0..h {
        want.index_axis_mut(Axis(0), hi)
            .mapv_inplace(|x| x * quant(&gamma)[hi]);
    }
    eprintln!("measured: xnorm abs err {:.2e}", max_abs_err(&o.out, &want));
    assert_cost("xnorm", &o, xnorm_cost(TruncMode::Local, h, n, d));
    assert!(
        max_abs_err(&o.out, &want) <= 5e-3,
        "xnorm {}",
        max_abs_err(&o.out, &want)
    );

    // L2 normalisation alone, counted.
    let x = uniform(&mut g, &[6, 10], -3.0, 3.0);
    let o = run_op(TruncMode::Local, &[(0, x.clone())], |p, xs| {
        Box::pin(async move { pr::l2_normalize(p, &xs[0], 1e-6).await })
    });
    eprintln!(
        "measured: l2_normalize abs err {:.2e}",
        max_abs_err(&o.out, &norm_rows(&quant(&x)))
    );
    assert!(max_abs_err(&o.out, &norm_rows(&quant(&x))) <= 3e-3);
    assert_cost(
        "l2_normalize",
        &o,
        l2_normalize_cost(TruncMode::Local, 6, 10),
    );
}

// ---------------------------------------------------------------------------------------------
// Meter labels

#[test]
fn meter_labels_and_profiles() {
    let x = arr(&[1.0, -2.0, 3.0, -4.0]);
    let o = run_op(TruncMode::Local, &[(0, x)], |p, xs| {
        Box::pin(async move {
            let r = {
                let mut layer = p.scoped("layer 0");
                let mut head = layer.scoped("head 1");
                pr::relu(&mut head, &xs[0]).await?
            };
            // A protocol that fails inside a scope still leaves its label: the square below
            // is attributed to "layer 1", not to "failed/layer 1".
            let wrong = pr::mul(&mut p.scoped("failed"), &r, &r.slice_axis(0, 0, 3)?).await;
            assert!(matches!(wrong, Err(mpcvit::Error::ShapeMismatch { .. })));
            pr::square(&mut p.scoped("layer 1"), &r).await
        })
    });
    let r = &o.joint;
    assert_eq!(as_cost(&r.with_label_prefix("layer 0")), relu_cost(4));
    assert_eq!(
        as_cost(&r.with_label_prefix("layer 0/head 1")),
        relu_cost(4)
    );
    assert_eq!(
        as_cost(&r.with_label_prefix("layer 1")),
        square_cost(TruncMode::Local, 4)
    );
    // The refused product is a call that cost nothing, under its own label.
    assert_eq!(as_cost(&r.with_label_prefix("failed")), Default::default());
    let by_op = r.by_op();
    assert_eq!(
        by_op.iter().map(|(o, _)| o.as_str()).collect::<Vec<_>>(),
        vec!["mul", "relu", "square"]
    );
    assert_eq!(by_op[1].1.calls, 1);
    let leaf: Vec<String> = r.by_leaf_op().into_iter().map(|(o, _)| o).collect();
    assert_eq!(leaf, ["mul", "relu", "square"].map(String::from));
    assert_eq!(r.by_labels(1).len(), 3);
    let t = r.total();
    let wan = mpcvit::mpc::NetworkProfile::wan();
    let est = t.estimate(&wan);
    assert!(est >= t.rounds as f64 * 0.040 && est < t.rounds as f64 * 0.040 + 0.1);
}

// ---------------------------------------------------------------------------------------------
// Security audit
//
// What it shows: for each party, the bytes it receives (frame payloads, headers excluded) have
// the same structure whatever the other party's secret input, look uniformly random (bit and
// byte frequencies), are distributed alike for two different secret inputs under identical
// seeds of the receiving side, and never contain the fixed-point encoding of any secret input
// element as an 8-byte window. What it cannot show: that no subtler correlation exists (that is
// what the per-protocol simulation arguments in the module docs are for), nor anything about a
// malicious party; and it only covers the protocols the audited program calls.

async fn audited_program(
    p: &mut Party,
    x: &ArrayD<f64>,
    w: &ArrayD<f64>,
    b: &ArrayD<f64>,
) -> Result<()> {
    let mx = if p.id() == 0 { Some(x) } else { None };
    let mw = if p.id() == 1 { Some(w) } else { None };
    let mb = if p.id() == 1 { Some(b) } else { None };
    let xs = pr::share_input(p, 0, mx, x.shape()).await?;
    let ws = pr::share_input(p, 1, mw, w.shape()).await?;
    let bs = pr::share_input(p, 1, mb, b.shape()).await?;
    let h = pr::matmul(p, &xs, &ws).await?; // (64, 16) x (16, 64)
    let h = pr::mul(p, &h, &bs).await?;
    let h = pr::layer_norm(p, &h, None, Some(&bs), 1e-5).await?;
    let a = pr::gelu(p, &h).await?;
    let r = pr::relu_softmax(p, &a, 1e-8).await?;
    let s = pr::softmax(p, &h.slice_axis(1, 0, 8)?).await?;
    let t = pr::trunc_many(p, vec![r, s], 3).await?;
    let _ = pr::sparsemax(p, &t[1], 2).await?;
    Ok(())
}

type Logs = (Rc<RefCell<Vec<Vec<u8>>>>, Rc<RefCell<Vec<Vec<u8>>>>);

fn audited_run(mode: TruncMode, x: &ArrayD<f64>, w: &ArrayD<f64>, b: &ArrayD<f64>) -> Logs {
    let (a, bt) = mem_pair();
    let (ra, recv0, _) = Recording::new(a);
    let (rb, recv1, _) = Recording::new(bt);
    let (mut p0, mut p1) = local_pair_with(
        cfg(mode),
        SessionSeeds::insecure_fixed(99),
        Box::new(ra),
        Box::new(rb),
    )
    .unwrap();
    run_joined(
        audited_program(&mut p0, x, w, b),
        audited_program(&mut p1, x, w, b),
    )
    .unwrap();
    (recv0, recv1)
}

fn payload_stream(log: &Rc<RefCell<Vec<Vec<u8>>>>) -> (Vec<usize>, Vec<u8>) {
    let frames = log.borrow();
    let lens = frames.iter().map(|f| f.len()).collect();
    let bytes = frames
        .iter()
        .flat_map(|f| f[HEADER_LEN..].iter().copied())
        .collect();
    (lens, bytes)
}

fn byte_hist(b: &[u8]) -> [f64; 256] {
    let mut h = [0f64; 256];
    for &v in b {
        h[v as usize] += 1.0;
    }
    h
}

fn assert_uniform_looking(name: &str, b: &[u8]) {
    let n = b.len() as f64;
    assert!(n > 10_000.0, "{name}: too few bytes to audit");
    let ones: u64 = b.iter().map(|v| v.count_ones() as u64).sum();
    let bits = 8.0 * n;
    let z = (ones as f64 - bits / 2.0) / (bits / 4.0).sqrt();
    assert!(z.abs() < 6.0, "{name}: bit frequency z-score {z}");
    let h = byte_hist(b);
    let e = n / 256.0;
    let chi: f64 = h.iter().map(|o| (o - e) * (o - e) / e).sum();
    // df = 255: mean 255, sd 22.6; 420 is beyond 7 sd.
    assert!(chi < 420.0, "{name}: byte histogram chi-square {chi}");
}

fn assert_same_distribution(name: &str, a: &[u8], b: &[u8]) {
    let (ha, hb) = (byte_hist(a), byte_hist(b));
    let chi: f64 = ha
        .iter()
        .zip(&hb)
        .filter(|(x, y)| *x + *y > 0.0)
        .map(|(x, y)| (x - y) * (x - y) / (x + y))
        .sum();
    assert!(chi < 420.0, "{name}: two-sample chi-square {chi}");
}

fn assert_no_plaintext(name: &str, stream: &[u8], secrets: &ArrayD<f64>) {
    let f = FixedPoint::default();
    let enc: std::collections::HashSet<[u8; 8]> =
        secrets.iter().map(|v| f.encode(*v).to_le_bytes()).collect();
    for win in stream.windows(8) {
        let w: [u8; 8] = win.try_into().unwrap();
        assert!(
            !enc.contains(&w),
            "{name}: a secret input's encoding appears in a message"
        );
    }
}

#[test]
fn security_audit_of_received_messages() {
    let mut g = prg(11);
    let x1 = uniform(&mut g, &[64, 16], -3.0, 3.0);
    let x2 = uniform(&mut g, &[64, 16], -3.0, 3.0);
    let w1 = uniform(&mut g, &[16, 64], -1.0, 1.0);
    let w2 = uniform(&mut g, &[16, 64], -1.0, 1.0);
    let b1 = uniform(&mut g, &[64], -1.0, 1.0);
    let b2 = uniform(&mut g, &[64], -1.0, 1.0);
    for mode in MODES {
        // Party 0's view for two different party-1 inputs (same seeds everywhere).
        let (r0a, r1a) = audited_run(mode, &x1, &w1, &b1);
        let (r0b, _) = audited_run(mode, &x1, &w2, &b2);
        let (l0a, s0a) = payload_stream(&r0a);
        let (l0b, s0b) = payload_stream(&r0b);
        assert_eq!(
            l0a, l0b,
            "party 0's message sizes depend on party 1's input"
        );
        assert_uniform_looking("party 0 view A", &s0a);
        assert_uniform_looking("party 0 view B", &s0b);
        assert_same_distribution("party 0 views", &s0a, &s0b);
        for s in [&w1, &b1] {
            assert_no_plaintext("party 0 view A", &s0a, s);
        }
        for s in [&w2, &b2] {
            assert_no_plaintext("party 0 view B", &s0b, s);
        }
        // Party 1's view for two different party-0 inputs.
        let (_, r1b) = audited_run(mode, &x2, &w1, &b1);
        let (l1a, s1a) = payload_stream(&r1a);
        let (l1b, s1b) = payload_stream(&r1b);
        assert_eq!(
            l1a, l1b,
            "party 1's message sizes depend on party 0's input"
        );
        assert_uniform_looking("party 1 view A", &s1a);
        assert_uniform_looking("party 1 view B", &s1b);
        assert_same_distribution("party 1 views", &s1a, &s1b);
        assert_no_plaintext("party 1 view A", &s1a, &x1);
        assert_no_plaintext("party 1 view B", &s1b, &x2);
        assert_ne!(s1a, s1b, "messages must depend on the (masked) inputs");
    }
}

// ---------------------------------------------------------------------------------------------
// Transport failures are errors, not hangs or panics

#[derive(Clone, Copy, Debug)]
enum Fault {
    Drop(usize),
    DropLast,
    Duplicate(usize),
    Truncate(usize),
    Swap(usize),
    Garble(usize),
}

struct Faulty {
    inner: ChannelTransport,
    fault: Fault,
    count: usize,
    held: Option<Vec<u8>>,
    total: usize,
}

impl Transport for Faulty {
    fn send(&mut self, mut frame: Vec<u8>) -> Result<()> {
        let i = self.count;
        self.count += 1;
        match self.fault {
            Fault::Drop(k) if k == i => Ok(()),
            Fault::DropLast if i + 1 == self.total => Ok(()),
            Fault::Duplicate(k) if k == i => {
                self.inner.send(frame.clone())?;
                self.inner.send(frame)
            }
            Fault::Truncate(k) if k == i => {
                frame.truncate(frame.len() - 3);
                self.inner.send(frame)
            }
            Fault::Garble(k) if k == i => {
                frame[13] ^= 0x40; // inside the step id
                self.inner.send(frame)
            }
            Fault::Swap(k) if k == i => {
                self.held = Some(frame);
                Ok(())
            }
            Fault::Swap(k) if k + 1 == i => {
                self.inner.send(frame)?;
                self.inner.send(self.held.take().unwrap())
            }
            _ => self.inner.send(frame),
        }
    }
    fn recv(&mut self) -> LocalBoxFuture<'_, Result<Vec<u8>>> {
        self.inner.recv()
    }
}

async fn chain(p: &mut Party) -> Result<ArrayD<f64>> {
    let x = arr(&[1.0, 2.0, 3.0]);
    let mine = if p.id() == 0 { Some(&x) } else { None };
    let mut s = pr::share_input(p, 0, mine, &[3]).await?; // party 0 sends frame 0
    for _ in 0..4 {
        s = pr::mul(p, &s, &s.clone()).await?; // frames 1..=4
    }
    pr::reveal(p, &s).await // frame 5
}

#[test]
fn transport_faults_are_reported() {
    for fault in [
        Fault::Drop(2),
        Fault::DropLast,
        Fault::Duplicate(1),
        Fault::Truncate(3),
        Fault::Swap(1),
        Fault::Garble(2),
    ] {
        let (a, b) = mem_pair();
        let faulty = Faulty {
            inner: a,
            fault,
            count: 0,
            held: None,
            total: 6,
        };
        let (mut p0, mut p1) = local_pair_with(
            cfg(TruncMode::Local),
            SessionSeeds::insecure_fixed(5),
            Box::new(faulty),
            Box::new(b),
        )
        .unwrap();
        let r = run_joined(chain(&mut p0), chain(&mut p1));
        match r {
            Err(Error::Protocol(msg)) => eprintln!("{fault:?}: {msg}"),
            other => panic!(
                "{fault:?}: expected a protocol error, got {:?}",
                other.map(|_| ())
            ),
        }
    }
    // A peer that went away.
    let (a, b) = mem_pair();
    drop(b);
    let (a2, _b2) = mem_pair();
    let (mut p0, _) = local_pair_with(
        cfg(TruncMode::Local),
        SessionSeeds::insecure_fixed(5),
        Box::new(a),
        Box::new(a2),
    )
    .unwrap();
    assert!(matches!(
        block_on_local(chain(&mut p0)).unwrap(),
        Err(Error::ConnectionClosed { .. })
    ));
    // Sanity: without faults the chain works.
    let (mut p0, mut p1) = pair_seeded(TruncMode::Local, 5);
    let (r, _) = run_joined(chain(&mut p0), chain(&mut p1)).unwrap();
    assert!((r[1] - 65536.0).abs() < 1.0);
}

// ---------------------------------------------------------------------------------------------
// The dealer runs the same program ahead, shape-only; party 1 reads its corrections from a queue

async fn demo_program(
    p: &mut Party,
    x: &ArrayD<f64>,
    w: &ArrayD<f64>,
) -> Result<Option<ArrayD<f64>>> {
    let mx = if p.id() == 0 { Some(x) } else { None };
    let mw = if p.id() == 1 { Some(w) } else { None };
    let xs = pr::share_input(p, 0, mx, x.shape()).await?;
    let ws = pr::share_input(p, 1, mw, w.shape()).await?;
    let h = pr::matmul(p, &xs, &ws).await?;
    let h = pr::gelu(p, &h).await?;
    let h = pr::relu_softmax(p, &h, 1e-8).await?;
    pr::reveal_to(p, &h, 0).await
}

#[test]
fn dealer_runs_ahead_over_a_queue() {
    let mut g = prg(12);
    let x = uniform(&mut g, &[5, 6], -1.0, 1.0);
    let w = uniform(&mut g, &[6, 4], -1.0, 1.0);
    let seeds = SessionSeeds::insecure_fixed(21);
    let c = cfg(TruncMode::Exact);
    // Offline: the dealer's run, with no inputs.
    let (dealer_end, p1_end) = mem_pair();
    let mut dealer = Party::dealer(
        c,
        Dealer::new(seeds.dealer0, seeds.dealer1),
        Box::new(dealer_end),
    );
    let zeros_x = ArrayD::zeros(IxDyn(&[5, 6]));
    let zeros_w = ArrayD::zeros(IxDyn(&[6, 4]));
    block_on_local(demo_program(&mut dealer, &zeros_x, &zeros_w))
        .unwrap()
        .unwrap();
    let offline_sent = dealer.meter.report().total().offline_sent;
    drop(dealer);
    // Online.
    let (a, b) = mem_pair();
    let mut p0 = Party::new(
        0,
        c,
        Box::new(a),
        DealerClient::party0(seeds.dealer0),
        seeds.local0,
    )
    .unwrap();
    let mut p1 = Party::new(
        1,
        c,
        Box::new(b),
        DealerClient::party1_remote(seeds.dealer1, Box::new(p1_end)),
        seeds.local1,
    )
    .unwrap();
    let (out, _) =
        run_joined(demo_program(&mut p0, &x, &w), demo_program(&mut p1, &x, &w)).unwrap();
    let out = out.unwrap();
    let r1 = p1.meter.report().total();
    assert_eq!(r1.offline_recv, offline_sent);
    assert_eq!(p0.meter.report().total().offline_recv, 0);
    // Same result as the on-demand dealer.
    let (mut q0, mut q1) = {
        let (a, b) = mem_pair();
        local_pair_with(c, seeds, Box::new(a), Box::new(b)).unwrap()
    };
    let (out2, _) =
        run_joined(demo_program(&mut q0, &x, &w), demo_program(&mut q1, &x, &w)).unwrap();
    assert_eq!(out, out2.unwrap());
    // A dealer that ran a different program is caught.
    let (dealer_end, p1_end) = mem_pair();
    let mut dealer = Party::dealer(
        c,
        Dealer::new(seeds.dealer0, seeds.dealer1),
        Box::new(dealer_end),
    );
    block_on_local(async {
        let s = pr::share_input(&mut dealer, 0, None, &[5, 6]).await?;
        pr::relu(&mut dealer, &s).await
    })
    .unwrap()
    .unwrap();
    drop(dealer);
    let (a, b) = mem_pair();
    let mut p0 = Party::new(
        0,
        c,
        Box::new(a),
        DealerClient::party0(seeds.dealer0),
        seeds.local0,
    )
    .unwrap();
    let mut p1 = Party::new(
        1,
        c,
        Box::new(b),
        DealerClient::party1_remote(seeds.dealer1, Box::new(p1_end)),
        seeds.local1,
    )
    .unwrap();
    assert!(matches!(
        run_joined(demo_program(&mut p0, &x, &w), demo_program(&mut p1, &x, &w)),
        Err(Error::Protocol(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// TCP on loopback (three threads: dealer, party 0, party 1) and the shaped transport

#[test]
fn tcp_loopback_with_remote_dealer() {
    use mpcvit::mpc::tcp::TcpTransport;
    let mut g = prg(13);
    let x = uniform(&mut g, &[5, 6], -1.0, 1.0);
    let w = uniform(&mut g, &[6, 4], -1.0, 1.0);
    let seeds = SessionSeeds::insecure_fixed(31);
    let c = cfg(TruncMode::Local);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (dealer_end, p1_end) = mem_pair();
    let dealer = std::thread::spawn(move || {
        let mut d = Party::dealer(
            c,
            Dealer::new(seeds.dealer0, seeds.dealer1),
            Box::new(dealer_end),
        );
        let (zx, zw) = (ArrayD::zeros(IxDyn(&[5, 6])), ArrayD::zeros(IxDyn(&[6, 4])));
        block_on_local(demo_program(&mut d, &zx, &zw))
            .unwrap()
            .unwrap();
    });
    let (x1, w1) = (x.clone(), w.clone());
    let server = std::thread::spawn(move || {
        let t = TcpTransport::accept(&listener).unwrap();
        let mut p1 = Party::new(
            1,
            c,
            Box::new(t),
            DealerClient::party1_remote(seeds.dealer1, Box::new(p1_end)),
            seeds.local1,
        )
        .unwrap();
        futures::executor::block_on(demo_program(&mut p1, &x1, &w1)).unwrap()
    });
    let t = TcpTransport::connect(addr).unwrap();
    let mut p0 = Party::new(
        0,
        c,
        Box::new(t),
        DealerClient::party0(seeds.dealer0),
        seeds.local0,
    )
    .unwrap();
    let out = futures::executor::block_on(demo_program(&mut p0, &x, &w))
        .unwrap()
        .unwrap();
    assert!(server.join().unwrap().is_none());
    dealer.join().unwrap();
    let (mut q0, mut q1) = {
        let (a, b) = mem_pair();
        local_pair_with(c, seeds, Box::new(a), Box::new(b)).unwrap()
    };
    let (out2, _) =
        run_joined(demo_program(&mut q0, &x, &w), demo_program(&mut q1, &x, &w)).unwrap();
    assert_eq!(out, out2.unwrap());
}

#[test]
fn shaped_transport_imposes_the_profile() {
    use mpcvit::mpc::transport::{Shaped, ThreadSleeper};
    use mpcvit::mpc::NetworkProfile;
    let profile = NetworkProfile {
        name: "test".into(),
        rtt_s: 0.02,
        bandwidth_bytes_per_s: 1e6,
    };
    let (a, b) = mem_pair();
    let sleeper: Rc<dyn mpcvit::mpc::transport::Sleeper> = Rc::new(ThreadSleeper);
    let sa = Shaped::new(a, profile.clone(), sleeper.clone());
    let sb = Shaped::new(b, profile.clone(), sleeper);
    let (mut p0, mut p1) = local_pair_with(
        cfg(TruncMode::Local),
        SessionSeeds::insecure_fixed(8),
        Box::new(sa),
        Box::new(sb),
    )
    .unwrap();
    let t0 = std::time::Instant::now();
    let (r, _) =
        futures::executor::block_on(futures::future::try_join(chain(&mut p0), chain(&mut p1)))
            .unwrap();
    let dt = t0.elapsed().as_secs_f64();
    assert!((r[0] - 1.0).abs() < 1e-3);
    let rounds = p0.meter.report().total().rounds as f64;
    assert_eq!(rounds, 6.0);
    assert!(dt >= rounds * 0.02, "{dt} s for {rounds} rounds");
    assert!(dt < 2.0, "{dt} s");
}

// ---------------------------------------------------------------------------------------------
// The bench table

#[test]
fn bench_table() {
    let rows = mpcvit::mpc::bench::run(256, mpcvit::mpc::ProtocolFamily::Classic).unwrap();
    assert!(rows.len() >= 20);
    let table = mpcvit::mpc::bench::format_table(&rows);
    eprintln!("{table}");
    let find = |name: &str| rows.iter().find(|r| r.protocol == name).unwrap();
    let relu = find("relu");
    assert_eq!((relu.rounds, relu.bytes_p0_to_p1, relu.bytes_offline), {
        let c = relu_cost(256);
        (c.rounds, c.p0_to_p1, c.offline)
    });
    let gelu = find("gelu");
    assert_eq!(gelu.rounds, gelu_cost(TruncMode::Local, 256).rounds);
    assert!(gelu.wan_s > gelu.lan_s);
    assert!(table.contains("reciprocal"));
    // The same table with the FSS family: every MSB is the one-round DCF sign gate and every
    // ReLU the one-round gate on a two-word DCF key.
    let fss = mpcvit::mpc::bench::run(256, mpcvit::mpc::ProtocolFamily::Fss).unwrap();
    assert_eq!(
        fss.iter().map(|r| &r.protocol).collect::<Vec<_>>(),
        rows.iter().map(|r| &r.protocol).collect::<Vec<_>>()
    );
    let relu = fss.iter().find(|r| r.protocol == "relu").unwrap();
    let c = pr::fss::relu::relu_cost(256, 64);
    assert_eq!(
        (relu.rounds, relu.bytes_p0_to_p1, relu.bytes_p1_to_p0),
        (c.rounds, c.p0_to_p1, c.p1_to_p0)
    );
    assert_eq!(relu.rounds, 1);
    let max = fss
        .iter()
        .find(|r| r.protocol == "max (last axis)")
        .unwrap();
    assert_eq!(max.rounds, 6, "max over 64: one round per tree level");
}
