//! How fast each PRG makes the FSS primitives: key generation and evaluation per second for a
//! 63-bit DCF (the comparison key of `crate::mpc::protocols::fss`) and a 16-bit DPF with bit
//! outputs (a lookup-table key), natively and in wasm (Node) in one run (`mpcvit bench fss`,
//! through `scripts/bench-wasm-fss.mjs`), or in wasm alone (`tests/wasm_fss.rs` prints the
//! table from Node). Not a timed test:
//! figures move with the machine's load; the table reports, it does not assert.

use super::prg::{AesMmo, ChaChaTree, TreePrg};
use super::{dcf, dpf};
use crate::mpc::network::now_s;
use crate::mpc::{Prg, Seed};

/// One measured primitive.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpeedRow {
    /// PRG name.
    pub prg: String,
    /// "dcf 63-bit", "dpf 16-bit, 1-bit out", "dpf full domain".
    pub what: String,
    /// Bytes of one party's key.
    pub key_bytes: usize,
    /// Key pairs generated per second.
    pub gen_per_s: f64,
    /// Single-point evaluations per second (one party; full-domain: outputs per second).
    pub eval_per_s: f64,
}

/// Times `f` over `reps` repetitions, returning operations per second.
fn rate(reps: usize, mut f: impl FnMut(usize)) -> f64 {
    let t0 = now_s();
    for i in 0..reps {
        f(i);
    }
    reps as f64 / (now_s() - t0).max(1e-9)
}

fn rows_for<P: TreePrg>(reps: usize) -> Vec<SpeedRow> {
    let g = P::new();
    let mut rng = Prg::new(Seed::insecure_fixed(99));
    let alphas: Vec<u64> = (0..reps).map(|_| rng.next_u64() >> 1).collect();
    let mut sink = 0u64;
    let mut dcf_keys = Vec::with_capacity(reps);
    let dcf_gen = rate(reps, |i| {
        dcf_keys.push(dcf::gen(&g, 63, alphas[i], 1, &mut rng).expect("in domain"));
    });
    let dcf_eval = rate(reps, |i| {
        let x = alphas[(i + 1) % reps];
        sink ^= dcf::eval(&g, &dcf_keys[i][0], x).expect("in domain");
    });
    let mut dpf_keys = Vec::with_capacity(reps);
    let dpf_gen = rate(reps, |i| {
        let a = alphas[i] & 0xFFFF;
        dpf_keys.push(dpf::gen(&g, 16, 0, a, 1, &mut rng).expect("in domain"));
    });
    let dpf_eval = rate(reps, |i| {
        sink ^= dpf::eval(&g, &dpf_keys[i][0], alphas[i] & 0xFFFF).expect("in domain");
    });
    let full_reps = (reps / 256).max(1);
    let full = rate(full_reps, |i| {
        sink ^= dpf::eval_all(&g, &dpf_keys[i][0]).expect("16 bits")[7];
    }) * 65536.0;
    // Keep the evaluations observable so the optimiser cannot drop them.
    std::hint::black_box(sink);
    let dpf_len = dpf::key_len(16, 0).expect("valid shape");
    vec![
        SpeedRow {
            prg: P::NAME.into(),
            what: "dcf 63-bit".into(),
            key_bytes: dcf::key_len(63),
            gen_per_s: dcf_gen,
            eval_per_s: dcf_eval,
        },
        SpeedRow {
            prg: P::NAME.into(),
            what: "dpf 16-bit, 1-bit out".into(),
            key_bytes: dpf_len,
            gen_per_s: dpf_gen,
            eval_per_s: dpf_eval,
        },
        SpeedRow {
            prg: P::NAME.into(),
            what: "dpf 16-bit full domain (outputs/s)".into(),
            key_bytes: dpf_len,
            gen_per_s: dpf_gen,
            eval_per_s: full,
        },
    ]
}

/// Both PRGs, `reps` keys each.
pub fn measure(reps: usize) -> Vec<SpeedRow> {
    let mut v = rows_for::<AesMmo>(reps);
    v.extend(rows_for::<ChaChaTree>(reps));
    v
}

/// A Markdown table of `rows`, with the wasm evaluation rate and the native / wasm ratio when
/// `wasm` (the same rows measured in wasm) is given.
pub fn table(rows: &[SpeedRow], wasm: Option<&[SpeedRow]>) -> String {
    let mut s = String::from("| prg | key | key bytes | key pairs / s | evaluations / s |");
    if wasm.is_some() {
        s.push_str(" wasm evaluations / s | native / wasm |\n|---|---|---|---|---|---|---|\n");
    } else {
        s.push_str("\n|---|---|---|---|---|\n");
    }
    for (i, r) in rows.iter().enumerate() {
        s.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.0} |",
            r.prg, r.what, r.key_bytes, r.gen_per_s, r.eval_per_s
        ));
        if let Some(w) = wasm.and_then(|w| w.get(i)) {
            s.push_str(&format!(
                " {:.0} | {:.2} |",
                w.eval_per_s,
                r.eval_per_s / w.eval_per_s.max(1e-9)
            ));
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_both_prgs() {
        let rows = measure(4);
        assert_eq!(rows.len(), 6);
        assert!(rows.iter().all(|r| r.eval_per_s > 0.0 && r.gen_per_s > 0.0));
        assert_eq!(rows[0].key_bytes, 1556);
        assert_eq!(table(&rows, None).lines().count(), 8);
        assert!(table(&rows, Some(&rows)).contains("| 1.00 |"));
    }
}
