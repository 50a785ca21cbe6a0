//! FSS in wasm under Node: DCF and DPF keys reconstruct their functions with both tree PRGs,
//! and the speed table of `mpcvit::mpc::fss::speed` is printed (a report, not a timed test:
//! `cargo test --target wasm32-unknown-unknown --test wasm_fss -- --nocapture`).
#![cfg(target_arch = "wasm32")]

use mpcvit::mpc::fss::{dcf, speed, AesMmo, ChaChaTree, TreePrg};
use mpcvit::mpc::{Prg, Seed};
use wasm_bindgen_test::*;

fn dcf_reconstructs<P: TreePrg>() {
    let g = P::new();
    let mut rng = Prg::new(Seed::insecure_fixed(1));
    for alpha in [0u64, 1, (1 << 63) - 1, 1 << 63, u64::MAX, rng.next_u64()] {
        let [k0, k1] = dcf::gen(&g, 64, alpha, 7, &mut rng).unwrap();
        for x in [
            0u64,
            alpha.wrapping_sub(1),
            alpha,
            alpha.wrapping_add(1),
            u64::MAX,
        ] {
            let y = dcf::eval(&g, &k0, x)
                .unwrap()
                .wrapping_add(dcf::eval(&g, &k1, x).unwrap());
            assert_eq!(y, if x < alpha { 7 } else { 0 });
        }
    }
}

#[wasm_bindgen_test]
fn dcf_in_wasm() {
    dcf_reconstructs::<AesMmo>();
    dcf_reconstructs::<ChaChaTree>();
}

#[wasm_bindgen_test]
fn speed_table() {
    speed::measure(200);
    let rows = speed::measure(2000);
    assert_eq!(rows.len(), 6);
    wasm_bindgen_test::console_log!("FSS speed in wasm (Node):\n{}", speed::table(&rows, None));
}
