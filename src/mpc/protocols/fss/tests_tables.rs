//! The table gates (the signed product, exp, softmax's normalisation) against `f64` on random
//! and edge inputs, with their error bounds, their costs against the meter and fresh masks per
//! call.

use ndarray::{ArrayD, IxDyn};

use super::super::super::share::ArithShare;
use super::super::input::{reveal, reveal_ring, share_input};
use super::super::softmax::{relu_softmax, relu_softmax_cost_fss, softmax, softmax_cost_fss};
use super::signed_mul::{deal_row, signed_mul, RowKey};
use super::{exp, gelu, normalize};
use crate::mpc::exec::run_joined;
use crate::mpc::transport::{mem_pair, Recording};
use crate::mpc::{
    local_pair, local_pair_with, Party, Prg, ProtocolFamily, SessionConfig, SessionSeeds, Stats,
    TruncMode,
};
use crate::{Error, Result};

fn fss() -> SessionConfig {
    SessionConfig {
        family: ProtocolFamily::Fss,
        ..SessionConfig::default()
    }
}

fn uniform(g: &mut Prg, lo: f64, hi: f64) -> f64 {
    lo + (g.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
}

/// Both parties' cost of one metered call, as (party 0's stats, party 1's stats).
type Costs = (Stats, Stats);

/// Shares `x` (party 0's input), runs `op` metered alone, opens the result in fixed point.
async fn run_op(
    p: &mut Party,
    x: &ArrayD<f64>,
    op: for<'a> fn(
        &'a mut Party,
        &'a ArithShare,
    ) -> futures::future::LocalBoxFuture<'a, Result<ArithShare>>,
) -> Result<(ArrayD<f64>, Stats)> {
    let mine = (p.id() == 0).then_some(x);
    let s = share_input(p, 0, mine, x.shape()).await?;
    p.meter.reset();
    let y = op(p, &s).await?;
    let stats = p.meter.report().total();
    Ok((reveal(p, &y).await?, stats))
}

fn joined(
    x: &ArrayD<f64>,
    op: for<'a> fn(
        &'a mut Party,
        &'a ArithShare,
    ) -> futures::future::LocalBoxFuture<'a, Result<ArithShare>>,
) -> (ArrayD<f64>, Costs) {
    let (mut p0, mut p1) = local_pair(fss()).unwrap();
    let ((y, s0), (_, s1)) = run_joined(run_op(&mut p0, x, op), run_op(&mut p1, x, op)).unwrap();
    (y, (s0, s1))
}

fn assert_cost(name: &str, (s0, s1): &Costs, want: super::super::cost::Cost) {
    let got = super::super::cost::Cost {
        rounds: s0.rounds,
        p0_to_p1: s0.sent,
        p1_to_p0: s0.recv,
        offline: s1.offline_recv,
        offline_p0: s0.offline_recv,
    };
    assert_eq!(got, want, "{name}: metered cost differs from the formula");
}

#[test]
fn the_signed_product_removes_the_dealers_sign() {
    let mut g = Prg::new(crate::mpc::Seed::insecure_fixed(81));
    for (rows, len) in [(3usize, 4usize), (5, 1)] {
        let sigmas: Vec<u64> = (0..rows)
            .map(|r| if r % 2 == 0 { 1 } else { u64::MAX })
            .collect();
        let x: Vec<u64> = (0..rows * len).map(|_| g.next_u64()).collect();
        let v: Vec<u64> = (0..rows).map(|_| g.next_u64()).collect();
        let dealt: Vec<[Vec<u8>; 2]> = sigmas.iter().map(|&s| deal_row(s, len, &mut g)).collect();
        // Shares of x and of v' = sigma v.
        let x0: Vec<u64> = x.iter().map(|_| g.next_u64()).collect();
        let v0: Vec<u64> = v.iter().map(|_| g.next_u64()).collect();
        let share = |party: usize| {
            let xs: Vec<u64> = if party == 0 {
                x0.clone()
            } else {
                x.iter().zip(&x0).map(|(a, b)| a.wrapping_sub(*b)).collect()
            };
            let vs: Vec<u64> = if party == 0 {
                v0.clone()
            } else {
                (0..rows)
                    .map(|r| sigmas[r].wrapping_mul(v[r]).wrapping_sub(v0[r]))
                    .collect()
            };
            let keys: Vec<RowKey> = dealt
                .iter()
                .map(|d| RowKey::parse(&d[party], len))
                .collect();
            (xs, vs, keys)
        };
        let (mut p0, mut p1) = local_pair(fss()).unwrap();
        let ((a, b, k), (c, d, l)) = (share(0), share(1));
        let (y0, y1) = run_joined(
            signed_mul(&mut p0, &a, &b, k),
            signed_mul(&mut p1, &c, &d, l),
        )
        .unwrap();
        for i in 0..rows * len {
            assert_eq!(
                y0[i].wrapping_add(y1[i]),
                x[i].wrapping_mul(v[i / len]),
                "{rows}x{len} #{i}"
            );
        }
        assert_eq!(
            p0.meter.report().total().sent,
            8 * (rows * len + rows) as u64
        );
    }
    // A factor count that does not match the rows is refused before anything is sent.
    let (mut p0, _p1) = local_pair(fss()).unwrap();
    let keys = vec![RowKey::parse(&deal_row(1, 1, &mut g)[0], 1)];
    let e = crate::mpc::exec::block_on_local(signed_mul(&mut p0, &[1], &[1, 2], keys))
        .unwrap()
        .unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
}

#[test]
fn exp_is_within_its_bound_and_clips_beyond_the_table() {
    let fp = fss().fixed;
    let ulp = 1.0 / fp.scale();
    let edge = 8191.0 / 512.0;
    let mut xs = vec![
        0.0,
        -ulp,
        -1.0,
        -edge + ulp,
        -edge,
        -edge - ulp,
        -16.0,
        -20.0,
        -32767.0,
    ];
    let mut g = Prg::new(crate::mpc::Seed::insecure_fixed(82));
    xs.extend((0..200).map(|_| uniform(&mut g, -16.5, 0.0)));
    let n = xs.len();
    let x = ArrayD::from_shape_vec(IxDyn(&[n]), xs).unwrap();
    let (y, costs) = joined(&x, |p, s| Box::pin(exp::exp_nonpositive(p, s)));
    let mut worst = 0f64;
    for (v, got) in x.iter().zip(y.iter()) {
        let v = fp.decode(fp.encode(*v));
        let err = (got - v.exp()).abs();
        worst = worst.max(err);
        assert!(err <= 2e-3, "exp({v}) = {got}");
        if v <= -edge {
            assert_eq!(*got, 0.0, "exp({v}) is clipped");
        }
    }
    assert_eq!(y[0], 1.0, "exp(0) is exactly T[0]");
    assert!(worst > 1e-4, "the bound is not vacuous: worst {worst}");
    assert_cost("exp", &costs, exp::cost(n, fp.frac_bits));
    assert_eq!(costs.0.rounds, 2);
}

#[test]
fn softmax_in_the_fss_family_is_within_its_bound() {
    let (rows, len) = (6usize, 17usize);
    let mut g = Prg::new(crate::mpc::Seed::insecure_fixed(83));
    let mut vals: Vec<f64> = (0..rows * len)
        .map(|_| uniform(&mut g, -8.0, 8.0))
        .collect();
    vals[..len].fill(0.25); // all equal: 1/17 each
    vals[len] = 40.0; // one dominant score: the rest clip to 0
    for v in &mut vals[2 * len..3 * len] {
        *v *= 0.01; // nearly flat
    }
    let x = ArrayD::from_shape_vec(IxDyn(&[rows, len]), vals).unwrap();
    let (y, costs) = joined(&x, |p, s| Box::pin(softmax(p, s)));
    let fp = fss().fixed;
    let mut worst = 0f64;
    for r in 0..rows {
        let q: Vec<f64> = (0..len).map(|j| fp.decode(fp.encode(x[[r, j]]))).collect();
        let m = q.iter().copied().fold(f64::MIN, f64::max);
        let sum: f64 = q.iter().map(|v| (v - m).exp()).sum();
        for j in 0..len {
            let want = (q[j] - m).exp() / sum;
            let err = (y[[r, j]] - want).abs();
            worst = worst.max(err);
            assert!(err <= 5e-3, "row {r} col {j}: {} vs {want}", y[[r, j]]);
        }
    }
    assert!(worst > 1e-5, "worst {worst}");
    let want = softmax_cost_fss(TruncMode::Local, rows, len, fp.frac_bits).unwrap();
    assert_cost("softmax", &costs, want);
    assert_eq!(
        costs.0.rounds,
        5 + 2 + 2,
        "max tree of 17, exp, normalisation"
    );
}

#[test]
fn normalisation_refuses_rows_outside_its_domain() {
    for len in [0usize, normalize::MAX_ROW + 1] {
        let e = normalize::cost(TruncMode::Local, 1, len, 16).unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
    }
    let (mut p0, _p1) = local_pair(fss()).unwrap();
    let x = ArithShare::zeros(&[2, 0]);
    let e = crate::mpc::exec::block_on_local(normalize::normalize(&mut p0, &x))
        .unwrap()
        .unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
}

#[test]
fn every_exp_call_opens_under_fresh_masks() {
    // The same input twice: a reused mask would open the same y^ again.
    let (a, b) = mem_pair();
    let (a, log_a, _) = Recording::new(a);
    let seeds = SessionSeeds::insecure_fixed(84);
    let (mut p0, mut p1) = local_pair_with(fss(), seeds, Box::new(a), Box::new(b)).unwrap();
    async fn twice(p: &mut Party) -> Result<Vec<u64>> {
        let x = ArrayD::from_elem(IxDyn(&[4]), -1.5);
        let mine = (p.id() == 0).then_some(&x);
        let s = share_input(p, 0, mine, &[4]).await?;
        let a = exp::exp_nonpositive(p, &s).await?;
        let b = exp::exp_nonpositive(p, &s).await?;
        Ok(reveal_ring(p, &a.sub(&b)?).await?.iter().copied().collect())
    }
    let (d, _) = run_joined(twice(&mut p0), twice(&mut p1)).unwrap();
    assert_eq!(d, vec![0; 4], "both calls compute the same value");
    let frames = log_a.borrow();
    // Party 0 receives, per call, party 1's share of y^ (4 bytes per element) and of the
    // product's openings (8 bytes per element and per factor), then the output's shares.
    let openings: Vec<&Vec<u8>> = frames.iter().filter(|f| f.len() == 20 + 16).collect();
    assert_eq!(openings.len(), 2, "one 4 x 4-byte opening per call");
    assert_ne!(
        openings[0][20..],
        openings[1][20..],
        "the second call reused the first's masks"
    );
}

fn gelu_f64(x: f64) -> f64 {
    0.5 * x * (1.0 + (0.797_884_560_802_865_4 * (x + 0.044715 * x * x * x)).tanh())
}

#[test]
fn gelu_is_within_its_bound_inside_and_outside_the_window() {
    let fp = fss().fixed;
    let ulp = 1.0 / fp.scale();
    let end = 4.0 - 1.0 / 512.0; // the window's last entry at q = 9
    let mut xs = vec![
        0.0,
        ulp,
        -ulp,
        -4.0,
        -4.0 - ulp,
        -4.0 + ulp,
        end - ulp,
        end,
        end + ulp,
    ];
    xs.extend([4.0, 6.0, -6.0, 100.0, -100.0, 32_000.0, -32_000.0]);
    let mut g = Prg::new(crate::mpc::Seed::insecure_fixed(85));
    xs.extend((0..300).map(|_| uniform(&mut g, -6.0, 6.0)));
    let n = xs.len();
    let x = ArrayD::from_shape_vec(IxDyn(&[n]), xs).unwrap();
    let (y, costs) = joined(&x, |p, s| Box::pin(super::super::gelu::gelu(p, s)));
    let mut worst = 0f64;
    for (v, got) in x.iter().zip(y.iter()) {
        let v = fp.decode(fp.encode(*v));
        let err = (got - gelu_f64(v)).abs();
        worst = worst.max(err);
        assert!(err <= 1.1e-3, "gelu({v}) = {got}");
    }
    assert!(worst > 1e-4, "worst {worst}");
    assert_cost("gelu", &costs, gelu::cost(n, 0, fp.frac_bits));
    assert_eq!(costs.0.rounds, 2);
}

#[test]
fn gelu_and_relu_share_the_opening() {
    let x = ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![-5.0, -1.0, -0.25, 0.0, 0.5, 3.0]).unwrap();
    let (y, costs) = joined(&x, |p, s| {
        Box::pin(async move {
            // GeLU of the first row, ReLU of the second, in one bundle.
            let (a, b) = (s.slice_axis(0, 0, 1)?, s.slice_axis(0, 1, 2)?);
            let (g, r) = super::super::gelu::gelu_relu(p, &a, &b).await?;
            ArithShare::concat(0, &[&g, &r])
        })
    });
    for j in 0..3 {
        assert!(
            (y[[0, j]] - gelu_f64(x[[0, j]])).abs() <= 1.1e-3,
            "gelu {}",
            x[[0, j]]
        );
        assert_eq!(y[[1, j]], x[[1, j]].max(0.0), "relu {}", x[[1, j]]);
    }
    assert_cost("gelu_relu", &costs, gelu::cost(3, 3, 16));
    // ReLU alone: the opening only.
    let (r, costs) = joined(&x, |p, s| {
        Box::pin(async move {
            let none = ArithShare::zeros(&[0]);
            Ok(super::super::gelu::gelu_relu(p, &none, s).await?.1)
        })
    });
    assert_eq!(r, x.mapv(|v| v.max(0.0)));
    assert_eq!(costs.0.rounds, 1);
}

#[test]
fn layer_norm_in_the_fss_family_is_within_its_bound() {
    use super::super::layer_norm::{layer_norm, layer_norm_cost_fss};
    let (rows, c) = (8usize, 64usize);
    let mut g = Prg::new(crate::mpc::Seed::insecure_fixed(86));
    // Standard deviations across the domain: from 0.1 (var 1e-2; below it the variance has few ulps at F = 16) to 300 (var 9e4).
    let stds = [0.1, 0.3, 0.5, 1.0, 1.7, 10.0, 35.0, 300.0];
    let mut vals = Vec::new();
    for sd in stds {
        let mean = uniform(&mut g, -2.0, 2.0);
        vals.extend((0..c).map(|_| mean + sd * uniform(&mut g, -1.7, 1.7)));
    }
    let x = ArrayD::from_shape_vec(IxDyn(&[rows, c]), vals).unwrap();
    let (y, costs) = joined(&x, |p, s| Box::pin(layer_norm(p, s, None, None, 1e-5)));
    let fp = fss().fixed;
    let mut worst = 0f64;
    for r in 0..rows {
        let q: Vec<f64> = (0..c).map(|j| fp.decode(fp.encode(x[[r, j]]))).collect();
        let mean = q.iter().sum::<f64>() / c as f64;
        let var = q.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / c as f64;
        for j in 0..c {
            let want = (q[j] - mean) / (var + 1e-5).sqrt();
            let err = (y[[r, j]] - want).abs();
            worst = worst.max(err);
            assert!(
                err <= 1e-2,
                "row {r} (std {}) col {j}: {} vs {want}",
                stds[r],
                y[[r, j]]
            );
        }
    }
    assert!(worst > 1e-5, "worst {worst}");
    let want = layer_norm_cost_fss(TruncMode::Local, rows, c, false, fp.frac_bits);
    assert_cost("layer_norm", &costs, want);
    assert_eq!(
        costs.0.rounds, 4,
        "squares, then the rsqrt gate's three rounds"
    );
}

#[test]
fn relu_softmax_in_the_fss_family_is_within_its_bound() {
    let (rows, len) = (6usize, 17usize);
    let mut g = Prg::new(crate::mpc::Seed::insecure_fixed(87));
    let mut vals: Vec<f64> = (0..rows * len)
        .map(|_| uniform(&mut g, -4.0, 4.0))
        .collect();
    vals[..len].fill(-1.0); // no positive entry: zeros
    vals[len..2 * len].fill(0.0);
    vals[len] = 900.0; // one large entry: about 1, the rest 0
    for v in &mut vals[2 * len..3 * len] {
        *v = v.abs() * 0.001; // small sums
    }
    for v in &mut vals[3 * len..4 * len] {
        *v = v.abs() * 100.0; // large sums
    }
    let x = ArrayD::from_shape_vec(IxDyn(&[rows, len]), vals).unwrap();
    let (y, costs) = joined(&x, |p, s| Box::pin(relu_softmax(p, s, 1e-8)));
    let fp = fss().fixed;
    let eps = 1.0 / fp.scale();
    let mut worst = 0f64;
    for r in 0..rows {
        let q: Vec<f64> = (0..len)
            .map(|j| fp.decode(fp.encode(x[[r, j]])).max(0.0))
            .collect();
        let sum: f64 = q.iter().sum::<f64>() + eps;
        for j in 0..len {
            let err = (y[[r, j]] - q[j] / sum).abs();
            worst = worst.max(err);
            assert!(
                err <= 1e-3,
                "row {r} col {j}: {} vs {}",
                y[[r, j]],
                q[j] / sum
            );
        }
    }
    assert!(worst > 1e-5, "worst {worst}");
    let want = relu_softmax_cost_fss(TruncMode::Local, rows, len, fp.frac_bits);
    assert_cost("relu_softmax", &costs, want);
    assert_eq!(
        costs.0.rounds,
        1 + 3 + 1,
        "relu, the division, its exact truncation"
    );
}

#[test]
fn relu_in_the_fss_family_is_exact_on_the_activation_domain() {
    use super::super::relu::relu;
    let x = ArrayD::from_shape_vec(
        IxDyn(&[8]),
        vec![
            -32767.5,
            -1000.0,
            -1.0 / 65536.0,
            0.0,
            1.0 / 65536.0,
            3.25,
            1000.0,
            32767.5,
        ],
    )
    .unwrap();
    let (y, costs) = joined(&x, |p, s| Box::pin(relu(p, s)));
    assert_eq!(y, x.mapv(|v| v.max(0.0)));
    let bits = super::activation_bits(16);
    assert_eq!(bits, 32);
    assert_cost("relu", &costs, super::relu::relu_cost(8, bits));
}
