//! The out-of-domain sets in ood/ are what `mpcvit ood` makes: regenerated from the converted
//! test splits (data/, made by scripts/setup.sh) and compared byte for byte. The font set is
//! compared when the Debian fonts it is made from are installed (scripts/ood.sh installs them).

use std::path::{Path, PathBuf};

use mpcvit::data::ood::{self, generate};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn committed_sets_are_reproduced_by_the_generator() {
    let dir = root().join(ood::DIR);
    let data_dir = root().join("data");
    assert!(
        data_dir.join("mnist-test.bin").exists(),
        "run ./scripts/setup.sh first"
    );
    let seed = generate::SEED;
    assert_eq!(
        generate::drawn_set(seed).unwrap(),
        ood::load(&dir, "mnist-drawn").unwrap()
    );
    let fonts: Vec<PathBuf> = generate::default_fonts();
    let missing: Vec<&PathBuf> = fonts.iter().filter(|f| !f.exists()).collect();
    assert!(
        missing.is_empty(),
        "font files missing ({missing:?}): run ./scripts/setup.sh, which installs them"
    );
    let all = generate::generate(&data_dir, &fonts, seed).unwrap();
    for set in all {
        let stored = ood::load(&dir, &set.name).unwrap();
        assert_eq!(stored, set, "{} differs from its regeneration", set.name);
    }
}

#[test]
fn every_set_loads_prepares_and_is_balanced() {
    let dir = root().join(ood::DIR);
    for (name, base) in ood::SETS {
        let set = ood::load(&dir, name).unwrap();
        assert!(set.len() >= 500, "{name}");
        let counts = set.class_counts();
        assert!(
            counts.iter().all(|&c| c >= set.len() / 20),
            "{name}: {counts:?}"
        );
        let (prepared, rejected) = ood::prepare(&set, 28).unwrap();
        assert_eq!((prepared.rows, prepared.cols), (28, 28));
        assert!(
            rejected * 100 <= set.len(),
            "{name}: {rejected} images unreadable"
        );
        assert!(ood::sets_for(&dir, base)
            .unwrap()
            .iter()
            .any(|s| s.name == name));
    }
}
