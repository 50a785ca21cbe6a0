//! [`Params`] to and from safetensors bytes.
//!
//! Safetensors is the format because it is a flat, documented, zero-code container (an 8-byte
//! header length, a JSON header of name -> dtype/shape/offsets, raw little-endian data) that
//! PyTorch, the browser and this crate can all read without a pickle-style code path. Every
//! tensor is `F32`, named as in [`crate::model::params`] (`patch_embed.weight`,
//! `blocks.0.attn.qkv.weight`, ...), with the shape given there.
//!
//! Loading is strict: every expected tensor must be present with the exact dtype and shape,
//! no other tensor may be present, and every value must be finite. A file that passes is
//! guaranteed to describe the model of the given [`ViTConfig`]; one that does not is an
//! [`Error::Model`] naming the offending tensor. Nothing here panics on bad bytes.

use std::collections::{BTreeSet, HashMap};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::model::{Params, ViTConfig};
use crate::{Error, Result};

/// Value of the `format` key this crate writes into the safetensors `__metadata__`.
pub const FORMAT: &str = "mpcvit/1";

/// Parameters of the right shapes for `cfg`, all zero: the template a file is loaded into.
pub fn zero_params(cfg: &ViTConfig) -> Result<Params> {
    cfg.validate()?;
    // `Params::init` is the single source of truth for shapes; the values are then cleared.
    Ok(Params::init(cfg, &mut ChaCha8Rng::seed_from_u64(0)).zeros_like())
}

/// Serialises `params` as safetensors: every tensor `F32` little-endian, in logical row-major
/// order, with `__metadata__` `{"format": "mpcvit/1"}` plus `metadata`.
pub fn to_safetensors(params: &Params, metadata: &[(&str, &str)]) -> Result<Vec<u8>> {
    let mut buffers: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    params.for_each(|name, t| {
        let bytes = t.iter().flat_map(|v| v.to_le_bytes()).collect();
        buffers.push((name.to_string(), t.shape().to_vec(), bytes));
    });
    let mut views = Vec::with_capacity(buffers.len());
    for (name, shape, bytes) in &buffers {
        let view = TensorView::new(Dtype::F32, shape.clone(), bytes)
            .map_err(|e| Error::Model(format!("tensor `{name}`: {e:?}")))?;
        views.push((name.as_str(), view));
    }
    let mut meta: HashMap<String, String> = metadata
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    meta.insert("format".into(), FORMAT.into());
    safetensors::serialize(views, &Some(meta))
        .map_err(|e| Error::Model(format!("safetensors: {e:?}")))
}

/// The `__metadata__` map of a safetensors file (empty when it has none).
pub fn metadata(bytes: &[u8]) -> Result<HashMap<String, String>> {
    let (_, meta) = SafeTensors::read_metadata(bytes)
        .map_err(|e| Error::Model(format!("not a valid safetensors file: {e:?}")))?;
    Ok(meta.metadata().clone().unwrap_or_default())
}

/// Parses safetensors `bytes` as the parameters of a ViT shaped by `cfg`, checking every tensor
/// as described in the [module docs](self).
pub fn from_safetensors(bytes: &[u8], cfg: &ViTConfig) -> Result<Params> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| Error::Model(format!("not a valid safetensors file: {e:?}")))?;
    let mut params = zero_params(cfg)?;
    let mut expected = BTreeSet::new();
    let mut first_error: Option<Error> = None;
    params.for_each_mut(|name, mut t| {
        expected.insert(name.to_string());
        if first_error.is_some() {
            return;
        }
        let result = (|| -> Result<()> {
            let view = st
                .tensor(name)
                .map_err(|_| Error::Model(format!("tensor `{name}` is missing")))?;
            if view.dtype() != Dtype::F32 {
                return Err(Error::Model(format!(
                    "tensor `{name}` has dtype {:?}, expected F32",
                    view.dtype()
                )));
            }
            if view.shape() != t.shape() {
                return Err(Error::TensorShape {
                    tensor: name.to_string(),
                    expected: t.shape().to_vec(),
                    got: view.shape().to_vec(),
                });
            }
            let data = view.data();
            if data.len() != t.len() * 4 {
                return Err(Error::Model(format!(
                    "tensor `{name}` has {} data bytes",
                    data.len()
                )));
            }
            for (dst, src) in t.iter_mut().zip(data.chunks_exact(4)) {
                let v = f32::from_le_bytes([src[0], src[1], src[2], src[3]]);
                if !v.is_finite() {
                    return Err(Error::Model(format!(
                        "tensor `{name}` contains a non-finite value ({v})"
                    )));
                }
                *dst = v;
            }
            Ok(())
        })();
        if let Err(e) = result {
            first_error = Some(e);
        }
    });
    if let Some(e) = first_error {
        return Err(e);
    }
    let mut unexpected: Vec<&String> = st
        .names()
        .into_iter()
        .filter(|n| !expected.contains(*n))
        .collect();
    if !unexpected.is_empty() {
        unexpected.sort();
        let list: Vec<String> = unexpected.iter().map(|n| format!("`{n}`")).collect();
        return Err(Error::Model(format!(
            "unexpected tensor(s) {} for a model of depth {}",
            list.join(", "),
            cfg.depth
        )));
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_cfg() -> ViTConfig {
        ViTConfig {
            dim: 8,
            linformer_k: 2,
            ..ViTConfig::tiny()
        }
    }

    #[test]
    fn round_trip_is_exact() {
        let cfg = small_cfg();
        let p = Params::init(&cfg, &mut ChaCha8Rng::seed_from_u64(5));
        let bytes = to_safetensors(&p, &[("name", "t")]).unwrap();
        assert_eq!(from_safetensors(&bytes, &cfg).unwrap(), p);
        let meta = metadata(&bytes).unwrap();
        assert_eq!(meta["format"], FORMAT);
        assert_eq!(meta["name"], "t");
        let z = zero_params(&cfg).unwrap();
        assert_eq!(z.count(), p.count());
        let mut sum = 0.0;
        z.for_each(|_, t| sum += t.iter().map(|v| v.abs()).sum::<f32>());
        assert_eq!(sum, 0.0);
    }

    #[test]
    fn wrong_config_names_the_tensor() {
        let cfg = small_cfg();
        let p = Params::init(&cfg, &mut ChaCha8Rng::seed_from_u64(5));
        let bytes = to_safetensors(&p, &[]).unwrap();
        let deeper = ViTConfig {
            depth: 3,
            ..cfg.clone()
        };
        let err = from_safetensors(&bytes, &deeper).unwrap_err().to_string();
        assert!(err.contains("`blocks.2.norm1.weight` is missing"), "{err}");
        let shallower = ViTConfig {
            depth: 1,
            ..cfg.clone()
        };
        let err = from_safetensors(&bytes, &shallower)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unexpected") && err.contains("`blocks.1.attn.proj.bias`"),
            "{err}"
        );
        let wider = ViTConfig { classes: 4, ..cfg };
        match from_safetensors(&bytes, &wider) {
            Err(Error::TensorShape {
                tensor,
                expected,
                got,
            }) => {
                assert_eq!(tensor, "head.weight");
                assert_eq!((expected, got), (vec![8, 4], vec![8, 3]));
            }
            other => panic!("expected Error::TensorShape, got {other:?}"),
        }
    }

    #[test]
    fn garbage_never_panics() {
        let cfg = small_cfg();
        let p = Params::init(&cfg, &mut ChaCha8Rng::seed_from_u64(5));
        let bytes = to_safetensors(&p, &[]).unwrap();
        // Every truncation point and a sweep of single-byte corruptions of the header.
        for cut in (0..bytes.len()).step_by(7) {
            assert_err!(
                from_safetensors(&bytes[..cut], &cfg),
                crate::Error::Model(_)
            );
        }
        let header = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        for i in 0..header {
            let mut b = bytes.clone();
            b[i] ^= 0x5a;
            let _ = from_safetensors(&b, &cfg);
            let _ = metadata(&b);
        }
        assert!(matches!(
            from_safetensors(b"\xff\xff\xff\xff\xff\xff\xff\xffjunk", &cfg),
            Err(Error::Model(_))
        ));
    }
}
