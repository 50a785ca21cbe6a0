//! A load test of one server: `clients` concurrent clients, each classifying its share of
//! `images` back to back (one session per image, as separate users would), against a server
//! and a dealer over loopback TCP or WebSocket. Reports throughput, latency percentiles and the
//! server's resident memory after a concurrent warm-up, at its highest during the run and at the
//! end, which must stay flat (`mpcvit bench serve`).
//!
//! [`drive`] works against any running server (the CLI starts `mpcvit serve` and `mpcvit dealer`
//! as child processes, so the memory is the server's alone); [`run_in_process`] runs both in
//! threads of this process (tests), and then the memory is the whole process's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{
    DealerChoice, DealerPolicy, DealerServer, Endpoint, Log, ModelServer, RemoteClient,
    RemoteOptions,
};
use crate::model::ViT;
use crate::{Error, Result};

/// How often the memory probe is read while the clients run.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);

/// Resident memory of a process, from Linux `/proc/<pid>/status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    /// `VmRSS`: resident now, in bytes.
    pub resident: u64,
    /// `VmHWM`: the highest resident size since the process started, in bytes.
    pub peak: u64,
}

impl Memory {
    /// The memory of process `pid`, or of this process for `None`; `None` where `/proc` is
    /// missing (not Linux) or the process is gone.
    pub fn of(pid: Option<u32>) -> Option<Memory> {
        let path = match pid {
            Some(p) => format!("/proc/{p}/status"),
            None => "/proc/self/status".into(),
        };
        Memory::parse(&std::fs::read_to_string(path).ok()?)
    }

    fn parse(status: &str) -> Option<Memory> {
        let kib = |key: &str| -> Option<u64> {
            let line = status.lines().find(|l| l.starts_with(key))?;
            let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            kb.checked_mul(1024)
        };
        Some(Memory {
            resident: kib("VmRSS:")?,
            peak: kib("VmHWM:")?,
        })
    }
}

/// A running server and dealer to load, and how to read the server's memory.
pub struct Target<'a> {
    /// The server's address (`host:port` or `ws://…`).
    pub server: String,
    /// The dealer both parties use.
    pub dealer: String,
    /// `tcp` or `ws`, for the report.
    pub transport: &'static str,
    /// Reads the server's memory (`None` when it cannot be read).
    pub memory: &'a (dyn Fn() -> Option<Memory> + Sync),
    /// Client options (time limits).
    pub options: RemoteOptions,
}

/// What one load run measured.
#[derive(Clone, Debug)]
pub struct LoadReport {
    /// Concurrent clients.
    pub clients: usize,
    /// Private classifications completed (warm-up not counted).
    pub images: usize,
    /// Wall-clock time of the measured run.
    pub seconds: f64,
    /// Latency of each classification (connect to result), sorted, in seconds.
    pub latencies: Vec<f64>,
    /// The server's memory after a warm-up of one session per client, all at once.
    pub after_warm_up: Option<Memory>,
    /// The highest resident size sampled in the first and in the second half of the measured
    /// run, in bytes: a leak makes the second higher.
    pub highest_by_half: Option<(u64, u64)>,
    /// The server's memory at the end.
    pub at_end: Option<Memory>,
    /// `tcp` or `ws`.
    pub transport: &'static str,
}

impl LoadReport {
    /// Classifications per second.
    pub fn throughput(&self) -> f64 {
        self.images as f64 / self.seconds.max(1e-9)
    }

    /// The `q`-quantile of the latencies (`q` in `[0, 1]`, nearest rank).
    pub fn latency(&self, q: f64) -> f64 {
        let n = self.latencies.len();
        if n == 0 {
            return f64::NAN;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as usize).clamp(1, n);
        self.latencies[rank - 1]
    }

    /// Resident growth from the warm-up to the end, in bytes (negative when it shrank).
    pub fn growth(&self) -> Option<i64> {
        let (a, b) = (self.after_warm_up?, self.at_end?);
        Some(b.resident as i64 - a.resident as i64)
    }

    /// The report as a few lines of text.
    pub fn format(&self) -> String {
        let mb = |b: Option<u64>| b.map_or("n/a".into(), |b| format!("{:.1} MB", b as f64 / 1e6));
        let growth = self
            .growth()
            .map_or("n/a".into(), |g| format!("{:+.1} MB", g as f64 / 1e6));
        format!(
            "{} private classifications by {} concurrent clients over {} in {:.1} s\n\
             throughput: {:.2} images/s\n\
             latency: p50 {:.3} s, p99 {:.3} s, max {:.3} s\n\
             server resident memory: {} after warm-up, at most {} in the first half of the run \
             and {} in the second, {} at the end ({growth}); peak {}\n",
            self.images,
            self.clients,
            self.transport,
            self.seconds,
            self.throughput(),
            self.latency(0.5),
            self.latency(0.99),
            self.latency(1.0),
            mb(self.after_warm_up.map(|m| m.resident)),
            mb(self.highest_by_half.map(|h| h.0)),
            mb(self.highest_by_half.map(|h| h.1)),
            mb(self.at_end.map(|m| m.resident)),
            mb(self.at_end.map(|m| m.peak)),
        )
    }
}

/// Runs `clients` workers that take classifications from a shared count of `images` until it
/// is spent, returning each one's latency.
fn concurrent(
    clients: usize,
    images: usize,
    classify: &(dyn Fn() -> Result<f64> + Sync),
) -> Result<Vec<f64>> {
    let next = Mutex::new(0usize);
    let latencies = Mutex::new(Vec::with_capacity(images));
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..clients)
            .map(|_| {
                s.spawn(|| -> Result<()> {
                    loop {
                        {
                            let mut n = next.lock().map_err(|_| poisoned())?;
                            if *n == images {
                                return Ok(());
                            }
                            *n += 1;
                        }
                        let l = classify()?;
                        latencies.lock().map_err(|_| poisoned())?.push(l);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().map_err(|_| poisoned())?)
    })?;
    latencies.into_inner().map_err(|_| poisoned())
}

/// Loads `target` with `clients` concurrent clients classifying `image`: first a warm-up of
/// one session per client (start-up and per-thread allocations are not a leak), then `images`
/// measured ones while the server's memory is sampled.
pub fn drive(target: &Target, image: &[f32], clients: usize, images: usize) -> Result<LoadReport> {
    if clients == 0 || images == 0 {
        return Err(Error::Usage(
            "the load test needs at least one client and one image".into(),
        ));
    }
    let policy = DealerPolicy::Trusted(target.dealer.clone());
    let classify = || -> Result<f64> {
        let t0 = Instant::now();
        let r = RemoteClient::connect(&target.server, target.options.clone())?
            .classify(&[image.to_vec()], &policy)?;
        if r.len() != 1 {
            return Err(Error::Protocol("one result per image was expected".into()));
        }
        Ok(t0.elapsed().as_secs_f64())
    };
    concurrent(clients, clients, &classify)?;
    let after_warm_up = (target.memory)();
    let done = AtomicBool::new(false);
    let t0 = Instant::now();
    let (latencies, samples) = std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut samples = Vec::new();
            while !done.load(Ordering::Relaxed) {
                samples.extend((target.memory)().map(|m| m.resident));
                std::thread::sleep(SAMPLE_EVERY);
            }
            samples
        });
        let r = concurrent(clients, images, &classify);
        done.store(true, Ordering::Relaxed);
        (r, sampler.join().map_err(|_| poisoned()))
    });
    let (mut latencies, samples) = (latencies?, samples?);
    let seconds = t0.elapsed().as_secs_f64();
    let at_end = (target.memory)();
    latencies.sort_by(f64::total_cmp);
    Ok(LoadReport {
        clients,
        images,
        seconds,
        latencies,
        after_warm_up,
        highest_by_half: highest_by_half(&samples),
        at_end,
        transport: target.transport,
    })
}

/// The largest of the first and of the second half of `samples` (`None` for fewer than two).
fn highest_by_half(samples: &[u64]) -> Option<(u64, u64)> {
    if samples.len() < 2 {
        return None;
    }
    let (a, b) = samples.split_at(samples.len() / 2);
    Some((*a.iter().max()?, *b.iter().max()?))
}

/// Runs the load test against a server (holding `vit`) and a dealer in threads of this process,
/// over `transport` (`tcp` or `ws`); the memory reported is this whole process's.
pub fn run_in_process(
    vit: ViT,
    image: Vec<f32>,
    clients: usize,
    images: usize,
    transport: &str,
) -> Result<LoadReport> {
    let (transport, at) = listen_address(transport)?;
    let quiet: Log = Arc::new(|_: &str| {});
    let options = RemoteOptions::with_timeout(Duration::from_secs(120));
    let dealer = DealerServer::bind(at, None, options.clone())?;
    let dealer_at = dealer.endpoint()?;
    let server = ModelServer::bind(
        at,
        None,
        vit,
        None,
        DealerChoice::Remote(Endpoint::parse(&dealer_at)?),
        options.clone(),
        quiet.clone(),
    )?;
    let target = Target {
        server: server.endpoint()?,
        dealer: dealer_at,
        transport,
        memory: &|| Memory::of(None),
        options,
    };
    let sessions = Some(clients.saturating_add(images));
    let dealer_thread = dealer.spawn(sessions, quiet.clone());
    let server_thread = server.spawn(sessions, quiet);
    let report = drive(&target, &image, clients, images)?;
    for h in [server_thread, dealer_thread] {
        h.join().map_err(|_| poisoned())??;
    }
    Ok(report)
}

/// The loopback address (any free port) to listen on for `transport`.
pub fn listen_address(transport: &str) -> Result<(&'static str, &'static str)> {
    match transport {
        "tcp" => Ok(("tcp", "127.0.0.1:0")),
        "ws" => Ok(("ws", "ws://127.0.0.1:0")),
        other => Err(Error::UnknownName {
            what: "transport",
            got: other.to_string(),
            expected: "tcp or ws",
        }),
    }
}

fn poisoned() -> Error {
    Error::Protocol("a load-test client thread panicked".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank_and_growth_is_signed() {
        let m = |resident| {
            Some(Memory {
                resident,
                peak: 9_000_000,
            })
        };
        let r = LoadReport {
            clients: 1,
            images: 4,
            seconds: 2.0,
            latencies: vec![0.1, 0.2, 0.3, 0.4],
            after_warm_up: m(3_000_000),
            highest_by_half: Some((4_000_000, 3_500_000)),
            at_end: m(2_000_000),
            transport: "tcp",
        };
        assert_eq!(r.latency(0.5), 0.2);
        assert_eq!(r.latency(0.99), 0.4);
        assert_eq!(r.latency(0.0), 0.1);
        assert_eq!(r.throughput(), 2.0);
        assert_eq!(r.growth(), Some(-1_000_000));
        let text = r.format();
        assert!(
            text.contains(
                "3.0 MB after warm-up, at most 4.0 MB in the first half of the run and 3.5 MB"
            ),
            "{text}"
        );
        assert_eq!(highest_by_half(&[5, 1, 2, 9, 3]), Some((5, 9)));
        assert_eq!(highest_by_half(&[5]), None);
        assert!(
            text.contains("2.0 MB at the end (-1.0 MB); peak 9.0 MB"),
            "{text}"
        );
    }

    #[test]
    fn memory_is_read_from_proc_status() {
        let status = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(
            Memory::parse(status),
            Some(Memory {
                resident: 1 << 20,
                peak: 2 << 20
            })
        );
        assert_eq!(Memory::parse("VmRSS: 12 kB\n"), None);
        if cfg!(target_os = "linux") {
            let me = Memory::of(None).unwrap();
            assert!(me.resident > 0 && me.peak >= me.resident);
            assert_eq!(Memory::of(Some(u32::MAX)), None);
        }
    }
}
