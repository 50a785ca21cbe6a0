//! `mpcvit classify`: party 0 (the client, who owns the images) classifying PNG / JPEG files
//! or test images of a converted dataset privately with a `mpcvit serve` process. The server
//! sends the model's public manifest first; images are prepared for it (greyscale, cropped,
//! scaled and centred as MNIST was made: [`mpcvit::data::preprocess_rgba`]) and classified in
//! one session (weights shared once). Only this process learns the predictions; the report
//! shows rounds, bytes per direction, offline bytes, LAN / WAN estimates and the breakdowns.

use std::path::{Path, PathBuf};
use std::time::Instant;

use mpcvit::data::{self, preprocess_rgba, Split};
use mpcvit::secure::remote::{DealerPolicy, RemoteClient, ServerHello};
use mpcvit::secure::report::{format_cost, format_seconds, format_table, to_json};
use mpcvit::secure::PrivateInference;
use mpcvit::{Error, Result};

use crate::net::NetArgs;

/// Arguments of `mpcvit classify`.
#[derive(clap::Args, Debug)]
pub struct ClassifyArgs {
    /// PNG or JPEG files to classify.
    pub images: Vec<PathBuf>,
    /// The server's address (`mpcvit serve`): `127.0.0.1:7000` (TCP), `ws://host:port` or
    /// `wss://host:port` (WebSocket; `--tls-ca` adds a root to trust).
    #[arg(long)]
    pub server: String,
    /// The dealer this client trusts (it must collude with neither party); the server must
    /// use the same one. Required unless `--accept-server-dealer`.
    #[arg(
        long,
        required_unless_present = "accept_server_dealer",
        conflicts_with = "accept_server_dealer"
    )]
    pub dealer: Option<String>,
    /// Use whatever dealer the server proposes (a demo, or a dealer agreed on out of band): a
    /// dealer run by the server could unmask your image. A warning is printed.
    #[arg(long)]
    pub accept_server_dealer: bool,
    /// A test image of a converted dataset as `DATASET:INDEX` (e.g. `mnist:3`); repeatable.
    #[arg(long)]
    pub sample: Vec<String>,
    /// Folder of converted datasets (for `--sample`).
    #[arg(long, default_value = "data")]
    pub data_dir: PathBuf,
    /// Also write the results (prediction, probabilities, cost, breakdowns) as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Only the prediction and the cost summary, not the breakdown tables.
    #[arg(long)]
    pub brief: bool,
    #[command(flatten)]
    pub net: NetArgs,
}

/// An input before the model's shape is known.
enum Source {
    /// A decoded file: width, height, RGBA bytes.
    File(PathBuf, u32, u32, Vec<u8>),
    /// A dataset image: its label and the prepared input bytes.
    Sample {
        spec: String,
        dataset: data::Dataset,
        index: usize,
    },
}

impl Source {
    fn name(&self) -> String {
        match self {
            Source::File(p, ..) => p.display().to_string(),
            Source::Sample { spec, .. } => spec.clone(),
        }
    }
}

fn decode(path: &Path) -> Result<Source> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::Data(format!("cannot read image {}: {e}", path.display())))?;
    let img = data::upload::decode_image(&bytes).map_err(|e| match e {
        Error::Data(m) => Error::Data(format!("cannot read image {}: {m}", path.display())),
        other => other,
    })?;
    Ok(Source::File(
        path.to_path_buf(),
        img.width,
        img.height,
        img.pixels,
    ))
}

fn sample(spec: &str, data_dir: &Path) -> Result<Source> {
    let (name, index) = spec.split_once(':').ok_or_else(|| {
        Error::Usage(format!(
            "--sample {spec}: expected DATASET:INDEX, e.g. mnist:3"
        ))
    })?;
    let index: usize = index
        .parse()
        .map_err(|_| Error::Usage(format!("--sample {spec}: '{index}' is not an index")))?;
    let dataset = data::load(data_dir, name, Split::Test)?;
    if index >= dataset.len() {
        return Err(Error::Usage(format!(
            "--sample {spec}: the {name} test split has {} images",
            dataset.len()
        )));
    }
    Ok(Source::Sample {
        spec: spec.into(),
        dataset,
        index,
    })
}

pub fn run(args: ClassifyArgs) -> Result<()> {
    if args.images.is_empty() && args.sample.is_empty() {
        return Err(Error::Usage(
            "nothing to classify: give image files and/or --sample DATASET:INDEX".into(),
        ));
    }
    let opts = args.net.options()?;
    let token = args.net.token()?;
    // Read every input before contacting the server, so a bad file costs nothing.
    let mut sources = Vec::new();
    for p in &args.images {
        sources.push(decode(p)?);
    }
    for s in &args.sample {
        sources.push(sample(s, &args.data_dir)?);
    }
    let mut client = RemoteClient::connect(&args.server, opts)?;
    if let Some(t) = &token {
        client = client.with_dealer_token(t);
    }
    let policy = match &args.dealer {
        Some(d) => DealerPolicy::Trusted(d.clone()),
        None => DealerPolicy::AcceptServers,
    };
    // Refuse an untrusted dealer before any image is prepared or sent.
    let dealer = client.dealer_for(&policy)?;
    let hello = client.hello().clone();
    announce(&args, &hello, &dealer.to_string());
    let mut inputs = Vec::new();
    let mut labels = Vec::new();
    for s in &sources {
        let (input, label) = s.prepare(&hello)?;
        inputs.push(input);
        labels.push(label);
    }
    let t0 = Instant::now();
    let results = client.classify(&inputs, &policy)?;
    let wall = t0.elapsed().as_secs_f64();
    let json = print_results(&args, &hello, &sources, &results, &labels);
    println!(
        "\n{} image(s) classified privately in {} (weight sharing included)",
        results.len(),
        format_seconds(wall)
    );
    if let Some(path) = &args.json {
        let out = serde_json::json!({
            "server": args.server,
            "config": hello.config,
            "plan": hello.plan,
            "dealer": dealer.to_string(),
            "dealer_in_server": hello.dealer_in_server,
            "wall_s": wall,
            "results": json,
        });
        std::fs::write(path, serde_json::to_string_pretty(&out)?)?;
    }
    Ok(())
}

/// What the user must know before an image leaves: the model's shape and whose dealer it is.
fn announce(args: &ClassifyArgs, hello: &ServerHello, dealer: &str) {
    let cfg = &hello.config;
    println!(
        "server {}: a ViT of {} layer(s) x {} head(s), {} channel(s) of {}x{}, {} classes",
        args.server,
        cfg.depth,
        cfg.heads,
        cfg.channels,
        cfg.image_size,
        cfg.image_size,
        cfg.classes
    );
    if hello.dealer_in_server {
        eprintln!(
            "warning: the dealer at {dealer} runs inside the server process; fine for a demo, \
             but that server could unmask your image. For privacy use a dealer run by a third \
             party you trust (`mpcvit dealer`) and pass --dealer."
        );
    } else if args.accept_server_dealer {
        eprintln!(
            "warning: using the dealer the server proposes ({dealer}); if the server runs or \
             chose it, it could unmask your image. Pass --dealer ADDR for a dealer you trust."
        );
    } else {
        println!("dealer: {dealer}");
    }
}

impl Source {
    /// The model input (values in [0, 1]) for the server's announced shape, and the true
    /// label when the source has one.
    fn prepare(&self, hello: &ServerHello) -> Result<(Vec<f32>, Option<usize>)> {
        let cfg = &hello.config;
        match self {
            Source::File(path, w, h, rgba) => {
                if cfg.channels != 1 {
                    return Err(Error::Unsupported(format!(
                        "image files need a greyscale model; the server's expects {} channels",
                        cfg.channels
                    )));
                }
                let bytes = preprocess_rgba(*w as usize, *h as usize, rgba, cfg.image_size)
                    .map_err(|e| Error::Data(format!("{}: {e}", path.display())))?;
                Ok((bytes.iter().map(|&b| b as f32 / 255.0).collect(), None))
            }
            Source::Sample {
                spec,
                dataset,
                index,
            } => {
                dataset.check_image_shape("--sample", spec, cfg.channels, cfg.image_size)?;
                // The hello names classes, not the dataset (the manifest stays on the server).
                let theirs = data::class_names(&dataset.name)?;
                if hello.class_names.as_ref().is_some_and(|names| {
                    !names.iter().map(String::as_str).eq(theirs.iter().copied())
                }) {
                    eprintln!(
                        "note: --sample {spec} is a {} image; the server's classes are others",
                        dataset.name
                    );
                }
                let x = dataset.to_input(&[*index])?;
                Ok((
                    x.iter().copied().collect(),
                    Some(dataset.labels[*index] as usize),
                ))
            }
        }
    }
}

/// Prints each result (brief or full) and returns them as JSON values.
fn print_results(
    args: &ClassifyArgs,
    hello: &ServerHello,
    sources: &[Source],
    results: &[PrivateInference],
    labels: &[Option<usize>],
) -> Vec<serde_json::Value> {
    let names: Option<Vec<&str>> = hello
        .class_names
        .as_ref()
        .map(|v| v.iter().map(String::as_str).collect());
    let names = names.as_deref();
    let label_text = |i: usize| match names.and_then(|n| n.get(i)) {
        Some(n) if *n != i.to_string() => format!("{i} ({n})"),
        _ => i.to_string(),
    };
    let mut json = Vec::new();
    for ((s, r), label) in sources.iter().zip(results).zip(labels) {
        println!();
        match label {
            Some(l) => println!("== {} (true label {})", s.name(), label_text(*l)),
            None => println!("== {}", s.name()),
        }
        if args.brief {
            println!(
                "prediction: {} with probability {:.4}",
                label_text(r.prediction),
                r.probabilities[r.prediction]
            );
            print!("{}", format_cost(&r.cost));
        } else {
            print!("{}", format_table(r, names));
        }
        let mut j = to_json(r, names);
        j["input"] = serde_json::json!(s.name());
        j["true_label"] = serde_json::json!(label);
        json.push(j);
    }
    json
}
