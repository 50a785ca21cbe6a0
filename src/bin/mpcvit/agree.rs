//! `mpcvit agree`: private vs plaintext on a whole test split. Both parties run in this process
//! (weights shared once per chunk of images); the figures are the argmax agreement and the
//! largest logit error, optionally written into the manifest.

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use mpcvit::data::{self, Split};
use mpcvit::io;
use mpcvit::model::ViT;
use mpcvit::secure::agreement::{measure_with, GROSS_ERROR};
use mpcvit::secure::report::{format_bytes, format_seconds};
use mpcvit::Result;

use crate::session_args::SessionArgs;

/// Arguments of `mpcvit agree`.
#[derive(clap::Args, Debug)]
pub struct AgreeArgs {
    /// Model name in the models folder.
    pub model: String,
    #[arg(long, default_value = "models")]
    pub models: PathBuf,
    #[arg(long, default_value = "data")]
    pub data_dir: PathBuf,
    /// Only the first N test images.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Images per two-party session (weights are shared once per session; bounds memory).
    #[arg(long, default_value_t = 200)]
    pub chunk: usize,
    /// Save the figures in the manifest's `metrics.extra` (`private_agreement`,
    /// `max_logit_error`, `max_fine_logit_error` (without local-truncation failures),
    /// `private_gross_errors`, `mean_logit_error`, `private_images`, `private_accuracy`).
    #[arg(long)]
    pub update_manifest: bool,
    /// Also write the figures as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    #[command(flatten)]
    pub session: SessionArgs,
}

pub fn run(args: AgreeArgs) -> Result<()> {
    let (mut m, p) = io::load_model_dir(&args.models, &args.model)?;
    let vit = ViT::new(m.config.clone(), m.plan.clone(), p.clone())?;
    let test = data::load(&args.data_dir, &m.dataset, Split::Test)?;
    let n = args.limit.unwrap_or(test.len()).min(test.len());
    let bar = ProgressBar::new(n as u64);
    bar.set_style(
        ProgressStyle::with_template("[{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .expect("static template")
            .progress_chars("=> "),
    );
    let t0 = std::time::Instant::now();
    let session = args.session.config()?;
    let a = measure_with(&vit, &test, n, args.chunk, session, |k| bar.inc(k as u64))?;
    bar.finish();
    let seconds = t0.elapsed().as_secs_f64();
    let pct = |k: usize| 100.0 * k as f64 / a.images.max(1) as f64;
    println!(
        "{}: private argmax = plaintext argmax on {:.2}% of {} images; largest logit error {:.4} (mean {:.5}); accuracy plaintext {:.2}%, private {:.2}%",
        m.name,
        pct(a.agree),
        a.images,
        a.max_logit_error,
        a.mean_logit_error,
        pct(a.plain_correct),
        pct(a.private_correct)
    );
    println!(
        "{} protocols, {} truncation: largest error on test image {}; {} image(s) with a logit \
         error above {GROSS_ERROR} (protocol failures); largest error on the others {:.4}",
        args.session.protocols,
        args.session.trunc,
        a.max_error_image,
        a.gross_errors,
        a.max_fine_error
    );
    println!(
        "per image: {:.0} rounds, online {} client -> server + {} server -> client, offline {}; \
         compute {}, estimated LAN {}, WAN {}; {:.1} images/s wall (both parties in this process)",
        a.mean_rounds,
        format_bytes(a.mean_bytes_client_to_server),
        format_bytes(a.mean_bytes_server_to_client),
        format_bytes(a.mean_offline_bytes),
        format_seconds(a.mean_compute_s),
        format_seconds(a.mean_lan_s),
        format_seconds(a.mean_wan_s),
        a.images as f64 / seconds.max(1e-9)
    );
    if let Some(path) = &args.json {
        let mut j = serde_json::to_value(&a)?;
        j["model"] = serde_json::json!(m.name);
        j["dataset"] = serde_json::json!(m.dataset);
        j["agreement"] = serde_json::json!(a.rate());
        j["seconds"] = serde_json::json!(seconds);
        j["protocols"] = serde_json::json!(session.family.name());
        std::fs::write(path, serde_json::to_string_pretty(&j)?)?;
    }
    if args.update_manifest {
        let figures = [
            ("private_agreement", serde_json::json!(pct(a.agree) / 100.0)),
            ("private_images", serde_json::json!(a.images)),
            (
                "private_protocols",
                serde_json::json!(session.family.name()),
            ),
            ("max_logit_error", serde_json::json!(a.max_logit_error)),
            ("private_gross_errors", serde_json::json!(a.gross_errors)),
            ("max_fine_logit_error", serde_json::json!(a.max_fine_error)),
            ("mean_logit_error", serde_json::json!(a.mean_logit_error)),
            (
                "private_accuracy",
                serde_json::json!(pct(a.private_correct) / 100.0),
            ),
        ];
        for (key, value) in figures {
            m.metrics.extra.insert(key.into(), value);
        }
        io::save_manifest(&args.models, &m)?;
    }
    Ok(())
}
