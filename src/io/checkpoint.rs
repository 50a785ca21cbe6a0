//! A training checkpoint ([`crate::train::Checkpoint`]) on disk: the folder `<stem>.resume/`
//! next to the model, holding `state.json` and the weights and AdamW moments as three strictly
//! checked safetensors files. It is replaced atomically (written aside, then renamed) so an
//! interruption while saving leaves the previous checkpoint intact.

use std::path::{Path, PathBuf};

use super::weights::{from_safetensors, to_safetensors};
use crate::model::ViTConfig;
use crate::train::checkpoint::{Checkpoint, ResumeState};
use crate::{Error, Result};

const STATE: &str = "state.json";
const PARAMS: &str = "params.safetensors";
const ADAM_M: &str = "adam_m.safetensors";
const ADAM_V: &str = "adam_v.safetensors";

/// The checkpoint folder of `stem` in `dir`.
pub fn checkpoint_dir(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!("{stem}.resume"))
}

fn io_err(p: &Path, e: std::io::Error) -> Error {
    Error::Model(format!("{}: {e}", p.display()))
}

/// Writes `ck` as the checkpoint of `stem`, replacing any previous one.
pub fn save_checkpoint(dir: &Path, stem: &str, ck: &Checkpoint) -> Result<PathBuf> {
    let target = checkpoint_dir(dir, stem);
    let tmp = dir.join(format!("{stem}.resume.partial"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| io_err(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| io_err(&tmp, e))?;
    let files = [
        (STATE, serde_json::to_vec_pretty(&ck.state)?),
        (PARAMS, to_safetensors(&ck.params, &[])?),
        (ADAM_M, to_safetensors(&ck.adam_m, &[])?),
        (ADAM_V, to_safetensors(&ck.adam_v, &[])?),
    ];
    for (name, bytes) in files {
        let p = tmp.join(name);
        std::fs::write(&p, bytes).map_err(|e| io_err(&p, e))?;
    }
    if target.exists() {
        std::fs::remove_dir_all(&target).map_err(|e| io_err(&target, e))?;
    }
    std::fs::rename(&tmp, &target).map_err(|e| io_err(&target, e))?;
    Ok(target)
}

/// The checkpoint of `stem` for a model shaped by `cfg`, or `None` when there is none.
pub fn load_checkpoint(dir: &Path, stem: &str, cfg: &ViTConfig) -> Result<Option<Checkpoint>> {
    let d = checkpoint_dir(dir, stem);
    if !d.exists() {
        return Ok(None);
    }
    let read = |name: &str| {
        let p = d.join(name);
        std::fs::read(&p).map_err(|e| io_err(&p, e))
    };
    let tensors = |name: &str| {
        from_safetensors(&read(name)?, cfg)
            .map_err(|e| Error::Model(format!("{}: {e}", d.join(name).display())))
    };
    let state: ResumeState = serde_json::from_slice(&read(STATE)?)
        .map_err(|e| Error::Model(format!("{}: {e}", d.join(STATE).display())))?;
    Ok(Some(Checkpoint {
        state,
        params: tensors(PARAMS)?,
        adam_m: tensors(ADAM_M)?,
        adam_v: tensors(ADAM_V)?,
    }))
}

/// Deletes the checkpoint of `stem` (at the end of a run); no error when there is none.
pub fn remove_checkpoint(dir: &Path, stem: &str) -> Result<()> {
    let d = checkpoint_dir(dir, stem);
    if d.exists() {
        std::fs::remove_dir_all(&d).map_err(|e| io_err(&d, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attention, Plan};
    use crate::train::{TrainConfig, Trainer};

    #[test]
    fn save_load_remove_and_corruption() {
        let cfg = ViTConfig {
            depth: 1,
            classes: 2,
            linformer_k: 2,
            ..ViTConfig::tiny()
        };
        let mut tc = TrainConfig::default_for("toy");
        tc.seed = Some(1);
        let t = Trainer::new(
            cfg.clone(),
            Plan::uniform(&cfg, Attention::ScaleAttn),
            tc,
            10,
        )
        .unwrap();
        let ck = t.checkpoint().unwrap();
        let dir = std::env::temp_dir().join(format!("mpcvit-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(load_checkpoint(&dir, "m", &cfg).unwrap().is_none());
        save_checkpoint(&dir, "m", &ck).unwrap();
        save_checkpoint(&dir, "m", &ck).unwrap(); // replaces
        let back = load_checkpoint(&dir, "m", &cfg).unwrap().unwrap();
        assert_eq!(back.state, ck.state);
        assert_eq!(back.params, ck.params);
        assert_eq!(back.adam_v, ck.adam_v);
        // A truncated moments file is a clear error naming the file.
        let p = checkpoint_dir(&dir, "m").join(ADAM_M);
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        let e = load_checkpoint(&dir, "m", &cfg).unwrap_err().to_string();
        assert!(e.contains("adam_m.safetensors"), "{e}");
        remove_checkpoint(&dir, "m").unwrap();
        assert!(!checkpoint_dir(&dir, "m").exists());
        remove_checkpoint(&dir, "m").unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
