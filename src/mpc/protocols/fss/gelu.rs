//! GeLU in **two online rounds** from one masked opening: `gelu(x) = relu(x) - [-4 <= x < 4]
//! D(x)` with `D = relu - gelu` read from a lookup table on the window (Pika, PETS 2022, for the
//! table; SIGMA, PETS 2024, section 5, computes GeLU the same way, as ReLU minus a tabulated
//! correction on a clipped range). ReLU comes from the one-round ReLU gate ([`super::relu`]);
//! the window's two comparisons from the same DCF key at public offsets of the same opening;
//! one signed product ([`super::signed_mul`]) applies the window and removes the lookup's sign.
//! MPCViT+'s linearised tokens (section 4.5) take plain ReLU elements in the same bundle and
//! the same opening ([`gelu_relu_unmetered`]).
//!
//! **Domain and error.** `k = max(32, F + 8)`-bit values shifted by 4 (`|x| < 2^(k-1-F) - 8`:
//! 32,760 at `F = 16`); outside it `x` is read mod `2^k`. With `q = min(F, 9)` fractional
//! index bits the window `[-4, 4 - 2^-q)` has `2^(q+3)` entries (4,096 at `F = 16`), and the
//! error is below `max |D'| 2^-q + 2^-(F+1) + 7e-5` (`|D'| <= 1/2`, the kink of ReLU at 0;
//! `7e-5 = |gelu(-4)|`, GeLU's distance to ReLU outside the window): 1.1e-3 at `F = 16`.
//! The entry read is the cell's or the next one (the mask's carry into the index, uniform), so
//! the error is unbiased; `q = 9` rather than 10 halves the full-domain evaluation, which is
//! most of the FSS family's local work (0.26 -> 0.18 s per image for Fashion-MNIST's MPCViT
//! mu=0.3, the largest logit error over 150 test images 0.061 -> 0.067, the mean 0.0064 ->
//! 0.0062).
//!
//! **Protocol.** The dealer draws a mask `r` and deals a ReLU element (two-word DCF key on
//! `k - 1` bits, shares of `r`, `msb_k(r)`, `msb_k(r) r`), a lookup key at
//! `rho = (r >> (F - q)) mod 2^(q+3)` and a signed-product element. Round 1 opens `x^ = x + r`
//! (8 bytes). Locally: `relu(x)` (the ReLU gate); with `u = x + 4` (so `u^ = x^ + 4`) the
//! window bit `[0 <= u < c] = msb(u - c) - msb(u)`, `c = (2^(q+3) - 1) 2^(F-q)`, from the DCF at
//! `u^ - c` and `u^`; the lookup at `j^ = (u^ >> (F - q)) mod 2^(q+3)` gives `sigma D[j + c0]`
//! (`c0` the low bits' carry, as in [`super::exp`]), `D[i] = round((relu - gelu)(i 2^-q - 4)
//! 2^F)`. Round 2 is the signed product of the window bit and the entry.
//!
//! **Cost** ([`cost`]) on `n` GeLU and `m` ReLU elements: 2 rounds (1 if `n = 0`),
//! `8 (n + m) + 16 n` bytes each way; offline per party
//! `n (relu element + lut::key_len(q + 3) + 48) + m (relu element)` bytes.
//!
//! **Security.** Each party's view is its bundle (random-looking keys, uniform shares), the
//! uniform `x^` and the product's uniform openings ([`super::relu`], [`super::lut`],
//! [`super::signed_mul`]). The DCF key is evaluated at `x^`, `x^ + 4` and `x^ + 4 - c`: public
//! offsets of the one opened value, which the simulator computes from `x^` alone, so the extra
//! evaluations add nothing to the view. No key meets a second masked value.

use super::super::super::fss::deal::KeyRequest;
use super::super::super::fss::dpf::DpfKey;
use super::super::super::fss::{EnginePrg, TreePrg};
use super::super::super::party::Party;
use super::super::super::share::ArithShare;
use super::super::cost::Cost;
use super::super::registry as tags;
use super::gate::{check_bits, deal_elements, low_mask, open_masked, opening_cost, parse_elements};
use super::lut;
use super::relu::ElementKey as ReluElement;
use super::signed_mul::{self, deal_row, signed_mul, RowKey};
use crate::mpc::Prg;
use crate::Result;

/// GeLU, tanh form (Hendrycks and Gimpel, 2016), the form the models use.
fn gelu_tanh(x: f64) -> f64 {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
}

/// The window's half width: ReLU and GeLU differ by at most 7e-5 outside `[-4, 4]`.
const HALF_WINDOW: f64 = 4.0;

/// The widths of the gate at `F` fractional bits.
#[derive(Clone, Copy, Debug)]
struct Widths {
    /// `k`: the width the comparisons read.
    bits: u32,
    /// `q`: fractional bits of the index.
    step_log: u32,
    /// `F - q`.
    shift: u32,
    /// `q + 3`: the table's index bits.
    table_bits: u32,
    /// `4` in ring units.
    offset: u64,
}

impl Widths {
    fn new(frac_bits: u32) -> Widths {
        let step_log = frac_bits.min(9);
        Widths {
            bits: 32.max(frac_bits + 8),
            step_log,
            shift: frac_bits - step_log,
            table_bits: step_log + 3,
            offset: (HALF_WINDOW as u64) << frac_bits,
        }
    }

    /// The window's end `c = (2^(q+3) - 1) 2^(F-q)` on `u = x + 4`.
    fn end(&self) -> u64 {
        low_mask(self.table_bits) << self.shift
    }

    fn lut_len(&self) -> usize {
        lut::key_len(self.table_bits).expect("window tables are within the DPF's domain")
    }
}

/// `D[i] = round((relu - gelu)(i 2^-q - 4) 2^F)` (non-negative).
fn table(frac_bits: u32, w: Widths) -> Vec<u64> {
    let scale = 2f64.powi(frac_bits as i32);
    (0..1u64 << w.table_bits)
        .map(|i| {
            let x = i as f64 * 2f64.powi(-(w.step_log as i32)) - HALF_WINDOW;
            ((x.max(0.0) - gelu_tanh(x)) * scale).round() as u64
        })
        .collect()
}

/// The GeLU bundle: `n` GeLU elements, then `m` plain ReLU elements.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GeluKeys {
    pub n: usize,
    pub m: usize,
    pub frac_bits: u32,
}

/// One party's material for one GeLU element.
struct GeluElement {
    relu: ReluElement,
    dpf: DpfKey,
    mul: RowKey,
}

impl GeluKeys {
    fn gelu_len(&self, w: Widths) -> usize {
        ReluElement::len(w.bits) + w.lut_len() + RowKey::bytes_len(1)
    }

    fn split_at(&self, w: Widths) -> usize {
        self.n * self.gelu_len(w)
    }

    fn parse(
        &self,
        bytes: &[u8],
        party: usize,
        w: Widths,
    ) -> Result<(Vec<GeluElement>, Vec<ReluElement>)> {
        let cut = self.split_at(w).min(bytes.len());
        let (a, b) = bytes.split_at(cut);
        let (rl, ll) = (ReluElement::len(w.bits), w.lut_len());
        let gelu = parse_elements("fss gelu bundle", a, self.n, self.gelu_len(w), |c| {
            Ok(GeluElement {
                relu: ReluElement::parse(&c[..rl], party, w.bits)?,
                dpf: lut::parse(&c[rl..rl + ll], party, w.table_bits)?,
                mul: RowKey::parse(&c[rl + ll..], 1),
            })
        })?;
        let relu = parse_elements("fss gelu bundle (relu part)", b, self.m, rl, |c| {
            ReluElement::parse(c, party, w.bits)
        })?;
        Ok((gelu, relu))
    }
}

impl KeyRequest for GeluKeys {
    fn tag(&self) -> u32 {
        tags::GELU
    }

    fn bundle_len(&self, _party: usize) -> usize {
        let w = Widths::new(self.frac_bits);
        self.split_at(w) + self.m * ReluElement::len(w.bits)
    }

    fn deal(&self, rng: &mut Prg) -> Result<[Vec<u8>; 2]> {
        let w = Widths::new(self.frac_bits);
        let [mut a0, mut a1] = deal_elements(self.n, w.bits, rng, |g, mask, rng| {
            let rho = (mask.r >> w.shift) & low_mask(w.table_bits);
            let [r0, r1] = ReluElement::deal(g, mask, w.bits, rng)?;
            let ([l0, l1], sigma) = lut::deal(g, w.table_bits, rho, rng)?;
            let [s0, s1] = deal_row(sigma, 1, rng);
            Ok([[r0, l0, s0].concat(), [r1, l1, s1].concat()])
        })?;
        let [b0, b1] = deal_elements(self.m, w.bits, rng, |g, mask, rng| {
            ReluElement::deal(g, mask, w.bits, rng)
        })?;
        a0.extend(b0);
        a1.extend(b1);
        Ok([a0, a1])
    }
}

/// GeLU of `x` and (when given) ReLU of `r` (see the module doc for the domain and the
/// error): 2 rounds. The entry points [`crate::mpc::protocols::gelu`] and
/// [`crate::mpc::protocols::gelu_relu`] call it in the FSS family, under their meter labels.
pub(crate) async fn gelu_relu_unmetered(
    p: &mut Party,
    x: &ArithShare,
    r: Option<&ArithShare>,
) -> Result<(ArithShare, Option<ArithShare>)> {
    let frac_bits = p.fp().frac_bits;
    let w = Widths::new(frac_bits);
    check_bits(w.bits)?;
    let (n, m) = (x.len(), r.map_or(0, |r| r.len()));
    let req = GeluKeys { n, m, frac_bits };
    let bytes = p.keys(&req).await?;
    let id = p.id();
    let (gelu_keys, relu_keys) = req.parse(&bytes, id, w)?;
    let mut parts = vec![x.reshape(&[n])?];
    if let Some(r) = r {
        parts.push(r.reshape(&[m])?);
    }
    let all = ArithShare::concat(0, &parts.iter().collect::<Vec<_>>())?;
    let masks = gelu_keys
        .iter()
        .map(|e| e.relu.r)
        .chain(relu_keys.iter().map(|e| e.r));
    let x_hat = open_masked(p, &all, masks, 8).await?;
    let (g, one) = (EnginePrg::new(), u64::from(id == 0));
    let table = table(frac_bits, w);
    let (mut relu, mut window, mut entry, mut muls) = (vec![], vec![], vec![], vec![]);
    // The keys are consumed here: each element's keys meet its one masked input only (the
    // DCF at public offsets of it).
    for (e, &xh) in gelu_keys.into_iter().zip(&x_hat) {
        relu.push(e.relu.relu(&g, xh, w.bits, one)?);
        let u_hat = xh.wrapping_add(w.offset);
        let (below_end, _) = e
            .relu
            .sign_at(&g, u_hat.wrapping_sub(w.end()), w.bits, one)?;
        let (below_start, _) = e.relu.sign_at(&g, u_hat, w.bits, one)?;
        window.push(below_end.wrapping_sub(below_start));
        let j_hat = (u_hat >> w.shift) & low_mask(w.table_bits);
        entry.push(lut::lookup(&g, &e.dpf, j_hat, &table)?);
        muls.push(e.mul);
    }
    let linear = relu_keys
        .into_iter()
        .zip(&x_hat[n..])
        .map(|(e, &xh)| e.relu(&g, xh, w.bits, one))
        .collect::<Result<Vec<u64>>>()?;
    let gelu = if n == 0 {
        vec![]
    } else {
        let d = signed_mul(p, &window, &entry, muls).await?;
        relu.iter().zip(d).map(|(a, b)| a.wrapping_sub(b)).collect()
    };
    let out = ArithShare::from_vec(x.shape(), gelu)?;
    let lin = match r {
        Some(r) => Some(ArithShare::from_vec(r.shape(), linear)?),
        None => None,
    };
    Ok((out, lin))
}

/// Cost of GeLU on `n` elements with ReLU on `m` more ([`gelu_relu_unmetered`]).
pub fn cost(n: usize, m: usize, frac_bits: u32) -> Cost {
    let keys = GeluKeys { n, m, frac_bits }.bundle_len(0);
    let open = opening_cost(8 * (n + m), keys);
    if n == 0 {
        open
    } else {
        open + signed_mul::cost(n, 1)
    }
}
