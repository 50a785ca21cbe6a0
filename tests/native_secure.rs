//! Private inference of the shipped models against plaintext on real test images (CI runs a
//! few hundred; `mpcvit agree <model>` runs a whole split).

use std::path::Path;

use mpcvit::data::{self, Split};
use mpcvit::io;
use mpcvit::model::ViT;
use mpcvit::secure::agreement::measure;

#[test]
fn shipped_models_agree_with_plaintext_on_test_images() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data_dir = root.join("data");
    let index = io::build_index(&root.join("models")).unwrap();
    let picked: Vec<_> = index
        .models
        .iter()
        .filter(|m| {
            ["mnist-softmax", "fashion-softmax", "fashion-mpcvit-mu0.3"].contains(&m.name.as_str())
        })
        .collect();
    assert!(
        picked.len() >= 2,
        "the baselines must be shipped in models/"
    );
    for entry in picked {
        let (m, p) = io::load_model_dir(&root.join("models"), &entry.name).unwrap();
        let vit = ViT::new(m.config, m.plan, p).unwrap();
        let test = data::load(&data_dir, &m.dataset, Split::Test).unwrap();
        let a = measure(&vit, &test, 100, 100, |_| {}).unwrap();
        println!(
            "{}: agreement {:.3}, max logit error {:.4}",
            entry.name,
            a.rate(),
            a.max_logit_error
        );
        assert!(
            a.agree >= 99,
            "{}: private and plaintext disagree on {} of 100 images",
            entry.name,
            100 - a.agree
        );
        assert!(
            a.max_logit_error < 0.5,
            "{}: logit error {}",
            entry.name,
            a.max_logit_error
        );
    }
}
