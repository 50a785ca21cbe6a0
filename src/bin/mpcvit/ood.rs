//! `mpcvit ood`: generates the out-of-domain evaluation sets (issue #13) into `ood/`, or with
//! `--check` regenerates them in memory and compares them with the stored files.

use std::path::PathBuf;

use mpcvit::data::ood::{self, generate};
use mpcvit::{Error, Result};

/// Arguments of `mpcvit ood`.
#[derive(clap::Args, Debug)]
pub struct OodArgs {
    /// Folder of converted datasets (the test splits the upload and photo sets start from).
    #[arg(long, default_value = "data")]
    pub data_dir: PathBuf,
    /// Folder the sets are written to.
    #[arg(long, default_value = ood::DIR)]
    pub out: PathBuf,
    /// Seed of the generation.
    #[arg(long, default_value_t = generate::SEED)]
    pub seed: u64,
    /// Font files of the font set (default: the 20 Debian fonts `scripts/ood.sh` installs).
    #[arg(long = "font")]
    pub fonts: Vec<PathBuf>,
    /// Compare freshly generated sets with the stored ones instead of writing.
    #[arg(long)]
    pub check: bool,
}

pub fn run(args: OodArgs) -> Result<()> {
    let fonts = if args.fonts.is_empty() {
        generate::default_fonts()
    } else {
        args.fonts.clone()
    };
    let sets = generate::generate(&args.data_dir, &fonts, args.seed)?;
    let mut differ = Vec::new();
    if !args.check {
        std::fs::create_dir_all(&args.out)?;
    }
    for set in &sets {
        let path = ood::path(&args.out, &set.name);
        if args.check {
            let same = ood::load(&args.out, &set.name).is_ok_and(|stored| stored == *set);
            println!(
                "{}: {}",
                path.display(),
                if same { "same" } else { "DIFFERENT" }
            );
            if !same {
                differ.push(set.name.clone());
            }
        } else {
            set.write_to(&path)?;
            println!(
                "{}: {} images {}x{}",
                path.display(),
                set.len(),
                set.rows,
                set.cols
            );
        }
    }
    if differ.is_empty() {
        Ok(())
    } else {
        Err(Error::Data(format!(
            "regenerated sets differ from the stored ones: {}",
            differ.join(", ")
        )))
    }
}
