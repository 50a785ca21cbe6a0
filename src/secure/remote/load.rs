//! A load test of one server: `clients` concurrent clients, each classifying its share of
//! `images` back to back (one session per image, as separate users would), against a server
//! and a dealer in threads of this process, over loopback TCP or WebSocket. Reports throughput, latency
//! percentiles and the process's resident memory before and after, which must stay flat
//! (`mpcvit bench serve`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{
    DealerChoice, DealerPolicy, DealerServer, Endpoint, Log, ModelServer, RemoteClient,
    RemoteOptions,
};
use crate::model::ViT;
use crate::{Error, Result};

/// What one load run measured.
#[derive(Clone, Debug)]
pub struct LoadReport {
    /// Concurrent clients.
    pub clients: usize,
    /// Private classifications completed.
    pub images: usize,
    /// Wall-clock time of the whole run.
    pub seconds: f64,
    /// Latency of each classification (connect to result), sorted, in seconds.
    pub latencies: Vec<f64>,
    /// Resident memory of this process after start-up and a warm-up session, in bytes.
    pub rss_before: Option<u64>,
    /// Resident memory at the end, in bytes.
    pub rss_after: Option<u64>,
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

    /// The report as a few lines of text.
    pub fn format(&self) -> String {
        let mb = |b: Option<u64>| b.map_or("n/a".into(), |b| format!("{:.1} MB", b as f64 / 1e6));
        format!(
            "{} private classifications by {} concurrent clients over {} in {:.1} s\n\
             throughput: {:.2} images/s\n\
             latency: p50 {:.3} s, p99 {:.3} s, max {:.3} s\n\
             resident memory: {} after warm-up, {} at the end\n",
            self.images,
            self.clients,
            self.transport,
            self.seconds,
            self.throughput(),
            self.latency(0.5),
            self.latency(0.99),
            self.latency(1.0),
            mb(self.rss_before),
            mb(self.rss_after),
        )
    }
}

/// This process's resident set size (Linux `/proc/self/status`; `None` elsewhere).
pub fn resident_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Runs the load test with `vit` and `image` (the same input for every classification), over
/// `transport` (`tcp` or `ws`).
pub fn run(
    vit: ViT,
    image: Vec<f32>,
    clients: usize,
    images: usize,
    transport: &str,
) -> Result<LoadReport> {
    if clients == 0 || images == 0 {
        return Err(Error::Config(
            "the load test needs at least one client and one image".into(),
        ));
    }
    let (transport, at) = match transport {
        "tcp" => ("tcp", "127.0.0.1:0"),
        "ws" => ("ws", "ws://127.0.0.1:0"),
        other => return Err(Error::Config(format!("transport '{other}': tcp or ws"))),
    };
    let quiet: Log = Arc::new(|_: &str| {});
    let opts = RemoteOptions::with_timeout(Duration::from_secs(120));
    let dealer = DealerServer::bind(at, None, opts.clone())?;
    let dealer_addr = dealer.endpoint()?;
    let server = ModelServer::bind(
        at,
        None,
        vit,
        None,
        DealerChoice::Remote(Endpoint::parse(&dealer_addr)?),
        opts.clone(),
        quiet.clone(),
    )?;
    let server_addr = server.endpoint()?;
    let total = images + 1;
    let dealer_thread = dealer.spawn(Some(total), quiet.clone());
    let server_thread = server.spawn(Some(total), quiet);
    let policy = DealerPolicy::Trusted(dealer_addr);
    let classify = |image: &[f32]| -> Result<f64> {
        let t0 = Instant::now();
        let r = RemoteClient::connect(&server_addr, opts.clone())?
            .classify(&[image.to_vec()], &policy)?;
        if r.len() != 1 {
            return Err(Error::Protocol("one result per image was expected".into()));
        }
        Ok(t0.elapsed().as_secs_f64())
    };
    // Warm-up: start-up allocations are not a leak.
    classify(&image)?;
    let rss_before = resident_bytes();
    let next = Mutex::new(0usize);
    let latencies = Mutex::new(Vec::with_capacity(images));
    let t0 = Instant::now();
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
                        let l = classify(&image)?;
                        latencies.lock().map_err(|_| poisoned())?.push(l);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().map_err(|_| poisoned())?)
    })?;
    let seconds = t0.elapsed().as_secs_f64();
    let rss_after = resident_bytes();
    for h in [server_thread, dealer_thread] {
        h.join().map_err(|_| poisoned())??;
    }
    let mut latencies = latencies.into_inner().map_err(|_| poisoned())?;
    latencies.sort_by(f64::total_cmp);
    Ok(LoadReport {
        clients,
        images,
        seconds,
        latencies,
        rss_before,
        rss_after,
        transport,
    })
}

fn poisoned() -> Error {
    Error::Protocol("a load-test client thread panicked".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let r = LoadReport {
            clients: 1,
            images: 4,
            seconds: 2.0,
            latencies: vec![0.1, 0.2, 0.3, 0.4],
            rss_before: None,
            rss_after: Some(2_000_000),
            transport: "tcp",
        };
        assert_eq!(r.latency(0.5), 0.2);
        assert_eq!(r.latency(0.99), 0.4);
        assert_eq!(r.latency(0.0), 0.1);
        assert_eq!(r.throughput(), 2.0);
        assert!(r.format().contains("2.0 MB at the end"));
        assert!(resident_bytes().is_none_or(|b| b > 0));
    }
}
