//! Private vs plaintext on a dataset: argmax agreement and logit error (issue: private argmax
//! must equal plaintext argmax on >= 99.5% of a test split).

use serde::Serialize;

use super::session::infer_local;
use crate::data::Dataset;
use crate::model::argmax;
use crate::model::ViT;
use crate::mpc::SessionConfig;
use crate::{Error, Result};

/// Agreement figures over `images` images.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Agreement {
    /// Images compared.
    pub images: usize,
    /// Images whose private argmax equals the plaintext argmax.
    pub agree: usize,
    /// Images the private inference classifies correctly.
    pub private_correct: usize,
    /// Images the plaintext model classifies correctly.
    pub plain_correct: usize,
    /// The largest absolute difference between a private and a plaintext logit.
    pub max_logit_error: f64,
    /// Index (in `data`) of the image with the largest logit error.
    pub max_error_image: usize,
    /// Images with a logit error above [`GROSS_ERROR`]: with local truncation
    /// ([`crate::mpc::TruncMode::Local`], SecureML / CrypTen) each truncated element fails with
    /// probability about `|x| 2^(2F) / 2^63`, off by about `2^(64-2F)`; exact truncation never
    /// fails.
    pub gross_errors: usize,
    /// The largest logit error over the images without a gross error (the approximation
    /// error of the protocols).
    pub max_fine_error: f64,
    /// Mean absolute logit difference over all logits of all images.
    pub mean_logit_error: f64,
    /// Mean cost of one private inference (weight sharing excluded): rounds and bytes depend
    /// only on shapes, so they are the same for every image; compute and the estimates vary.
    pub mean_rounds: f64,
    /// Mean online bytes party 0 -> party 1.
    pub mean_bytes_client_to_server: f64,
    /// Mean online bytes party 1 -> party 0.
    pub mean_bytes_server_to_client: f64,
    /// Mean dealer bytes (offline).
    pub mean_offline_bytes: f64,
    /// Mean measured compute, in seconds.
    pub mean_compute_s: f64,
    /// Mean LAN estimate, in seconds.
    pub mean_lan_s: f64,
    /// Mean WAN estimate, in seconds.
    pub mean_wan_s: f64,
}

impl Agreement {
    /// Fraction of images where private and plaintext predictions agree.
    pub fn rate(&self) -> f64 {
        self.agree as f64 / self.images.max(1) as f64
    }
}

/// A logit error above this is a protocol failure, not approximation error.
pub const GROSS_ERROR: f64 = 1.0;

/// Runs `vit` privately (both parties in this thread, fresh OS seeds, weights shared once per
/// `chunk` images) and in plaintext on images `[0, n)` of `data`; `progress` is told how many
/// images each chunk finished.
pub fn measure(
    vit: &ViT,
    data: &Dataset,
    n: usize,
    chunk: usize,
    progress: impl FnMut(usize),
) -> Result<Agreement> {
    measure_with(vit, data, n, chunk, SessionConfig::default(), progress)
}

/// [`measure`] with a session configuration (fixed point, truncation protocol).
pub fn measure_with(
    vit: &ViT,
    data: &Dataset,
    n: usize,
    chunk: usize,
    session: SessionConfig,
    mut progress: impl FnMut(usize),
) -> Result<Agreement> {
    let mut a = Agreement::default();
    let mut err_sum = 0.0;
    let idx: Vec<usize> = (0..n.min(data.len())).collect();
    for part in idx.chunks(chunk.max(1)) {
        let images = data.to_input(part)?;
        let plain = vit.forward(images.view())?;
        let flat = images.as_slice().ok_or_else(|| {
            Error::shape("agreement batch", "a contiguous array", "a strided view")
        })?;
        let refs: Vec<&[f32]> = flat.chunks(vit.config.input_len()).collect();
        let private = infer_local(vit, &refs, session, None)?;
        for ((r, row), &i) in private.iter().zip(plain.rows()).zip(part) {
            let p = argmax(row.iter().copied());
            let label = data.labels[i] as usize;
            a.agree += (p == r.prediction) as usize;
            a.private_correct += (r.prediction == label) as usize;
            a.plain_correct += (p == label) as usize;
            let c = &r.cost;
            a.mean_rounds += c.rounds as f64;
            a.mean_bytes_client_to_server += c.bytes_client_to_server as f64;
            a.mean_bytes_server_to_client += c.bytes_server_to_client as f64;
            a.mean_offline_bytes += c.offline_bytes as f64;
            a.mean_compute_s += c.compute_s;
            a.mean_lan_s += c.lan_s;
            a.mean_wan_s += c.wan_s;
            let mut worst: f64 = 0.0;
            for (x, y) in row.iter().zip(&r.logits) {
                let e = (*x as f64 - y).abs();
                worst = worst.max(e);
                err_sum += e;
            }
            if worst > a.max_logit_error {
                a.max_logit_error = worst;
                a.max_error_image = i;
            }
            if worst > GROSS_ERROR {
                a.gross_errors += 1;
            } else {
                a.max_fine_error = a.max_fine_error.max(worst);
            }
        }
        a.images += part.len();
        progress(part.len());
    }
    a.mean_logit_error = err_sum / (a.images * vit.config.classes).max(1) as f64;
    let n = a.images.max(1) as f64;
    for m in [
        &mut a.mean_rounds,
        &mut a.mean_bytes_client_to_server,
        &mut a.mean_bytes_server_to_client,
        &mut a.mean_offline_bytes,
        &mut a.mean_compute_s,
        &mut a.mean_lan_s,
        &mut a.mean_wan_s,
    ] {
        *m /= n;
    }
    Ok(a)
}
