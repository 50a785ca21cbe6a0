//! The training command line end to end on small subsets of the converted datasets: train, eval,
//! search, retrain with distillation, report. Needs `data/` (made by scripts/setup.sh).

use std::path::{Path, PathBuf};
use std::process::Command;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

fn mpcvit(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mpcvit"))
        .args(args)
        .output()
        .expect("run mpcvit");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "mpcvit {args:?} failed:\n{text}");
    text
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mpcvit-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn train_eval_search_retrain_report() {
    let data = data_dir();
    assert!(
        data.join("mnist-train.bin").exists(),
        "run ./scripts/setup.sh first: {} has no datasets",
        data.display()
    );
    let dir = temp_dir("flow");
    let (d, out) = (data.to_str().unwrap(), dir.to_str().unwrap());
    let small = [
        "--dataset",
        "mnist",
        "--data-dir",
        d,
        "--out",
        out,
        "--limit",
        "4096",
        "--dim",
        "32",
        "--depth",
        "2",
        "--seed",
        "7",
        "--lr",
        "5e-3",
    ];

    let mut args = vec![
        "train",
        "--attention",
        "softmax",
        "--epochs",
        "8",
        "--name",
        "teacher",
    ];
    args.extend(small);
    mpcvit(&args);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("teacher.json")).unwrap()).unwrap();
    let acc = manifest["metrics"]["test_accuracy"].as_f64().unwrap();
    assert!(
        acc > 0.5,
        "8 epochs on 4096 digits should beat 50%, got {acc}"
    );
    assert!(manifest["cost"]["rounds"].as_u64().unwrap() > 0);
    assert!(manifest["training"]["command"]
        .as_str()
        .unwrap()
        .contains("train"));

    let text = mpcvit(&[
        "eval",
        "teacher",
        "--models",
        out,
        "--data-dir",
        d,
        "--limit",
        "500",
    ]);
    assert!(text.contains("accuracy"), "{text}");

    let search_file = dir.join("search.json");
    let mut args = vec![
        "search",
        "--epochs",
        "1",
        "--output",
        search_file.to_str().unwrap(),
        "--mu",
        "0.5",
        "--gelu-eta",
        "0.01",
    ];
    args.extend(small);
    mpcvit(&args);
    let search: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&search_file).unwrap()).unwrap();
    assert_eq!(search["alphas"].as_array().unwrap().len(), 2 * 4);
    assert!(search["latency"]["rs_attn_head"].as_f64().unwrap() > 0.0);

    let small_retrain = [
        "--dataset",
        "mnist",
        "--data-dir",
        d,
        "--out",
        out,
        "--limit",
        "2048",
        "--seed",
        "7",
    ];
    let mut args = vec![
        "retrain",
        "--search",
        search_file.to_str().unwrap(),
        "--mu",
        "0.5",
        "--teacher",
        "teacher",
        "--models",
        out,
        "--epochs",
        "1",
        "--name",
        "student",
    ];
    args.extend(small_retrain);
    mpcvit(&args);
    let student: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("student.json")).unwrap()).unwrap();
    assert_eq!(student["training"]["teacher"], "teacher");
    assert_eq!(student["plan"]["attention"]["granularity"], "head");

    let table = dir.join("table.json");
    let text = mpcvit(&[
        "report",
        "--models",
        out,
        "--data-dir",
        d,
        "--json",
        table.to_str().unwrap(),
    ]);
    assert!(
        text.contains("teacher") && text.contains("student"),
        "{text}"
    );
    let saved = mpcvit(&["report", "--from-json", table.to_str().unwrap()]);
    assert!(
        saved.contains("teacher") && saved.contains("student") && saved.contains("epochs"),
        "{saved}"
    );

    // Re-costing a saved table: a uniform-plan row is measured again from its config and plan
    // (same rounds as its manifest); a mixed plan cannot be rebuilt from its summary.
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&table).unwrap()).unwrap();
    let mut teacher_row = rows
        .iter()
        .find(|r| r["model"] == "teacher")
        .unwrap()
        .clone();
    teacher_row["cost"] = serde_json::json!({"rounds": 0});
    let stale = dir.join("stale.json");
    std::fs::write(&stale, serde_json::to_string(&[teacher_row]).unwrap()).unwrap();
    let stale_arg = stale.to_str().unwrap();
    mpcvit(&[
        "report",
        "--from-json",
        stale_arg,
        "--update-costs",
        "--data-dir",
        d,
    ]);
    let recosted: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&stale).unwrap()).unwrap();
    assert_eq!(recosted[0]["cost"]["rounds"], manifest["cost"]["rounds"]);
    assert!(recosted[0]["cost"]["wan_s"].as_f64().unwrap() > 0.0);
    let out = Command::new(env!("CARGO_BIN_EXE_mpcvit"))
        .args([
            "report",
            "--from-json",
            table.to_str().unwrap(),
            "--update-costs",
        ])
        .args(["--data-dir", d])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("only uniform plans"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A run stopped after one epoch and resumed ends with exactly the weights of the run that
/// was not interrupted, for training and for a search.
#[test]
fn interrupted_runs_resume_exactly() {
    let data = data_dir();
    let dir = temp_dir("resume");
    let (d, out) = (data.to_str().unwrap(), dir.to_str().unwrap());
    let base = [
        "--dataset",
        "mnist",
        "--data-dir",
        d,
        "--out",
        out,
        "--limit",
        "600",
        "--dim",
        "16",
        "--depth",
        "1",
        "--epochs",
        "2",
        "--attention",
        "rsattn",
    ];
    let run = |name: &str, extra: &[&str]| {
        let mut a = vec!["train", "--name", name];
        a.extend(base);
        a.extend(extra);
        mpcvit(&a)
    };
    run("whole", &["--seed", "3"]);
    assert!(
        !dir.join("whole.resume").exists(),
        "a finished run keeps no checkpoint"
    );
    let text = run("split", &["--seed", "3", "--stop-after", "1"]);
    assert!(text.contains("continue with --resume"), "{text}");
    assert!(dir.join("split.resume").join("adam_m.safetensors").exists());
    // The seed comes from the checkpoint.
    let text = run("split", &["--resume"]);
    assert!(text.contains("resuming after epoch 1"), "{text}");
    assert!(!dir.join("split.resume").exists());
    // The tensor data (after the safetensors header, whose metadata names the model).
    let weights = |n: &str| {
        let b = std::fs::read(dir.join(format!("{n}.safetensors"))).unwrap();
        let header = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
        b[8 + header..].to_vec()
    };
    assert!(
        weights("whole") == weights("split"),
        "resumed weights differ"
    );

    // Different settings, or nothing to resume, are clear errors.
    run("other", &["--seed", "3", "--stop-after", "1"]);
    let mut a = vec!["train", "--name", "other", "--lr", "1e-3", "--resume"];
    a.extend(base);
    let bad = Command::new(env!("CARGO_BIN_EXE_mpcvit"))
        .args(&a)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && err.contains("different training settings"),
        "{err}"
    );
    let mut a = vec!["train", "--name", "none", "--resume"];
    a.extend(base);
    let bad = Command::new(env!("CARGO_BIN_EXE_mpcvit"))
        .args(&a)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && err.contains("no checkpoint"),
        "{err}"
    );

    // A search, stopped and resumed.
    let search = |file: &str, extra: &[&str]| {
        let f = dir.join(file);
        let text = mpcvit_search(&f, d, extra);
        let v: serde_json::Value = match std::fs::read_to_string(&f) {
            Ok(t) => serde_json::from_str(&t).unwrap(),
            Err(_) => serde_json::Value::Null,
        };
        (v["alphas"].clone(), text)
    };
    let (whole, _) = search("s-whole.json", &[]);
    let (none, text) = search("s-split.json", &["--stop-after", "1"]);
    assert!(text.contains("continue with --resume"), "{text}");
    assert!(none.is_null() && dir.join("s-split.resume").exists());
    let (split, _) = search("s-split.json", &["--resume"]);
    assert!(!dir.join("s-split.resume").exists());
    assert_eq!(whole, split);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The small search of [`interrupted_runs_resume_exactly`], written to `out`.
fn mpcvit_search(out: &Path, d: &str, extra: &[&str]) -> String {
    let mut a = vec![
        "search",
        "--dataset",
        "mnist",
        "--data-dir",
        d,
        "--limit",
        "300",
        "--dim",
        "16",
        "--depth",
        "1",
        "--epochs",
        "2",
        "--mu",
        "0.5",
        "--seed",
        "4",
        "--output",
        out.to_str().unwrap(),
    ];
    a.extend(extra);
    mpcvit(&a)
}

#[test]
fn bad_arguments_are_clear_errors() {
    let dir = temp_dir("bad");
    let out = Command::new(env!("CARGO_BIN_EXE_mpcvit"))
        .args([
            "train",
            "--dataset",
            "nope",
            "--data-dir",
            dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_mpcvit"))
        .args(["eval", "missing-model", "--models", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = Command::new(env!("CARGO_BIN_EXE_mpcvit"))
        .args([
            "train",
            "--dataset",
            "mnist",
            "--attention",
            "bogus",
            "--data-dir",
            data_dir().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown attention"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn eval_ood_prints_one_accuracy_per_set_per_model() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (models, ood) = (root.join("models"), root.join("ood"));
    let out = mpcvit(&[
        "eval",
        "--ood",
        "mnist-softmax",
        "fashion-softmax",
        "--models",
        models.to_str().unwrap(),
        "--ood-dir",
        ood.to_str().unwrap(),
        "--limit",
        "100",
    ]);
    assert!(
        out.contains("| model | mnist-fonts | mnist-drawn | mnist-upload |"),
        "{out}"
    );
    assert!(out.contains("| model | fashion-photo |"), "{out}");
    for (model, sets) in [("mnist-softmax", 3), ("fashion-softmax", 1)] {
        let row = out
            .lines()
            .find(|l| l.starts_with(&format!("| {model} |")))
            .unwrap_or_else(|| panic!("no row for {model}:\n{out}"));
        let cells: Vec<f64> = row
            .split('|')
            .skip(2)
            .filter_map(|c| c.split_whitespace().next()?.parse().ok())
            .collect();
        assert_eq!(cells.len(), sets, "{row}");
        // Far above chance (10%): the sets hold what their labels say.
        assert!(cells.iter().all(|&a| a > 40.0 && a <= 100.0), "{row}");
    }
}

/// `--protocols fss|classic` (issue #11): `agree` and `report` measure with the chosen family,
/// record it, and the FSS family needs fewer rounds on the same model; a bad name is an error.
#[test]
fn protocol_family_option_is_measured_and_recorded() {
    let dir = temp_dir("protocols");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    for ext in ["json", "safetensors"] {
        let f = format!("mnist-scale.{ext}");
        std::fs::copy(shipped.join(&f), dir.join(&f)).unwrap();
    }
    let (models, data) = (dir.to_str().unwrap(), data_dir());
    let data = data.to_str().unwrap();
    let mut rounds = Vec::new();
    for family in ["classic", "fss"] {
        let json = dir.join(format!("agree-{family}.json"));
        let common = ["--models", models, "--data-dir", data];
        let mut args = vec![
            "agree",
            "mnist-scale",
            "--limit",
            "3",
            "--protocols",
            family,
        ];
        args.extend(common);
        args.extend(["--json", json.to_str().unwrap()]);
        let text = mpcvit(&args);
        assert!(text.contains(&format!("{family} protocols")), "{text}");
        let a: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(a["protocols"], family);
        assert_eq!(a["agree"], 3, "{a}");
        let mut args = vec!["report", "--update-costs", "--protocols", family];
        args.extend(common);
        mpcvit(&args);
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("mnist-scale.json")).unwrap())
                .unwrap();
        assert_eq!(m["cost"]["protocols"], family);
        assert_eq!(
            m["cost"]["rounds"].as_f64(),
            a["mean_rounds"].as_f64(),
            "report and agree measure alike"
        );
        rounds.push(m["cost"]["rounds"].as_u64().unwrap());
    }
    assert!(
        rounds[1] < rounds[0],
        "fss {} vs classic {}",
        rounds[1],
        rounds[0]
    );
    let out = Command::new(env!("CARGO_BIN_EXE_mpcvit"))
        .args(["report", "--models", models, "--protocols", "sigma"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("classic"));
    let _ = std::fs::remove_dir_all(&dir);
}
