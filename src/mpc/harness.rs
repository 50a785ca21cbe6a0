//! Both parties of one protocol run in this thread: the harness the per-protocol cost table
//! ([`super::bench`]), the protocol tests and the integration tests share. Inputs are shared by
//! their owners, the meter is reset, the program runs, the meter is read, and the result is
//! opened to party 0 (not metered), so a report holds exactly the program's cost.

use futures::future::LocalBoxFuture;
use ndarray::ArrayD;

use super::exec::run_joined;
use super::meter::Report;
use super::party::{local_pair_with, Party, SessionConfig, SessionSeeds};
use super::protocols::{reveal_to, share_input};
use super::share::ArithShare;
use super::transport::mem_pair;
use crate::{Error, Result};

/// A program on shared inputs, run by both parties.
pub type Program =
    for<'a> fn(&'a mut Party, Vec<ArithShare>) -> LocalBoxFuture<'a, Result<ArithShare>>;

/// What one joint run measured.
#[derive(Debug)]
pub struct Outcome {
    /// The program's result, opened to party 0.
    pub out: ArrayD<f64>,
    /// The program's cost, both parties' meters joined.
    pub joint: Report,
    /// The cost of sharing the inputs, both parties joined.
    pub inputs: Report,
}

/// One party's side of [`run`].
async fn party_side(
    p: &mut Party,
    inputs: &[(usize, ArrayD<f64>)],
    program: Program,
) -> Result<(Option<ArrayD<f64>>, Report, Report)> {
    p.meter.reset();
    let mut xs = Vec::with_capacity(inputs.len());
    for (owner, v) in inputs {
        let mine = (p.id() == *owner).then_some(v);
        xs.push(share_input(p, *owner, mine, v.shape()).await?);
    }
    let sharing = p.meter.report();
    p.meter.reset();
    let out = program(p, xs).await?;
    let report = p.meter.report();
    let opened = reveal_to(p, &out, 0).await?;
    Ok((opened, report, sharing))
}

/// Runs `program` on `inputs` (owner, value) with both parties joined over an in-memory
/// channel and an in-process dealer.
pub fn run(
    cfg: SessionConfig,
    seeds: SessionSeeds,
    inputs: &[(usize, ArrayD<f64>)],
    program: Program,
) -> Result<Outcome> {
    let (a, b) = mem_pair();
    let (mut p0, mut p1) = local_pair_with(cfg, seeds, Box::new(a), Box::new(b))?;
    let ((o0, r0, s0), (_, r1, s1)) = run_joined(
        party_side(&mut p0, inputs, program),
        party_side(&mut p1, inputs, program),
    )?;
    Ok(Outcome {
        out: o0.ok_or_else(|| Error::Protocol("party 0 did not receive the result".into()))?,
        joint: Report::joint(&r0, &r1),
        inputs: Report::joint(&s0, &s1),
    })
}

/// A [`Program`] from a closure-like body: `program!(|p, x| pr::relu(p, &x[0]).await)`.
#[macro_export]
macro_rules! program {
    (|$p:ident, $x:ident| $body:expr) => {{
        fn program<'a>(
            $p: &'a mut $crate::mpc::Party,
            $x: Vec<$crate::mpc::ArithShare>,
        ) -> futures::future::LocalBoxFuture<'a, $crate::Result<$crate::mpc::ArithShare>> {
            Box::pin(async move { $body })
        }
        program as $crate::mpc::harness::Program
    }};
}
