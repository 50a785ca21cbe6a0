//! `mpcvit bench serve`: the load test of [`mpcvit::secure::remote::load`] with a shipped
//! model and a test image of its dataset.

use std::path::PathBuf;

use mpcvit::data::{self, Split};
use mpcvit::io;
use mpcvit::model::ViT;
use mpcvit::secure::remote::load;
use mpcvit::Result;

/// Options of `mpcvit bench serve`.
#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// Model name in the models folder.
    #[arg(long, default_value = "mnist-mpcvit-mu0.3")]
    pub model: String,
    #[arg(long, default_value = "models")]
    pub models: PathBuf,
    /// Folder of converted datasets (the first test image is classified).
    #[arg(long, default_value = "data")]
    pub data_dir: PathBuf,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Private classifications in all (one session each).
    #[arg(long, default_value_t = 1000)]
    pub images: usize,
    /// Transport between the clients, the server and the dealer.
    #[arg(long, default_value = "tcp", value_parser = ["tcp", "ws"])]
    pub transport: String,
}

pub fn run(args: &LoadArgs) -> Result<()> {
    let (m, params) = io::load_model_dir(&args.models, &args.model)?;
    let test = data::load(&args.data_dir, &m.dataset, Split::Test)?;
    let image: Vec<f32> = test.to_input(&[0])?.iter().copied().collect();
    let vit = ViT::new(m.config.clone(), m.plan.clone(), params)?;
    eprintln!(
        "{}: {} clients, {} private classifications over loopback {}...",
        m.name, args.clients, args.images, args.transport
    );
    let report = load::run(vit, image, args.clients, args.images, &args.transport)?;
    print!("{}", report.format());
    Ok(())
}
