//! Mutation fuzzing of every parser of outside bytes (issue #12, item 6), on stable Rust inside
//! the normal `cargo test` run.
//!
//! Each target starts from valid inputs (engine frames and the streams of a real protocol run,
//! the dealer's seed message, every control message through `Control::decode`, hello / join /
//! report JSON, manifests, the model index, safetensors weights, the three dataset formats, PNG
//! and JPEG files, and raw pixel buffers for the preprocessing) and feeds thousands of mutants
//! to the parser: random bytes, truncation, bit flips, interesting bytes, length fields
//! overwritten with huge values (little- and big-endian), inserted, deleted and duplicated
//! chunks, and for JSON also structural mutations (a node replaced with `0`, `-1`, `u64::MAX`,
//! `1e308`, a long string, a deep array, a key removed). The oracle for each input:
//!
//! * no panic (`catch_unwind`);
//! * bounded memory: a counting global allocator measures the peak bytes the parse allocated
//!   on this thread, which must stay below the target's bound (a small multiple of the input
//!   size plus what the valid model needs), so nothing is allocated from a claimed length
//!   before that length is checked;
//! * no hang: each input finishes within [`HANG`].
//!
//! Mutants come from a seeded ChaCha8 stream: `MPCVIT_FUZZ_SEED` changes the seed and
//! `MPCVIT_FUZZ_SCALE` multiplies the iteration counts (e.g. `MPCVIT_FUZZ_SCALE=20 cargo test
//! --release --test native_fuzz` for a longer campaign). A failure prints the target, the
//! iteration, the seed and the input in hex.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::VecDeque;
use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use futures::future::LocalBoxFuture;
use ndarray::ArrayD;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use mpcvit::data::{idx, preprocess_gray, preprocess_rgba, upload, Dataset};
use mpcvit::io::{self, Manifest, ModelIndex};
use mpcvit::model::vit::Arch;
use mpcvit::model::{Attention, AttentionPlan, GeluPlan, Params, Plan, ViTConfig};
use mpcvit::mpc::exec::{block_on_local, run_joined};
use mpcvit::mpc::protocols as pr;
use mpcvit::mpc::setup::{parse_seed_message, seed_message};
use mpcvit::mpc::transport::{
    decode_frame, encode_frame, mem_pair, Recording, Transport, MAGIC_DEALER, MAGIC_PARTY,
};
use mpcvit::mpc::{
    Dealer, DealerClient, Party, ProtocolFamily, Report, SessionConfig, SessionSeeds, Stats,
    TruncMode,
};
use mpcvit::secure::remote::wire::{Control, Join, Kind};
use mpcvit::secure::remote::ServerHello;
use mpcvit::secure::PrivateInference;

// ---------------------------------------------------------------------------------------------
// The oracle: a per-thread counting allocator, catch_unwind and a time bound.

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let v = live.get() + delta;
        live.set(v);
        let _ = PEAK.try_with(|p| p.set(p.get().max(v)));
    });
}

// SAFETY: every call is forwarded to `System` unchanged; only the bookkeeping is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        note(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` and returns its result with the peak bytes it held allocated at once on this
/// thread, above what was live before it started.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(|l| l.get());
    PEAK.with(|p| p.set(base));
    let out = f();
    let peak = PEAK.with(|p| p.get());
    (out, (peak - base).max(0) as usize)
}

/// Longest any single input may take (a hang detector, not a performance target: a parse
/// takes micro- to milliseconds).
const HANG: Duration = Duration::from_secs(10);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `base` iterations times `MPCVIT_FUZZ_SCALE` (default 1).
fn iterations(base: usize) -> usize {
    base * env_u64("MPCVIT_FUZZ_SCALE", 1).max(1) as usize
}

fn hex(bytes: &[u8]) -> String {
    let shown: String = bytes.iter().take(512).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > 512 {
        format!("{shown}... ({} bytes)", bytes.len())
    } else {
        shown
    }
}

/// What one fuzz campaign saw: inputs accepted and rejected (both must occur, or the target
/// does not exercise its parser).
#[derive(Debug, Default)]
struct Tally {
    accepted: usize,
    rejected: usize,
}

/// Feeds `iters` inputs from `generate` to `parse` (true: accepted) and checks the oracle on
/// each: no panic, at most `bound(input length)` bytes allocated at the peak, done within
/// [`HANG`].
fn fuzz(
    target: &str,
    iters: usize,
    mut generate: impl FnMut(&mut Mutator) -> Vec<u8>,
    bound: impl Fn(usize) -> usize,
    parse: impl Fn(&[u8]) -> bool,
) -> Tally {
    // Each target has its own stream, so adding a target does not change the others' inputs.
    let seed = env_u64("MPCVIT_FUZZ_SEED", 12)
        ^ target
            .bytes()
            .fold(0u64, |h, b| h.rotate_left(5) ^ b as u64);
    let mut m = Mutator::new(seed);
    let mut tally = Tally::default();
    for i in 0..iters {
        let input = generate(&mut m);
        let start = Instant::now();
        let (outcome, peak) = peak_during(|| catch_unwind(AssertUnwindSafe(|| parse(&input))));
        let took = start.elapsed();
        let context = || format!("{target}: input {i} (seed {seed}): {}", hex(&input));
        match outcome {
            Ok(true) => tally.accepted += 1,
            Ok(false) => tally.rejected += 1,
            Err(_) => panic!("panicked on {}", context()),
        }
        let limit = bound(input.len());
        assert!(
            peak <= limit,
            "allocated {peak} bytes at the peak (bound {limit}) on {}",
            context()
        );
        assert!(took < HANG, "took {took:?} on {}", context());
    }
    tally
}

// ---------------------------------------------------------------------------------------------
// Mutations.

/// Values written over length and count fields.
const HUGE: [u64; 12] = [
    0,
    1,
    0x7f,
    0xff,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    1 << 32,
    1 << 40,
    i64::MAX as u64,
    u64::MAX,
];

struct Mutator {
    rng: ChaCha8Rng,
}

impl Mutator {
    fn new(seed: u64) -> Self {
        Mutator {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.rng.gen_range(0..n)
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// One to four stacked byte-level mutations of `seed`.
    fn bytes(&mut self, seed: &[u8]) -> Vec<u8> {
        let mut b = seed.to_vec();
        for _ in 0..1 + self.below(4) {
            self.mutate_once(&mut b);
        }
        b
    }

    fn mutate_once(&mut self, b: &mut Vec<u8>) {
        let len = b.len();
        match self.below(20) {
            // Random bytes (rarely: they mostly fail at the first check).
            0 => {
                let n = self.below(len + 64);
                *b = (0..n).map(|_| self.rng.gen()).collect();
            }
            1..=3 => b.truncate(self.below(len)),
            4..=7 => {
                for _ in 0..1 + self.below(8) {
                    if !b.is_empty() {
                        let i = self.below(b.len());
                        b[i] ^= 1 << self.below(8);
                    }
                }
            }
            8..=9 => {
                if len > 0 {
                    let i = self.below(len);
                    b[i] = *self.pick(&[0u8, 1, 0x7f, 0x80, 0xfe, 0xff, b'0', b'9', b'"']);
                }
            }
            // A length or count field set to a huge value, at a 4-aligned offset (where the
            // headers keep them) or anywhere.
            10..=13 => {
                let v = *self.pick(&HUGE);
                let width = *self.pick(&[4usize, 8]);
                let bytes = if self.rng.gen() {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                let field = if self.rng.gen() {
                    &bytes[..width]
                } else {
                    &bytes[8 - width..]
                };
                let mut at = self.below(len);
                if self.rng.gen() {
                    at -= at % 4;
                }
                for (k, x) in field.iter().enumerate() {
                    if let Some(slot) = b.get_mut(at + k) {
                        *slot = *x;
                    }
                }
            }
            14..=15 => {
                let at = self.below(len + 1);
                let n = 1 + self.below(16);
                let chunk: Vec<u8> = (0..n).map(|_| self.rng.gen()).collect();
                b.splice(at..at, chunk);
            }
            16..=17 => {
                if len > 0 {
                    let at = self.below(len);
                    let end = (at + 1 + self.below(32)).min(len);
                    b.drain(at..end);
                }
            }
            _ => {
                if len > 0 {
                    let at = self.below(len);
                    let end = (at + 1 + self.below(64)).min(len);
                    let chunk = b[at..end].to_vec();
                    let to = self.below(len + 1);
                    b.splice(to..to, chunk);
                }
            }
        }
    }

    /// A hostile JSON value to put in place of a node.
    fn hostile_value(&mut self, old: &Value) -> Value {
        match self.below(16) {
            0 => 0.into(),
            1 => (-1).into(),
            2 => u64::MAX.into(),
            3 => i64::MIN.into(),
            4 => 1e308.into(),
            5 => 0.5.into(),
            6 => Value::Null,
            7 => "".into(),
            8 => "x".repeat(1 + self.below(5000)).into(),
            9 => Value::Array(Vec::new()),
            10 => Value::Object(Default::default()),
            11 => {
                // Deeper than serde_json's recursion limit.
                let depth = 100 + self.below(200);
                let text = "[".repeat(depth) + &"]".repeat(depth);
                serde_json::from_str(&text).unwrap_or(Value::Null)
            }
            12 => match old.as_u64() {
                Some(v) => v.saturating_mul(1 << self.below(40)).into(),
                None => (1u64 << self.below(64)).into(),
            },
            13 => Value::Array(vec![old.clone(); 1 + self.below(64)]),
            14 => match old {
                Value::Array(a) if !a.is_empty() => {
                    let mut a = a.clone();
                    let extra = a[self.below(a.len())].clone();
                    for _ in 0..1 + self.below(8) {
                        a.push(extra.clone());
                    }
                    Value::Array(a)
                }
                Value::Object(o) if !o.is_empty() => {
                    let mut o = o.clone();
                    let key = o
                        .keys()
                        .nth(self.below(o.len()))
                        .cloned()
                        .unwrap_or_default();
                    o.remove(&key);
                    Value::Object(o)
                }
                _ => Value::Bool(true),
            },
            _ => Value::Object(
                [("unexpected".to_string(), Value::from(1))]
                    .into_iter()
                    .collect(),
            ),
        }
    }

    /// One to three structural mutations of `seed`, serialised, then (sometimes) a byte-level
    /// mutation of the text.
    fn json(&mut self, seed: &Value) -> Vec<u8> {
        let mut v = seed.clone();
        for _ in 0..1 + self.below(3) {
            let mut n = self.below(count_nodes(&v));
            if let Some(node) = nth_node(&mut v, &mut n) {
                *node = self.hostile_value(node);
            }
        }
        let text = serde_json::to_vec(&v).expect("a Value serialises");
        if self.below(3) == 0 {
            self.bytes(&text)
        } else {
            text
        }
    }
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count_nodes).sum(),
        Value::Object(o) => o.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// The `n`-th node of `v` in pre-order.
fn nth_node<'a>(v: &'a mut Value, n: &mut usize) -> Option<&'a mut Value> {
    if *n == 0 {
        return Some(v);
    }
    *n -= 1;
    match v {
        Value::Array(a) => a.iter_mut().find_map(|x| nth_node(x, n)),
        Value::Object(o) => o.values_mut().find_map(|x| nth_node(x, n)),
        _ => None,
    }
}

/// Mostly a mutant of one of `seeds`, sometimes a seed unchanged (the parser must accept it).
fn mutant(m: &mut Mutator, seeds: &[Vec<u8>]) -> Vec<u8> {
    let s = m.pick(seeds).clone();
    if m.below(50) == 0 {
        s
    } else {
        m.bytes(&s)
    }
}

fn json_mutant(m: &mut Mutator, seeds: &[Value]) -> Vec<u8> {
    let s = m.pick(seeds).clone();
    match m.below(50) {
        0 => serde_json::to_vec(&s).unwrap(),
        1..=9 => m.bytes(&serde_json::to_vec(&s).unwrap()),
        _ => m.json(&s),
    }
}

/// Headroom for error messages, format strings and small fixed buffers of a parse.
const SLACK: usize = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// Models used as seeds.

fn small_config() -> ViTConfig {
    ViTConfig {
        dim: 8,
        linformer_k: 2,
        ..ViTConfig::tiny()
    }
}

fn plans(cfg: &ViTConfig) -> Vec<Plan> {
    let n = cfg.tokens();
    let mut rows = vec![vec![vec![Attention::RsAttn; n]; cfg.heads]; cfg.depth];
    rows[0][1][2] = Attention::ScaleAttn;
    let mut lin = vec![vec![false; n]; cfg.depth];
    lin[0][1] = true;
    vec![
        Plan::uniform(cfg, Attention::Softmax),
        Plan {
            attention: AttentionPlan::Head(vec![
                vec![Attention::RsAttn, Attention::ScaleAttn];
                cfg.depth
            ]),
            gelu: None,
        },
        Plan {
            attention: AttentionPlan::Row(rows),
            gelu: Some(GeluPlan { linearised: lin }),
        },
    ]
}

fn manifests() -> Vec<Manifest> {
    let cfg = small_config();
    let mut out: Vec<Manifest> = plans(&cfg)
        .into_iter()
        .enumerate()
        .map(|(i, plan)| {
            let mut m = Manifest::new(format!("m{i}"), "mnist", cfg.clone(), plan);
            m.metrics.test_accuracy = Some(0.9);
            m.metrics.test_images = Some(100);
            m.description = Some("a model".into());
            m
        })
        .collect();
    let paper = ViTConfig::paper_tiny_imagenet();
    out.push(Manifest::new(
        "paper",
        "tiny-imagenet",
        paper.clone(),
        Plan::uniform(&paper, Attention::ScaleAttn),
    ));
    out
}

fn params(cfg: &ViTConfig, seed: u64) -> Params {
    Params::init(cfg, &mut ChaCha8Rng::seed_from_u64(seed))
}

/// Bytes of every parameter of `cfg` as f32: what loading its weights must allocate anyway.
fn params_bytes(cfg: &ViTConfig) -> usize {
    4 * cfg.parameter_count() as usize
}

// ---------------------------------------------------------------------------------------------
// Engine frames and protocol streams.

#[test]
fn engine_frames() {
    let seeds: Vec<Vec<u8>> = [0usize, 1, 16, 200]
        .iter()
        .map(|&n| {
            let payload: Vec<u8> = (0..n).map(|i| i as u8).collect();
            encode_frame(MAGIC_PARTY, 3, 0xdead_beef, &payload)
        })
        .collect();
    let t = fuzz(
        "frames",
        iterations(20_000),
        |m| mutant(m, &seeds),
        |_| SLACK,
        |b| {
            let mut ok = false;
            for len in [0, 1, 16, 200] {
                ok |= decode_frame(b, MAGIC_PARTY, 3, 0xdead_beef, len).is_ok();
                // Checked against the other magic (a dealer frame where a party frame is
                // expected) and other positions too.
                let _ = decode_frame(b, MAGIC_DEALER, 3, 0xdead_beef, len);
                let _ = decode_frame(b, MAGIC_PARTY, u64::MAX, 0, len);
            }
            ok
        },
    );
    assert!(t.accepted > 0 && t.rejected > 0, "{t:?}");
}

#[test]
fn dealer_seed_messages() {
    let seeds = vec![seed_message(&mpcvit::mpc::Seed::insecure_fixed(9))];
    let t = fuzz(
        "seed message",
        iterations(20_000),
        |m| mutant(m, &seeds),
        |_| SLACK,
        |b| match parse_seed_message(b) {
            Ok(_) => {
                assert_eq!(b.len(), 36);
                true
            }
            Err(e) => {
                assert!(matches!(e, mpcvit::Error::Protocol(_)), "{e}");
                false
            }
        },
    );
    assert!(t.accepted > 0 && t.rejected > 0, "{t:?}");
}

/// A transport that replays a recorded stream (and swallows what is sent): a peer or dealer
/// whose every frame is chosen by the test.
struct Scripted(VecDeque<Vec<u8>>);

impl Transport for Scripted {
    fn send(&mut self, _frame: Vec<u8>) -> mpcvit::Result<()> {
        Ok(())
    }
    fn recv(&mut self) -> LocalBoxFuture<'_, mpcvit::Result<Vec<u8>>> {
        let next = self.0.pop_front();
        Box::pin(
            async move { next.ok_or_else(|| mpcvit::Error::Protocol("the script ended".into())) },
        )
    }
}

/// A small program touching every kind of round and correlation the engine has: input
/// sharing, a comparison (bit triples, bit pairs), a Beaver product with exact truncation,
/// the reveal.
async fn program(p: &mut Party, x: Option<&ArrayD<f64>>) -> mpcvit::Result<Option<ArrayD<f64>>> {
    let s = pr::share_input(p, 0, x, &[6]).await?;
    let r = pr::relu(p, &s).await?;
    let m = pr::mul(p, &r, &s).await?;
    pr::reveal_to(p, &m, 0).await
}

struct Recorded {
    session: SessionConfig,
    seeds: SessionSeeds,
    input: ArrayD<f64>,
    /// Frames party 0 received from party 1, party 1 from party 0, party 1 from the dealer.
    to_p0: Vec<Vec<u8>>,
    to_p1: Vec<Vec<u8>>,
    from_dealer: Vec<Vec<u8>>,
}

/// Runs [`program`] honestly with a separate dealer and records every stream.
fn record() -> Recorded {
    let session = SessionConfig {
        trunc: TruncMode::Exact,
        ..SessionConfig::default()
    };
    let seeds = SessionSeeds::insecure_fixed(21);
    let input = ndarray::arr1(&[-1.5, 2.0, 0.25, -0.75, 3.0, 0.0]).into_dyn();
    let (d_out, _d_in) = mem_pair();
    let (d_out, _, dealer_sent) = Recording::new(d_out);
    let mut d = Party::dealer(
        session,
        Dealer::new(seeds.dealer0, seeds.dealer1),
        Box::new(d_out),
    );
    block_on_local(program(&mut d, None)).unwrap().unwrap();
    let from_dealer = dealer_sent.borrow().clone();
    let (t0, t1) = mem_pair();
    let (t0, got0, _) = Recording::new(t0);
    let (t1, got1, _) = Recording::new(t1);
    let mut p0 = Party::new(
        0,
        session,
        Box::new(t0),
        DealerClient::party0(seeds.dealer0),
        seeds.local0,
    )
    .unwrap();
    let mut p1 = Party::new(
        1,
        session,
        Box::new(t1),
        DealerClient::party1_remote(
            seeds.dealer1,
            Box::new(Scripted(from_dealer.clone().into())),
        ),
        seeds.local1,
    )
    .unwrap();
    let (out, none) = run_joined(program(&mut p0, Some(&input)), program(&mut p1, None)).unwrap();
    assert!(none.is_none());
    let got = out.unwrap();
    let want = [0.0, 4.0, 0.0625, 0.0, 9.0, 0.0];
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-3, "{got:?}");
    }
    let to_p0 = got0.borrow().clone();
    let to_p1 = got1.borrow().clone();
    Recorded {
        session,
        seeds,
        input,
        to_p0,
        to_p1,
        from_dealer,
    }
}

/// A stream with one frame mutated, or frames dropped, duplicated, swapped or injected.
fn mutate_stream(m: &mut Mutator, honest: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut s = honest.to_vec();
    let i = m.below(s.len());
    match m.below(10) {
        0 if !s.is_empty() => {
            s.remove(i);
        }
        1 if !s.is_empty() => s.insert(i, s[i].clone()),
        2 if s.len() > 1 => {
            let j = m.below(s.len());
            s.swap(i, j);
        }
        3 => {
            let k = m.below(honest.len());
            let junk = m.bytes(&honest[k]);
            s.insert(i.min(s.len()), junk);
        }
        4 => s.truncate(i),
        _ if !s.is_empty() => s[i] = m.bytes(&s[i]),
        _ => {}
    }
    s
}

/// Frames on the wire, joined as one input for [`fuzz`]: `u32` length then bytes, each.
fn join_frames(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in frames {
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    out
}

fn split_frames(mut b: &[u8]) -> VecDeque<Vec<u8>> {
    let mut out = VecDeque::new();
    while b.len() >= 4 {
        let n = u32::from_le_bytes(b[..4].try_into().unwrap()) as usize;
        let rest = &b[4..];
        let n = n.min(rest.len());
        out.push_back(rest[..n].to_vec());
        b = &rest[n..];
    }
    out
}

/// The largest honest run's allocations are a few kilobytes; a hostile stream must not make a
/// party allocate more than that plus the frames it was given.
fn stream_bound(len: usize) -> usize {
    4 * len + 1024 * 1024
}

#[test]
fn protocol_streams_from_a_hostile_peer_and_dealer() {
    let rec = record();
    // Party 0 against a hostile party 1.
    let t = fuzz(
        "party 1 -> party 0 stream",
        iterations(1_500),
        |m| join_frames(&mutate_stream(m, &rec.to_p0)),
        stream_bound,
        |b| {
            let mut p0 = Party::new(
                0,
                rec.session,
                Box::new(Scripted(split_frames(b))),
                DealerClient::party0(rec.seeds.dealer0),
                rec.seeds.local0,
            )
            .unwrap();
            matches!(
                block_on_local(program(&mut p0, Some(&rec.input))),
                Ok(Ok(_))
            )
        },
    );
    assert!(t.accepted > 0 && t.rejected > 0, "{t:?}");
    // Party 1 against a hostile party 0 (honest dealer), then a hostile dealer (honest party
    // 0): the dealer's correction frames.
    for (target, hostile_dealer) in [
        ("party 0 -> party 1 stream", false),
        ("dealer -> party 1 corrections", true),
    ] {
        let honest = if hostile_dealer {
            &rec.from_dealer
        } else {
            &rec.to_p1
        };
        let t = fuzz(
            target,
            iterations(1_500),
            |m| join_frames(&mutate_stream(m, honest)),
            stream_bound,
            |b| {
                let (peer, dealer) = if hostile_dealer {
                    (rec.to_p1.clone().into(), split_frames(b))
                } else {
                    (split_frames(b), rec.from_dealer.clone().into())
                };
                let mut p1 = Party::new(
                    1,
                    rec.session,
                    Box::new(Scripted(peer)),
                    DealerClient::party1_remote(rec.seeds.dealer1, Box::new(Scripted(dealer))),
                    rec.seeds.local1,
                )
                .unwrap();
                matches!(block_on_local(program(&mut p1, None)), Ok(Ok(None)))
            },
        );
        assert!(t.accepted > 0 && t.rejected > 0, "{target}: {t:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Control JSON: the hello, the join, the reports.

fn hello_seeds() -> Vec<Value> {
    manifests()
        .into_iter()
        .map(|manifest| {
            let hello = ServerHello {
                protocol: mpcvit::secure::remote::PROTOCOL.into(),
                config: manifest.config,
                plan: manifest.plan,
                class_names: Some((0..3).map(|c| format!("class {c}")).collect()),
                session: SessionConfig::default(),
                dealer: "127.0.0.1:7001".into(),
                dealer_in_server: false,
            };
            serde_json::to_value(hello).unwrap()
        })
        .collect()
}

/// JSON parses allocate at most a small multiple of the text (a `0,` becomes a 32-byte
/// `Value`, vectors grow by doubling).
fn json_bound(len: usize) -> usize {
    64 * len + SLACK
}

#[test]
fn server_hello() {
    let seeds = hello_seeds();
    let t = fuzz(
        "hello",
        iterations(3_000),
        |m| json_mutant(m, &seeds),
        json_bound,
        |b| match serde_json::from_slice::<ServerHello>(b) {
            Ok(h) => h
                .config
                .validate()
                .and_then(|()| h.plan.validate(&h.config))
                .is_ok(),
            Err(_) => false,
        },
    );
    assert!(t.accepted > 0 && t.rejected > 0, "{t:?}");
}

/// The public part of a join (the dealer's `Join` is private to `secure::remote`): what the
/// dealer checks and then builds its program from.
#[derive(Deserialize)]
struct JoinProgram {
    config: ViTConfig,
    plan: Plan,
    images: usize,
    session: SessionConfig,
}

#[test]
fn join_programs() {
    let seeds: Vec<Value> = manifests()
        .into_iter()
        .map(|m| {
            serde_json::json!({
                "type": "join", "protocol": "mpcvit-tcp/1", "role": 1,
                "session_id": "00112233", "config": m.config, "plan": m.plan,
                "images": 2, "session": SessionConfig::default(),
            })
        })
        .collect();
    let t = fuzz(
        "join",
        iterations(3_000),
        |m| json_mutant(m, &seeds),
        // What a valid config's architecture needs (per layer, head and token) on top.
        |len| json_bound(len) + 64 * 1024 * 1024,
        |b| {
            let Ok(j) = serde_json::from_slice::<JoinProgram>(b) else {
                return false;
            };
            if j.plan.validate(&j.config).is_err() {
                return false;
            }
            // What the dealer does next with an accepted join.
            let arch = Arch::from_plan(&j.config, &j.plan);
            assert_eq!(arch.heads.len(), j.config.depth);
            assert!(j.config.private_bytes_estimate() <= mpcvit::model::config::MAX_PRIVATE_BYTES);
            let _ = (j.images, j.session);
            true
        },
    );
    assert!(t.accepted > 0 && t.rejected > 0, "{t:?}");
}

#[test]
fn hostile_configs_in_a_join_are_clear_errors() {
    let plan = Plan::uniform(&ViTConfig::demo(), Attention::Softmax);
    for (field, value, want) in [
        ("patch", 0u64, "patch must be positive"),
        ("image_size", 0, "image_size must be positive"),
        ("mlp_ratio", 1 << 40, "mlp_ratio = 1099511627776 exceeds"),
        (
            "classes",
            u64::MAX,
            "classes = 18446744073709551615 exceeds",
        ),
        ("channels", 1000, "channels = 1000 exceeds"),
        ("dim", 1 << 20, "dim = 1048576 exceeds"),
        ("depth", 100_000, "depth = 100000 exceeds"),
        ("heads", 0, "heads must be positive"),
        ("linformer_k", 1 << 30, "linformer_k = 1073741824 exceeds"),
    ] {
        let mut cfg = serde_json::to_value(ViTConfig::demo()).unwrap();
        cfg[field] = value.into();
        let join = serde_json::json!({"config": cfg, "plan": plan, "images": 1,
                                      "session": SessionConfig::default()});
        let j: JoinProgram = serde_json::from_value(join).unwrap();
        match catch_unwind(|| j.plan.validate(&j.config)) {
            Ok(Err(mpcvit::Error::Config(m))) => assert!(m.contains(want), "{field}: {m}"),
            Ok(other) => panic!("{field} = {value}: expected a config error, got {other:?}"),
            Err(_) => panic!("{field} = {value}: panicked"),
        }
    }
}

fn report_seed() -> Vec<Report> {
    let cfg = small_config();
    let vit = mpcvit::model::ViT::new(
        cfg.clone(),
        Plan::uniform(&cfg, Attention::RsAttn),
        params(&cfg, 1),
    )
    .unwrap();
    let img = vec![0.5f32; cfg.input_len()];
    let r = mpcvit::secure::infer_local(
        &vit,
        &[&img],
        SessionConfig::default(),
        Some(SessionSeeds::insecure_fixed(3)),
    )
    .unwrap()
    .remove(0);
    vec![r.report]
}

#[test]
fn server_reports() {
    let reports = report_seed();
    let mine = reports[0].clone();
    let seeds = vec![serde_json::to_value(&reports).unwrap()];
    let t = fuzz(
        "reports",
        iterations(2_000),
        |m| json_mutant(m, &seeds),
        // The joint report copies both reports' rows once more.
        |len| 4 * json_bound(len) + 8 * SLACK,
        |b| {
            let Ok(theirs) = serde_json::from_slice::<Vec<Report>>(b) else {
                return false;
            };
            let mut all_ok = true;
            for r in &theirs {
                // Unchecked merging saturates; checked merging refuses.
                let merged =
                    PrivateInference::from_parts(vec![0.0, 1.0], &mine, r, ProtocolFamily::Classic);
                let _ = (merged.report.by_labels(2), merged.report.by_leaf_op());
                all_ok &=
                    PrivateInference::from_peer_parts(vec![0.0], &mine, r, ProtocolFamily::Classic)
                        .is_ok();
            }
            all_ok && !theirs.is_empty()
        },
    );
    assert!(t.accepted > 0 && t.rejected > 0, "{t:?}");
}

/// Every control message as the peer reads it: `Control::decode` with each expected kind
/// (size limit, JSON, kind check, error relay) and `Control::error_text`, over mutants of one
/// message of each kind. An accepted hello or join is checked further as its receiver does.
#[test]
fn control_frames() {
    let manifest = manifests().remove(0);
    let hello: ServerHello = serde_json::from_value(hello_seeds().remove(0)).unwrap();
    let commit = "ab".repeat(32);
    let join = Join {
        protocol: mpcvit::secure::remote::PROTOCOL.into(),
        role: 1,
        client_commit: commit.clone(),
        server_commit: commit.clone(),
        key: "cd".repeat(32),
        config: manifest.config,
        plan: manifest.plan,
        images: 2,
        session: SessionConfig::default(),
        mac: String::new(),
    };
    let messages = [
        Control::Hello(Box::new(hello)),
        Control::Request {
            images: 3,
            client_commit: commit.clone(),
        },
        Control::Join(Box::new(join)),
        Control::Ready {
            server_commit: commit,
        },
        Control::Reports {
            reports: report_seed(),
        },
        Control::Error {
            message: "the dealer went away".into(),
        },
    ];
    let seeds: Vec<Value> = messages
        .iter()
        .map(|c| serde_json::from_slice(&c.encode().unwrap()).unwrap())
        .collect();
    let kinds = [
        Kind::Hello,
        Kind::Request,
        Kind::Join,
        Kind::Ready,
        Kind::Reports,
        Kind::Error,
    ];
    let t = fuzz(
        "control",
        iterations(3_000),
        |m| json_mutant(m, &seeds),
        |len| 6 * json_bound(len) + 64 * 1024 * 1024,
        |b| {
            let _ = Control::error_text(b);
            let mut accepted = false;
            for kind in kinds {
                match Control::decode(b, kind, "peer") {
                    Ok(Control::Hello(h)) => {
                        accepted |=
                            h.config.validate().is_ok() && h.plan.validate(&h.config).is_ok()
                    }
                    Ok(Control::Join(j)) => accepted |= j.plan.validate(&j.config).is_ok(),
                    Ok(c) => {
                        assert_eq!(c.kind(), kind);
                        accepted = true;
                    }
                    Err(e) => assert!(!e.to_string().is_empty()),
                }
            }
            accepted
        },
    );
    assert!(t.accepted > 0 && t.rejected > 0, "{t:?}");
    // A frame over its kind's limit is refused before it is parsed.
    let big = vec![b' '; Kind::Request.max_bytes() + 1];
    let err = Control::decode(&big, Kind::Request, "peer").unwrap_err();
    assert!(err.to_string().contains("where a request message"), "{err}");
}

#[test]
fn summed_report_counters_cannot_overflow() {
    let mine = report_seed().remove(0);
    let mut hostile = mine.clone();
    for row in hostile.rows.iter_mut() {
        row.stats = Stats {
            rounds: u64::MAX - 1,
            sent: u64::MAX,
            offline_recv: u64::MAX / 2 + 1,
            ..row.stats
        };
    }
    let merged = catch_unwind(|| {
        PrivateInference::from_parts(vec![1.0, 0.0], &mine, &hostile, ProtocolFamily::Classic)
    })
    .expect("merging a hostile report must not panic");
    assert_eq!(merged.cost.rounds, u64::MAX);
    match PrivateInference::from_peer_parts(
        vec![1.0, 0.0],
        &mine,
        &hostile,
        ProtocolFamily::Classic,
    ) {
        Err(mpcvit::Error::Protocol(m)) => assert!(m.contains("cost report"), "{m}"),
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Manifests, the model index, safetensors weights.

#[test]
fn manifests_and_the_model_index() {
    let seeds: Vec<Value> = manifests()
        .iter()
        .map(|m| serde_json::to_value(m).unwrap())
        .collect();
    let t = fuzz(
        "manifest",
        iterations(3_000),
        |m| json_mutant(m, &seeds),
        json_bound,
        |b| {
            let Ok(text) = std::str::from_utf8(b) else {
                return false;
            };
            match Manifest::from_json(text) {
                Ok(m) => {
                    assert!(m.config.parameter_count() <= mpcvit::model::config::MAX_PARAMETERS);
                    true
                }
                Err(e) => {
                    assert!(matches!(e, mpcvit::Error::Model(_)), "{e}");
                    false
                }
            }
        },
    );
    assert!(t.accepted > 0 && t.rejected > 0, "manifest: {t:?}");

    let index = ModelIndex {
        models: manifests()
            .iter()
            .map(|m| io::IndexEntry {
                name: m.name.clone(),
                dataset: m.dataset.clone(),
                weights: format!("{}.safetensors", m.name),
                manifest: format!("{}.json", m.name),
                test_accuracy: m.metrics.test_accuracy,
                weights_bytes: 1234,
                description: m.description.clone(),
            })
            .collect(),
    };
    let seeds = vec![serde_json::to_value(index).unwrap()];
    let t = fuzz(
        "model index",
        iterations(3_000),
        |m| json_mutant(m, &seeds),
        json_bound,
        |b| serde_json::from_slice::<ModelIndex>(b).is_ok(),
    );
    assert!(t.accepted > 0 && t.rejected > 0, "index: {t:?}");
}

/// A safetensors file with its JSON header replaced by `header` (data kept).
fn with_header(file: &[u8], header: &[u8]) -> Vec<u8> {
    let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header);
    out.extend_from_slice(&file[8 + n..]);
    out
}

#[test]
fn safetensors_weights() {
    let cfg = small_config();
    let file = io::to_safetensors(&params(&cfg, 5), &[("name", "m")]).unwrap();
    let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&file[8..8 + n]).unwrap();
    let manifest = manifests().remove(0);
    let manifest_json = manifest.to_json().unwrap();
    let seeds = vec![file.clone()];
    let t = fuzz(
        "safetensors",
        iterations(3_000),
        |m| {
            if m.below(2) == 0 {
                // The header's shapes, offsets and dtypes mutated structurally.
                let h = m.json(&header);
                with_header(&file, &h)
            } else {
                mutant(m, &seeds)
            }
        },
        // The parameters themselves plus the parsed header.
        |len| 2 * params_bytes(&cfg) + json_bound(len),
        |b| {
            let _ = io::weights::metadata(b);
            let ok = io::from_safetensors(b, &cfg).is_ok();
            assert_eq!(io::load_model(b, &manifest_json).is_ok(), ok);
            ok
        },
    );
    assert!(t.accepted > 0 && t.rejected > 0, "{t:?}");
}

// ---------------------------------------------------------------------------------------------
// Dataset files.

fn dataset() -> Dataset {
    let count = 5;
    let pixels = (0..count * 16).map(|i| (i * 37 % 256) as u8).collect();
    Dataset::new("tiny", 4, 4, 1, 3, vec![0, 1, 2, 1, 0], pixels).unwrap()
}

/// Re-signs a mutated dataset file so that the checks after the checksum run too.
fn resign(b: &mut [u8]) {
    if b.len() >= 32 {
        let n = b.len() - 32;
        let digest = Sha256::digest(&b[..n]);
        b[n..].copy_from_slice(&digest);
    }
}

#[test]
fn binary_dataset_files() {
    let seeds = vec![dataset().to_bytes().unwrap()];
    let t = fuzz(
        "dataset file",
        iterations(5_000),
        |m| {
            let mut b = mutant(m, &seeds);
            if m.below(2) == 0 {
                resign(&mut b);
            }
            b
        },
        // Labels and pixels are copied out once.
        |len| 2 * len + SLACK,
        |b| match Dataset::from_bytes(b) {
            Ok(d) => {
                assert_eq!(d.pixels.len(), d.len() * d.image_len());
                true
            }
            Err(e) => {
                assert!(matches!(e, mpcvit::Error::Data(_)), "{e}");
                false
            }
        },
    );
    assert!(t.accepted > 0 && t.rejected > 0, "{t:?}");
}

#[test]
fn idx_files() {
    let d = dataset();
    let images = idx::IdxImages {
        count: d.len(),
        rows: d.rows,
        cols: d.cols,
        pixels: d.pixels.clone(),
    };
    let seeds = vec![
        idx::images_to_bytes(&images),
        idx::labels_to_bytes(&d.labels),
    ];
    let t = fuzz(
        "idx",
        iterations(5_000),
        |m| mutant(m, &seeds),
        |len| 3 * len + SLACK,
        |b| {
            let imgs = idx::parse_images(b, "images");
            let labels = idx::parse_labels(b, "labels");
            match (imgs, labels) {
                (Ok(i), _) => {
                    let n = i.count;
                    let _ = idx::to_dataset("mnist", i, vec![0; n.min(1 << 16)], 10);
                    true
                }
                (_, Ok(_)) => true,
                (Err(a), Err(b)) => {
                    assert!(matches!(
                        (a, b),
                        (mpcvit::Error::Data(_), mpcvit::Error::Data(_))
                    ));
                    false
                }
            }
        },
    );
    assert!(t.accepted > 0 && t.rejected > 0, "{t:?}");
}

#[test]
fn fashion_class_files_and_samples() {
    let image = |v: u8| vec![v; 784];
    let seeds = vec![serde_json::json!({"data": [image(1), [], image(200)]})];
    let t = fuzz(
        "fashion json",
        iterations(1_500),
        |m| json_mutant(m, &seeds),
        json_bound,
        |b| mpcvit::data::fashion::parse_class(b, "0.json").is_ok(),
    );
    assert!(t.accepted > 0 && t.rejected > 0, "fashion: {t:?}");

    let samples = mpcvit::data::samples::select(&dataset(), "test", 1);
    let seeds = vec![serde_json::to_value(samples).unwrap()];
    let t = fuzz(
        "samples json",
        iterations(1_500),
        |m| json_mutant(m, &seeds),
        json_bound,
        |b| serde_json::from_slice::<mpcvit::data::samples::Samples>(b).is_ok(),
    );
    assert!(t.accepted > 0 && t.rejected > 0, "samples: {t:?}");
}

// ---------------------------------------------------------------------------------------------
// Uploaded images and the preprocessing.

fn encode(img: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

fn image_seeds() -> Vec<Vec<u8>> {
    let digit = image::GrayImage::from_fn(20, 24, |x, y| {
        image::Luma([if (6..14).contains(&x) && (4..20).contains(&y) {
            255
        } else {
            0
        }])
    });
    let rgba = image::RgbaImage::from_fn(16, 12, |x, y| {
        image::Rgba([
            (x * 16) as u8,
            (y * 20) as u8,
            40,
            if x > 8 { 255 } else { 0 },
        ])
    });
    let rgb = image::DynamicImage::ImageRgba8(rgba.clone()).to_rgb8();
    vec![
        encode(
            image::DynamicImage::ImageLuma8(digit.clone()),
            image::ImageFormat::Png,
        ),
        encode(
            image::DynamicImage::ImageRgba8(rgba),
            image::ImageFormat::Png,
        ),
        encode(
            image::DynamicImage::ImageLuma8(digit),
            image::ImageFormat::Jpeg,
        ),
        encode(
            image::DynamicImage::ImageRgb8(rgb),
            image::ImageFormat::Jpeg,
        ),
    ]
}

/// Side and pixel bound of the fuzzed decodes (the defaults allow 8192 x 8192, which a
/// mutated header reaches easily: bounded, but slow to fill thousands of times).
const FUZZ_SIDE: u32 = 256;
const FUZZ_PIXELS: usize = 256 * 256;

#[test]
fn png_and_jpeg_uploads() {
    let seeds = image_seeds();
    let t = fuzz(
        "png/jpeg",
        iterations(3_000),
        |m| mutant(m, &seeds),
        // The decoder's buffers (at most 16 bytes per pixel of the bound: 16-bit RGBA plus
        // the RGBA copy) and its tables.
        |len| 16 * FUZZ_PIXELS + 4 * len + 4 * 1024 * 1024,
        |b| match upload::decode_image_within(b, FUZZ_SIDE, FUZZ_PIXELS) {
            Ok(img) => {
                let (w, h) = (img.width as usize, img.height as usize);
                assert_eq!(img.pixels.len(), w * h * 4);
                // The classify path: decoded, then prepared as MNIST was.
                let _ = preprocess_rgba(w, h, &img.pixels, 28);
                true
            }
            Err(e) => {
                assert!(matches!(e, mpcvit::Error::Data(_)), "{e}");
                false
            }
        },
    );
    assert!(t.accepted > 0 && t.rejected > 0, "{t:?}");
}

#[test]
fn preprocessing_with_hostile_sizes() {
    let dims = [
        0usize,
        1,
        2,
        3,
        27,
        28,
        1 << 16,
        1 << 32,
        usize::MAX / 4 + 1,
        usize::MAX,
    ];
    let t = fuzz(
        "preprocess",
        iterations(3_000),
        |m| {
            // width, height, target size (each 8 bytes), then the pixels.
            let small = m.below(2) == 0;
            let pick = |m: &mut Mutator| -> usize {
                if small {
                    1 + m.below(40)
                } else {
                    *m.pick(&dims)
                }
            };
            let (w, h) = (pick(m), pick(m));
            let size = *m.pick(&[0usize, 3, 4, 28, 56, 1024, 1025, usize::MAX]);
            let bpp = *m.pick(&[1usize, 4]);
            let want = w.saturating_mul(h).saturating_mul(bpp).min(1 << 14);
            let len = if m.below(4) == 0 {
                m.below(want + 8)
            } else {
                want
            };
            let mut b = Vec::new();
            for v in [w, h, size, bpp] {
                b.extend_from_slice(&(v as u64).to_le_bytes());
            }
            b.extend((0..len).map(|_| m.rng.gen::<u8>()));
            b
        },
        // Working images of the input's size (f32 grey, crop) and of the target's.
        |len| 24 * len + 24 * 1024 * 1024,
        |b| {
            let f = |i: usize| u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap()) as usize;
            let (w, h, size, bpp) = (f(0), f(1), f(2), f(3));
            let px = &b[32..];
            let r = if bpp == 4 {
                preprocess_rgba(w, h, px, size)
            } else {
                preprocess_gray(w, h, px, size)
            };
            match r {
                Ok(out) => {
                    assert_eq!(out.len(), size * size);
                    true
                }
                Err(e) => {
                    assert!(
                        matches!(
                            e,
                            mpcvit::Error::ShapeMismatch { .. } | mpcvit::Error::Data(_)
                        ),
                        "{e}"
                    );
                    false
                }
            }
        },
    );
    assert!(t.accepted > 0 && t.rejected > 0, "{t:?}");
}

// ---------------------------------------------------------------------------------------------
// The config bound on a private inference's memory, measured.

/// [`ViTConfig::private_bytes_estimate`] is an upper bound on one party's peak: both parties
/// (and the in-process dealer) of [`mpcvit::secure::infer_local`] run in this thread, so their
/// joint peak must stay below twice the estimate, for every variant.
#[test]
fn private_inference_memory_stays_below_the_config_estimate() {
    // The demo shape (the parameters dominate) and a 257-token one (the attention scores do).
    let demo = ViTConfig {
        classes: 10,
        ..ViTConfig::demo()
    };
    let long = ViTConfig {
        image_size: 32,
        patch: 2,
        dim: 16,
        heads: 2,
        depth: 1,
        linformer_k: 8,
        ..ViTConfig::tiny()
    };
    let cases = [
        (&demo, Attention::Softmax),
        (&demo, Attention::Sparsemax),
        (&demo, Attention::Linformer),
        (&demo, Attention::XNorm),
        (&demo, Attention::RsAttn),
        (&long, Attention::Softmax),
        (&long, Attention::Sparsemax),
    ];
    for (cfg, variant) in cases {
        let img = vec![0.5f32; cfg.input_len()];
        let vit = mpcvit::model::ViT::new(cfg.clone(), Plan::uniform(cfg, variant), params(cfg, 2))
            .unwrap();
        let (r, peak) = peak_during(|| {
            mpcvit::secure::infer_local(
                &vit,
                &[&img],
                SessionConfig::default(),
                Some(SessionSeeds::insecure_fixed(1)),
            )
        });
        r.unwrap();
        let estimate = cfg.private_bytes_estimate() as usize;
        eprintln!(
            "{} tokens, {variant:?}: peak {peak} bytes for both parties, estimate {estimate} per \
             party",
            cfg.tokens()
        );
        assert!(
            peak <= 2 * estimate,
            "{variant:?}: peak {peak} bytes, estimate {estimate} per party"
        );
    }
}
