//! The FSS family against plaintext on random and edge inputs, its costs against the meter
//! (per party, offline bytes per direction), key freshness and the dealer streaming ahead.

use std::cell::RefCell;
use std::rc::Rc;

use futures::future::LocalBoxFuture;
use ndarray::{ArrayD, IxDyn};

use super::super::cost::Cost;
use super::super::input::{reveal_ring, share_input_ring};
use super::{relu, sign};
use crate::mpc::dealer::{Dealer, DealerClient};
use crate::mpc::exec::{block_on_local, run_joined};
use crate::mpc::share::{ArithShare, BitShare};
use crate::mpc::transport::{mem_pair, Recording};
use crate::mpc::{Party, Prg, SessionConfig, SessionSeeds, Stats};
use crate::Result;

/// A protocol output: additive shares or XOR-shared bits.
enum Out {
    Arith(ArithShare),
    Bits(BitShare),
}

type Op = for<'a> fn(&'a mut Party, ArithShare) -> LocalBoxFuture<'a, Result<Out>>;

fn parties(seed: u64) -> (Party, Party, Rc<RefCell<Dealer>>) {
    let s = SessionSeeds::insecure_fixed(seed);
    let dealer = Rc::new(RefCell::new(Dealer::new(s.dealer0, s.dealer1)));
    let (a, b) = mem_pair();
    let c0 = DealerClient::party0_on_demand(s.dealer0, dealer.clone());
    let c1 = DealerClient::party1_on_demand(s.dealer1, dealer.clone());
    let cfg = SessionConfig::default();
    let p0 = Party::new(0, cfg, Box::new(a), c0, s.local0).unwrap();
    let p1 = Party::new(1, cfg, Box::new(b), c1, s.local1).unwrap();
    (p0, p1, dealer)
}

/// Shares `xs` (party 0's input), runs `op` metered alone, opens the result.
async fn program(p: &mut Party, xs: &[u64], op: Op) -> Result<(Vec<u64>, Stats)> {
    let shape = [xs.len()];
    let v = ArrayD::from_shape_vec(IxDyn(&shape), xs.to_vec()).expect("1-d");
    let mine = (p.id() == 0).then_some(&v);
    let x = share_input_ring(p, 0, mine, &shape).await?;
    p.meter.reset();
    let out = op(p, x).await?;
    let stats = p.meter.report().total();
    let opened = match out {
        Out::Arith(a) => reveal_ring(p, &a).await?.iter().copied().collect(),
        Out::Bits(b) => {
            let words = (0..b.len()).map(|i| b.get(i) as u64).collect();
            let a = ArithShare::from_vec(&[b.len()], words)?;
            let sums = reveal_ring(p, &a).await?;
            sums.iter().map(|s| s & 1).collect()
        }
    };
    Ok((opened, stats))
}

/// Runs `op` on `xs`; checks the result against `want` and the meter against `cost`, and that
/// FSS protocols draw no classic correlation.
fn check(name: &str, xs: &[u64], op: Op, want: impl Fn(u64) -> u64, cost: Cost) {
    check_with(name, xs, op, want, cost, 0)
}

fn check_with(name: &str, xs: &[u64], op: Op, want: impl Fn(u64) -> u64, cost: Cost, classic: u64) {
    let (mut p0, mut p1, dealer) = parties(3);
    let ((out, s0), (_, s1)) =
        run_joined(program(&mut p0, xs, op), program(&mut p1, xs, op)).unwrap();
    for (i, &x) in xs.iter().enumerate() {
        assert_eq!(out[i], want(x), "{name}: x = {x:#x}");
    }
    let got = Cost {
        rounds: s0.rounds,
        p0_to_p1: s0.sent,
        p1_to_p0: s0.recv,
        offline: s1.offline_recv,
        offline_p0: s0.offline_recv,
    };
    assert_eq!(got, cost, "{name}: metered cost differs from the formula");
    assert_eq!((s1.rounds, s1.sent, s1.recv), (s0.rounds, s0.recv, s0.sent));
    assert_eq!(
        dealer.borrow().count(),
        classic,
        "{name}: classic correlations"
    );
}

/// Ring elements around every landmark of signed 64-bit values, and random ones.
fn inputs_64() -> Vec<u64> {
    let mut v = vec![];
    for m in [
        0u64,
        1 << 63,
        (1 << 63) - 1,
        u64::MAX,
        1,
        2,
        1 << 62,
        3 << 62,
    ] {
        v.extend([m.wrapping_sub(1), m, m.wrapping_add(1)]);
    }
    let mut g = Prg::new(crate::mpc::Seed::insecure_fixed(9));
    v.extend((0..40).map(|_| g.next_u64()));
    v.extend((0..40).map(|_| g.next_u64() >> 40));
    v.extend((0..40).map(|_| (g.next_u64() >> 40).wrapping_neg()));
    v
}

/// Values within `bits` bits (signed), with the extremes of the range.
fn inputs_within(bits: u32) -> Vec<u64> {
    let half = 1u64 << (bits - 1);
    let mut v = vec![0, 1, u64::MAX, half - 1, half.wrapping_neg(), half - 2];
    v.push(half.wrapping_neg().wrapping_add(1));
    let mut g = Prg::new(crate::mpc::Seed::insecure_fixed(10));
    v.extend((0..60).map(|_| {
        let r = g.next_u64() >> (65 - bits);
        if g.next_u64() & 1 == 1 {
            r.wrapping_neg()
        } else {
            r
        }
    }));
    v
}

fn neg(x: u64) -> u64 {
    x >> 63
}

#[test]
fn msb_and_drelu_are_exact_on_the_whole_ring() {
    let xs = inputs_64();
    let n = xs.len();
    check(
        "msb",
        &xs,
        |p, x| Box::pin(async move { Ok(Out::Bits(sign::msb(p, &x).await?)) }),
        neg,
        sign::cost(n, 64),
    );
    check(
        "drelu",
        &xs,
        |p, x| Box::pin(async move { Ok(Out::Bits(sign::drelu(p, &x).await?)) }),
        |x| 1 - neg(x),
        sign::cost(n, 64),
    );
    check(
        "drelu values",
        &xs,
        |p, x| Box::pin(async move { Ok(Out::Arith(sign::drelu_values(p, &x, 64).await?)) }),
        |x| 1 - neg(x),
        sign::cost(n, 64),
    );
}

#[test]
fn reduced_width_sign_within_its_domain() {
    for bits in [2u32, 8, 21, 37] {
        let xs = inputs_within(bits);
        let n = xs.len();
        let op: Op = match bits {
            2 => |p, x| Box::pin(async move { Ok(Out::Bits(sign::msb_within(p, &x, 2).await?)) }),
            8 => |p, x| Box::pin(async move { Ok(Out::Bits(sign::msb_within(p, &x, 8).await?)) }),
            21 => |p, x| Box::pin(async move { Ok(Out::Bits(sign::msb_within(p, &x, 21).await?)) }),
            _ => |p, x| Box::pin(async move { Ok(Out::Bits(sign::msb_within(p, &x, 37).await?)) }),
        };
        check(&format!("msb {bits}"), &xs, op, neg, sign::cost(n, bits));
    }
}

#[test]
fn comparisons() {
    // x < c for c = 0.5 (fixed point, F = 16): thresholds around 2^15.
    let c = 1u64 << 15;
    let mut xs = inputs_within(40);
    xs.extend([c - 1, c, c + 1]);
    let n = xs.len();
    check(
        "lt_const",
        &xs,
        |p, x| Box::pin(async move { Ok(Out::Bits(sign::lt_const(p, &x, 0.5).await?)) }),
        move |x| ((x as i64) < c as i64) as u64,
        sign::cost(n, 64),
    );
    // x < y for y = the reversed input vector (both shared).
    let ys: Vec<u64> = xs.iter().rev().copied().collect();
    let pairs: Vec<(u64, u64)> = xs.iter().copied().zip(ys.iter().copied()).collect();
    let both: Vec<u64> = xs.iter().chain(&ys).copied().collect();
    let (mut p0, mut p1, _) = parties(4);
    let op: Op = |p, xy| {
        Box::pin(async move {
            let h = xy.len() / 2;
            let (x, y) = (xy.slice_axis(0, 0, h)?, xy.slice_axis(0, h, 2 * h)?);
            Ok(Out::Bits(sign::lt(p, &x, &y).await?))
        })
    };
    let ((out, s0), _) =
        run_joined(program(&mut p0, &both, op), program(&mut p1, &both, op)).unwrap();
    for (i, (x, y)) in pairs.iter().enumerate() {
        assert_eq!(out[i], ((*x as i64) < (*y as i64)) as u64, "{x} < {y}");
    }
    assert_eq!(s0.rounds, 1);
}

#[test]
fn relu_is_exact_in_one_round() {
    let xs = inputs_64();
    let n = xs.len();
    check(
        "relu",
        &xs,
        |p, x| Box::pin(async move { Ok(Out::Arith(relu::relu(p, &x).await?)) }),
        |x| if neg(x) == 1 { 0 } else { x },
        relu::relu_cost(n, 64),
    );
    let xs = inputs_within(30);
    let n = xs.len();
    check(
        "relu 30",
        &xs,
        |p, x| Box::pin(async move { Ok(Out::Arith(relu::relu_within(p, &x, 30).await?)) }),
        |x| if neg(x) == 1 { 0 } else { x },
        relu::relu_cost(n, 30),
    );
}

#[test]
fn select_picks_by_the_bit() {
    let xs = inputs_64();
    let n = xs.len();
    // b = [x >= 0], select(b, x, -x) = |x| (the negative end wraps as in the ring).
    let op: Op = |p, x| {
        Box::pin(async move {
            let b = sign::drelu(p, &x).await?;
            p.meter.reset();
            Ok(Out::Arith(relu::select(p, &b, &x, &x.neg()).await?))
        })
    };
    check_with(
        "select",
        &xs,
        op,
        |x| {
            if neg(x) == 1 {
                x.wrapping_neg()
            } else {
                x
            }
        },
        relu::select_cost(n),
        1,
    );
}

#[test]
fn every_call_takes_fresh_keys_once() {
    // The same input compared twice: two key requests, each dealt once and taken once by each
    // party, and the masked openings differ (a reused key would open the same x^ again).
    let xs = vec![5u64, 5, 1 << 40];
    let (a, b) = mem_pair();
    let (a, log_a, _) = Recording::new(a);
    let s = SessionSeeds::insecure_fixed(11);
    let dealer = Rc::new(RefCell::new(Dealer::new(s.dealer0, s.dealer1)));
    let cfg = SessionConfig::default();
    let c0 = DealerClient::party0_on_demand(s.dealer0, dealer.clone());
    let c1 = DealerClient::party1_on_demand(s.dealer1, dealer.clone());
    let mut p0 = Party::new(0, cfg, Box::new(a), c0, s.local0).unwrap();
    let mut p1 = Party::new(1, cfg, Box::new(b), c1, s.local1).unwrap();
    let op: Op = |p, x| {
        Box::pin(async move {
            let a = sign::msb(p, &x).await?;
            let b = sign::msb(p, &x).await?;
            Ok(Out::Bits(a.xor(&b)?))
        })
    };
    let ((out, s0), (_, s1)) =
        run_joined(program(&mut p0, &xs, op), program(&mut p1, &xs, op)).unwrap();
    assert_eq!(out, vec![0, 0, 0]);
    {
        let mut d = dealer.borrow_mut();
        assert_eq!(d.keys().dealt(), 2);
        assert_eq!((d.keys().pending(0), d.keys().pending(1)), (0, 0));
    }
    let bundle = (sign::cost(3, 64).offline) * 2;
    assert_eq!((s0.offline_recv, s1.offline_recv), (bundle, bundle));
    // Party 0 received: the two sign openings, then the output opening.
    let frames = log_a.borrow();
    let (first, second) = (&frames[0], &frames[1]);
    assert_eq!(first.len(), second.len());
    assert_ne!(
        first[20..],
        second[20..],
        "the second call reused the first's masks"
    );
    // Element 0 and 1 are equal inputs with independent masks.
    assert_ne!(first[20..28], first[28..36]);
}

#[test]
fn dealer_streams_keys_to_both_parties_ahead() {
    let xs = inputs_64();
    let s = SessionSeeds::insecure_fixed(12);
    let cfg = SessionConfig::default();
    let op: Op = |p, x| Box::pin(async move { Ok(Out::Arith(relu::relu(p, &x).await?)) });
    let (d_to_p0, p0_keys) = mem_pair();
    let (d_to_p1, p1_corr) = mem_pair();
    {
        let mut d = Party::dealer_to_both(
            cfg,
            Dealer::new(s.dealer0, s.dealer1),
            Box::new(d_to_p0),
            Box::new(d_to_p1),
        );
        let zeros = vec![0u64; xs.len()];
        block_on_local(async {
            // The dealer plays party 1 (no input of its own): the same calls, dummy data.
            let shape = [zeros.len()];
            let x = share_input_ring(&mut d, 0, None, &shape).await?;
            relu::relu(&mut d, &x).await?;
            Result::Ok(())
        })
        .unwrap()
        .unwrap();
    }
    let (a, b) = mem_pair();
    let c0 = DealerClient::party0_remote_keys(s.dealer0, Box::new(p0_keys));
    let c1 = DealerClient::party1_remote(s.dealer1, Box::new(p1_corr));
    let mut p0 = Party::new(0, cfg, Box::new(a), c0, s.local0).unwrap();
    let mut p1 = Party::new(1, cfg, Box::new(b), c1, s.local1).unwrap();
    let ((out, s0), (_, s1)) =
        run_joined(program(&mut p0, &xs, op), program(&mut p1, &xs, op)).unwrap();
    for (o, x) in out.iter().zip(&xs) {
        assert_eq!(*o, if neg(*x) == 1 { 0 } else { *x });
    }
    let c = relu::relu_cost(xs.len(), 64);
    assert_eq!(
        (s0.offline_recv, s1.offline_recv),
        (c.offline_p0, c.offline)
    );
}

#[test]
fn a_party_without_a_key_channel_gets_an_error() {
    let s = SessionSeeds::insecure_fixed(13);
    let dealer = Rc::new(RefCell::new(Dealer::new(s.dealer0, s.dealer1)));
    let (a, b) = mem_pair();
    let cfg = SessionConfig::default();
    let c0 = DealerClient::party0(s.dealer0);
    let c1 = DealerClient::party1_on_demand(s.dealer1, dealer);
    let mut p0 = Party::new(0, cfg, Box::new(a), c0, s.local0).unwrap();
    let mut p1 = Party::new(1, cfg, Box::new(b), c1, s.local1).unwrap();
    let op: Op = |p, x| Box::pin(async move { Ok(Out::Bits(sign::msb(p, &x).await?)) });
    let e = run_joined(program(&mut p0, &[1], op), program(&mut p1, &[1], op)).unwrap_err();
    assert!(format!("{e}").contains("no dealer channel"), "{e}");
}

#[test]
fn keys_frames_out_of_step_are_rejected() {
    // The dealer dealt a sign bundle; party 0 asks for a ReLU bundle at that position.
    let s = SessionSeeds::insecure_fixed(14);
    let cfg = SessionConfig::default();
    let (d_to_p0, p0_keys) = mem_pair();
    let (d_to_p1, _p1_corr) = mem_pair();
    let mut d = Party::dealer_to_both(
        cfg,
        Dealer::new(s.dealer0, s.dealer1),
        Box::new(d_to_p0),
        Box::new(d_to_p1),
    );
    block_on_local(async {
        let x = share_input_ring(&mut d, 0, None, &[2]).await?;
        sign::msb(&mut d, &x).await?;
        Result::Ok(())
    })
    .unwrap()
    .unwrap();
    let (a, _b) = mem_pair();
    let c0 = DealerClient::party0_remote_keys(s.dealer0, Box::new(p0_keys));
    let mut p0 = Party::new(0, cfg, Box::new(a), c0, s.local0).unwrap();
    let e = block_on_local(async {
        let x = ArithShare::zeros(&[2]);
        relu::relu(&mut p0, &x).await
    })
    .unwrap()
    .unwrap_err();
    assert!(format!("{e}").contains("fss keys from the dealer"), "{e}");
}

#[test]
fn the_classic_protocols_run_on_the_fss_sign_gate() {
    use crate::mpc::protocols as pr;
    use crate::mpc::{local_pair, ProtocolFamily};
    let cfg = SessionConfig {
        family: ProtocolFamily::Fss,
        ..SessionConfig::default()
    };
    let mut g = Prg::new(crate::mpc::Seed::insecure_fixed(15));
    let vals: Vec<f64> = (0..64)
        .map(|_| (g.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 8.0 - 4.0)
        .collect();
    let x = ArrayD::from_shape_vec(IxDyn(&[8, 8]), vals).unwrap();
    let fp = cfg.fixed;
    let q = x.mapv(|v| fp.decode(fp.encode(v)));
    type Outs = (Vec<ArrayD<f64>>, Vec<u64>);
    async fn run(p: &mut Party, x: &ArrayD<f64>) -> Result<Outs> {
        let mine = (p.id() == 0).then_some(x);
        let s = pr::share_input(p, 0, mine, x.shape()).await?;
        let (mut outs, mut rounds) = (Vec::new(), Vec::new());
        for step in 0..3 {
            p.meter.reset();
            let y = match step {
                0 => pr::relu(p, &s).await?,
                1 => pr::max_last(p, &s).await?,
                _ => pr::gelu(p, &s).await?,
            };
            rounds.push(p.meter.report().total().rounds);
            outs.push(pr::reveal(p, &y).await?);
        }
        Ok((outs, rounds))
    }
    let (mut p0, mut p1) = local_pair(cfg).unwrap();
    let ((outs, rounds), _) = run_joined(run(&mut p0, &x), run(&mut p1, &x)).unwrap();
    assert_eq!(outs[0], q.mapv(|v| v.max(0.0)), "relu is exact");
    let want_max = q.map_axis(ndarray::Axis(1), |r| r.fold(f64::MIN, |a, &b| a.max(b)));
    assert_eq!(
        outs[1].iter().copied().collect::<Vec<_>>(),
        want_max.iter().copied().collect::<Vec<_>>()
    );
    for (y, v) in outs[2].iter().zip(q.iter()) {
        let t = (0.797_884_560_8 * (v + 0.044715 * v * v * v)).tanh();
        assert!((y - 0.5 * v * (1.0 + t)).abs() < 1.1e-3, "gelu({v}) = {y}");
    }
    // ReLU: one round on a two-word DCF key; max of 8: three levels of one-round ReLU; GeLU:
    // the opening and the signed product.
    assert_eq!(rounds, [1, 3, 2]);
}
