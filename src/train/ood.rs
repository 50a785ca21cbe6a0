//! A model's accuracy on one out-of-domain set (issue #13, [`crate::data::ood`]): the set is
//! prepared for the model's input as an upload would be, and the images the preprocessing
//! rejects count as errors. The CLI's `eval --ood` and the page's Search live (trainer worker)
//! both report this.

use serde::Serialize;

use super::evaluate;
use crate::data::{ood, Dataset};
use crate::model::ViT;
use crate::Result;

/// The accuracy of a model on one out-of-domain set.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OodScore {
    /// The set's name (`mnist-fonts`, ...).
    pub set: String,
    /// Correct / images, the unreadable images counted as errors unless the model happens to
    /// call the blank image by its label.
    pub accuracy: f64,
    /// Images evaluated.
    pub images: usize,
    /// Images the upload preprocessing rejected as blank.
    pub unreadable: usize,
}

/// `vit`'s accuracy on `set`, on its first `limit` images when given.
pub fn evaluate_ood(vit: &ViT, set: &Dataset, limit: Option<usize>) -> Result<OodScore> {
    let first;
    let set = match limit {
        Some(n) => {
            first = set.take(n);
            &first
        }
        None => set,
    };
    let (prepared, unreadable) = ood::prepare(set, vit.config.image_size)?;
    let e = evaluate(vit, &prepared, 256)?;
    Ok(OodScore {
        set: set.name.clone(),
        accuracy: e.accuracy,
        images: e.images,
        unreadable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attention, Params, Plan, ViTConfig};
    use rand::SeedableRng;

    #[test]
    fn a_raw_set_is_prepared_and_its_blank_pages_are_counted() {
        let cfg = ViTConfig {
            dim: 16,
            depth: 1,
            heads: 2,
            ..ViTConfig::demo()
        };
        let params = Params::init(&cfg, &mut rand_chacha::ChaCha8Rng::seed_from_u64(3));
        let vit = ViT::new(
            cfg.clone(),
            Plan::uniform(&cfg, Attention::ScaleAttn),
            params,
        )
        .unwrap();
        // A 56x56 white page with a dark bar, then a blank page.
        let mut pixels = vec![255u8; 56 * 56];
        for y in 10..46 {
            for x in 26..30 {
                pixels[y * 56 + x] = 0;
            }
        }
        pixels.extend(vec![255u8; 56 * 56]);
        let set = Dataset::new("raw", 56, 56, 1, 10, vec![1, 7], pixels).unwrap();
        let s = evaluate_ood(&vit, &set, None).unwrap();
        assert_eq!((s.set.as_str(), s.images, s.unreadable), ("raw", 2, 1));
        assert!((0.0..=1.0).contains(&s.accuracy));
        let first = evaluate_ood(&vit, &set, Some(1)).unwrap();
        assert_eq!((first.images, first.unreadable), (1, 0));
    }
}
