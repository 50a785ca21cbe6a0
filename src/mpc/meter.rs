//! The cost meter: every protocol call is labelled, every exchange is counted.
//!
//! A [`Meter`] lives in each [`super::Party`]. Callers push *labels* for the context
//! (`push_label("layer 3")`, `push_label("head 1")`); protocols push their *op* names as they
//! nest (`rsattn` -> `reciprocal` -> `mul`). Each communication round, each byte sent or received
//! online, each byte of dealer correction (offline) and the local compute time between rounds is
//! attributed to the current (labels, ops) path. A [`Report`] aggregates the paths by outermost
//! op, by innermost op, or by label prefix, and estimates latency for a [`NetworkProfile`]:
//!
//! ```text
//! latency = rounds * RTT + (bytes sent + bytes received) / bandwidth + measured compute
//! ```
//!
//! Bytes are payload bytes; each message also carries a 20-byte frame header
//! ([`super::transport::HEADER_LEN`]), counted apart in `messages_*`. A *round* is one
//! communication step in which each party sends at most one message and waits for at most one
//! (both parties count the same rounds).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::network::{now_s, NetworkProfile};
use crate::{Error, Result};

/// Counters for one path (or an aggregate of paths).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Protocol calls that started on this path.
    pub calls: u64,
    /// Communication rounds.
    pub rounds: u64,
    /// Online payload bytes sent (in a joint report: party 0 -> party 1).
    pub sent: u64,
    /// Online payload bytes received (in a joint report: party 1 -> party 0).
    pub recv: u64,
    /// Online messages sent.
    pub messages_sent: u64,
    /// Online messages received.
    pub messages_recv: u64,
    /// Offline bytes sent (by the dealer).
    pub offline_sent: u64,
    /// Offline bytes received (by party 1, from the dealer).
    pub offline_recv: u64,
    /// Local online compute, seconds.
    pub compute_s: f64,
    /// Time spent obtaining correlated randomness (offline work), seconds.
    pub offline_compute_s: f64,
}

impl Stats {
    /// Online bytes in both directions.
    pub fn online_bytes(&self) -> u64 {
        self.sent.saturating_add(self.recv)
    }

    /// Offline bytes (dealer traffic).
    pub fn offline_bytes(&self) -> u64 {
        self.offline_sent.max(self.offline_recv)
    }

    /// `rounds * RTT + online bytes / bandwidth + compute` for `profile`.
    pub fn estimate(&self, profile: &NetworkProfile) -> f64 {
        self.rounds as f64 * profile.rtt_s
            + self.online_bytes() as f64 / profile.bandwidth_bytes_per_s
            + self.compute_s
    }

    /// Communication part of [`Stats::estimate`] only (no compute).
    pub fn estimate_network(&self, profile: &NetworkProfile) -> f64 {
        self.rounds as f64 * profile.rtt_s
            + self.online_bytes() as f64 / profile.bandwidth_bytes_per_s
    }

    /// Adds `o` counter by counter. Saturating: a report may come from the peer (the server's
    /// reports reach the client), and a hostile one must not overflow the sum; see
    /// [`Report::check_peer`] for rejecting it outright.
    fn add(&mut self, o: &Stats) {
        self.calls = self.calls.saturating_add(o.calls);
        self.rounds = self.rounds.saturating_add(o.rounds);
        self.sent = self.sent.saturating_add(o.sent);
        self.recv = self.recv.saturating_add(o.recv);
        self.messages_sent = self.messages_sent.saturating_add(o.messages_sent);
        self.messages_recv = self.messages_recv.saturating_add(o.messages_recv);
        self.offline_sent = self.offline_sent.saturating_add(o.offline_sent);
        self.offline_recv = self.offline_recv.saturating_add(o.offline_recv);
        self.compute_s += o.compute_s;
        self.offline_compute_s += o.offline_compute_s;
    }

    /// The integer counters, named (for checks and messages).
    fn counters(&self) -> [(&'static str, u64); 8] {
        [
            ("calls", self.calls),
            ("rounds", self.rounds),
            ("sent", self.sent),
            ("recv", self.recv),
            ("messages_sent", self.messages_sent),
            ("messages_recv", self.messages_recv),
            ("offline_sent", self.offline_sent),
            ("offline_recv", self.offline_recv),
        ]
    }
}

/// Most rows a peer's [`Report`] may have ([`Report::check_peer`]); a private inference of the
/// largest supported model has a few thousand (labels x nested ops).
pub const MAX_PEER_REPORT_ROWS: usize = 1 << 16;
/// Largest value of any counter in a peer's report, and of their sum over its rows: 2^50
/// (a petabyte, or 10^15 rounds), far above any session this crate can run.
pub const MAX_PEER_COUNTER: u64 = 1 << 50;
/// Largest time a peer's report may claim, in seconds (a day).
pub const MAX_PEER_SECONDS: f64 = 86_400.0;
/// Longest label or op path in a peer's report, in bytes.
pub const MAX_PEER_PATH: usize = 1024;

/// The per-party meter.
#[derive(Debug)]
pub struct Meter {
    labels: Vec<String>,
    ops: Vec<&'static str>,
    entries: BTreeMap<(String, String), Stats>,
    mark: f64,
}

impl Default for Meter {
    fn default() -> Self {
        Meter::new()
    }
}

impl Meter {
    /// An empty meter.
    pub fn new() -> Self {
        Meter {
            labels: Vec::new(),
            ops: Vec::new(),
            entries: BTreeMap::new(),
            mark: now_s(),
        }
    }

    /// Enters a caller context (`"layer 3"`, `"head 1"`, ...).
    pub fn push_label(&mut self, label: impl Into<String>) {
        self.tick();
        self.labels.push(label.into());
    }

    /// Leaves the innermost caller context.
    pub fn pop_label(&mut self) {
        self.tick();
        self.labels.pop();
    }

    /// Enters protocol `op` (protocols call this; counts a call).
    pub fn begin(&mut self, op: &'static str) {
        self.tick();
        self.ops.push(op);
        self.cur().calls += 1;
    }

    /// Leaves the innermost protocol.
    pub fn end(&mut self) {
        self.tick();
        self.ops.pop();
    }

    /// The innermost op name (or "" outside any protocol).
    pub fn leaf_op(&self) -> &'static str {
        self.ops.last().copied().unwrap_or("")
    }

    fn key(&self) -> (String, String) {
        (self.labels.join("/"), self.ops.join("/"))
    }

    fn cur(&mut self) -> &mut Stats {
        let k = self.key();
        self.entries.entry(k).or_default()
    }

    /// Attributes the time since the last mark to the current path as compute.
    pub(crate) fn tick(&mut self) {
        let now = now_s();
        let dt = now - self.mark;
        self.mark = now;
        if dt > 0.0 && !self.ops.is_empty() {
            self.cur().compute_s += dt;
        }
    }

    /// Restarts the compute clock without attributing (after waiting for the peer).
    pub(crate) fn reset_mark(&mut self) {
        self.mark = now_s();
    }

    /// Attributes the time since the last mark as offline compute.
    pub(crate) fn tick_offline(&mut self) {
        let now = now_s();
        let dt = now - self.mark;
        self.mark = now;
        if dt > 0.0 {
            self.cur().offline_compute_s += dt;
        }
    }

    /// Records one round with the given online bytes and messages.
    pub(crate) fn record_round(
        &mut self,
        sent: usize,
        recv: usize,
        msgs_sent: u64,
        msgs_recv: u64,
    ) {
        let s = self.cur();
        s.rounds += 1;
        s.sent += sent as u64;
        s.recv += recv as u64;
        s.messages_sent += msgs_sent;
        s.messages_recv += msgs_recv;
    }

    /// Records offline (dealer) bytes.
    pub(crate) fn record_offline(&mut self, sent: usize, recv: usize) {
        let s = self.cur();
        s.offline_sent += sent as u64;
        s.offline_recv += recv as u64;
    }

    /// All paths recorded so far.
    pub fn report(&self) -> Report {
        Report {
            rows: self
                .entries
                .iter()
                .map(|((l, o), s)| ReportRow {
                    labels: l.clone(),
                    ops: o.clone(),
                    stats: *s,
                })
                .collect(),
        }
    }

    /// Forgets all counts (keeps the label stack).
    pub fn reset(&mut self) {
        self.entries.clear();
        self.mark = now_s();
    }
}

/// Counters of one (labels, ops) path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportRow {
    /// Caller labels joined by `/` (e.g. `layer 3/head 1`).
    pub labels: String,
    /// Protocol ops joined by `/`, outermost first (e.g. `rsattn/reciprocal/mul`).
    pub ops: String,
    /// The counts.
    pub stats: Stats,
}

/// A snapshot of a meter (or of both parties' meters joined).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// One row per path.
    pub rows: Vec<ReportRow>,
}

impl Report {
    /// Joins the two parties' reports: rounds from party 0 (both count the same), `sent` =
    /// party 0 -> party 1, `recv` = party 1 -> party 0, offline bytes summed (party 0 receives
    /// none), compute = the larger of the two parties (they compute concurrently).
    pub fn joint(r0: &Report, r1: &Report) -> Report {
        let mut map: BTreeMap<(String, String), (Stats, Stats)> = BTreeMap::new();
        for r in &r0.rows {
            map.entry((r.labels.clone(), r.ops.clone())).or_default().0 = r.stats;
        }
        for r in &r1.rows {
            map.entry((r.labels.clone(), r.ops.clone())).or_default().1 = r.stats;
        }
        Report {
            rows: map
                .into_iter()
                .map(|((labels, ops), (a, b))| ReportRow {
                    labels,
                    ops,
                    stats: Stats {
                        calls: a.calls.max(b.calls),
                        rounds: a.rounds.max(b.rounds),
                        sent: a.sent.max(b.recv),
                        recv: a.recv.max(b.sent),
                        messages_sent: a.messages_sent.max(b.messages_recv),
                        messages_recv: a.messages_recv.max(b.messages_sent),
                        offline_sent: a.offline_sent.saturating_add(b.offline_sent),
                        offline_recv: a.offline_recv.saturating_add(b.offline_recv),
                        compute_s: a.compute_s.max(b.compute_s),
                        offline_compute_s: a.offline_compute_s.max(b.offline_compute_s),
                    },
                })
                .collect(),
        }
    }

    /// Everything.
    pub fn total(&self) -> Stats {
        let mut t = Stats::default();
        for r in &self.rows {
            t.add(&r.stats);
        }
        // `calls` of nested protocols would double count: report top-level calls only.
        t.calls = self
            .rows
            .iter()
            .filter(|r| !r.ops.contains('/'))
            .fold(0u64, |sum, r| sum.saturating_add(r.stats.calls));
        t
    }

    /// Checks a report that came from the peer before it is merged or summed: at most
    /// [`MAX_PEER_REPORT_ROWS`] rows with paths of at most [`MAX_PEER_PATH`] bytes, every
    /// counter and every counter's sum over the rows (checked arithmetic) at most
    /// [`MAX_PEER_COUNTER`], every time finite, non-negative and at most
    /// [`MAX_PEER_SECONDS`] (also summed). The error says which row and counter.
    pub fn check_peer(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Protocol(format!("the peer's cost report: {m}")));
        if self.rows.len() > MAX_PEER_REPORT_ROWS {
            return bad(format!(
                "{} rows, at most {MAX_PEER_REPORT_ROWS} are accepted",
                self.rows.len()
            ));
        }
        let mut sums = [0u64; 8];
        let mut seconds = 0.0f64;
        for (i, r) in self.rows.iter().enumerate() {
            if r.labels.len() > MAX_PEER_PATH || r.ops.len() > MAX_PEER_PATH {
                return bad(format!(
                    "row {i} has a path longer than {MAX_PEER_PATH} bytes"
                ));
            }
            for (sum, (name, v)) in sums.iter_mut().zip(r.stats.counters()) {
                *sum = sum
                    .checked_add(v)
                    .filter(|s| *s <= MAX_PEER_COUNTER)
                    .ok_or_else(|| {
                        Error::Protocol(format!(
                            "the peer's cost report: `{name}` of row {i} ({v}) takes the total \
                             past {MAX_PEER_COUNTER}"
                        ))
                    })?;
            }
            for (name, t) in [
                ("compute_s", r.stats.compute_s),
                ("offline_compute_s", r.stats.offline_compute_s),
            ] {
                if !(0.0..=MAX_PEER_SECONDS).contains(&t) {
                    return bad(format!(
                        "`{name}` of row {i} is {t}, not in [0, {MAX_PEER_SECONDS}] s"
                    ));
                }
                seconds += t;
            }
        }
        if seconds > 2.0 * MAX_PEER_SECONDS {
            return bad(format!("{seconds} s in total"));
        }
        Ok(())
    }

    fn group(&self, key: impl Fn(&ReportRow) -> Option<String>) -> Vec<(String, Stats)> {
        let mut m: BTreeMap<String, Stats> = BTreeMap::new();
        for r in &self.rows {
            if let Some(k) = key(r) {
                m.entry(k).or_default().add(&r.stats);
            }
        }
        m.into_iter().collect()
    }

    /// Aggregated by outermost op (a `reciprocal` called inside `rsattn` counts as `rsattn`).
    pub fn by_op(&self) -> Vec<(String, Stats)> {
        let mut v = self.group(|r| Some(r.ops.split('/').next().unwrap_or("").to_string()));
        for (op, s) in v.iter_mut() {
            s.calls = self
                .rows
                .iter()
                .filter(|r| r.ops == *op)
                .fold(0u64, |sum, r| sum.saturating_add(r.stats.calls));
        }
        v
    }

    /// Aggregated by innermost op (where the bytes are actually exchanged).
    pub fn by_leaf_op(&self) -> Vec<(String, Stats)> {
        self.group(|r| Some(r.ops.rsplit('/').next().unwrap_or("").to_string()))
    }

    /// Aggregated by the first `depth` labels (e.g. depth 1: per layer; 2: per layer and head).
    pub fn by_labels(&self, depth: usize) -> Vec<(String, Stats)> {
        self.group(|r| {
            let parts: Vec<&str> = r.labels.split('/').filter(|s| !s.is_empty()).collect();
            Some(parts[..depth.min(parts.len())].join("/"))
        })
    }

    /// Sum of the rows whose label path starts with `prefix` (component-wise: `layer 1`
    /// does not match `layer 10`).
    pub fn with_label_prefix(&self, prefix: &str) -> Stats {
        let want: Vec<&str> = prefix.split('/').filter(|s| !s.is_empty()).collect();
        let mut t = Stats::default();
        for r in &self.rows {
            let have: Vec<&str> = r.labels.split('/').filter(|s| !s.is_empty()).collect();
            if have.len() >= want.len() && have[..want.len()] == want[..] {
                t.add(&r.stats);
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_aggregation() {
        let mut m = Meter::new();
        m.push_label("layer 1");
        m.begin("rsattn");
        m.begin("mul");
        m.record_round(10, 10, 1, 1);
        m.end();
        m.record_offline(0, 8);
        m.end();
        m.pop_label();
        m.push_label("layer 10");
        m.begin("mul");
        m.record_round(4, 4, 1, 1);
        m.end();
        let r = m.report();
        assert_eq!(r.total().rounds, 2);
        assert_eq!(r.total().calls, 2);
        assert_eq!(r.with_label_prefix("layer 1").online_bytes(), 20);
        assert_eq!(r.with_label_prefix("layer 10").online_bytes(), 8);
        let by_op = r.by_op();
        assert_eq!(
            by_op
                .iter()
                .find(|(o, _)| o == "rsattn")
                .unwrap()
                .1
                .offline_recv,
            8
        );
        let leaf = r.by_leaf_op();
        assert_eq!(leaf.iter().find(|(o, _)| o == "mul").unwrap().1.rounds, 2);
        let wan = NetworkProfile::wan();
        let s = Stats {
            rounds: 10,
            sent: 22_000_000,
            recv: 22_000_000,
            ..Default::default()
        };
        assert!((s.estimate(&wan) - 1.4).abs() < 1e-9);
    }

    fn row(labels: &str, stats: Stats) -> ReportRow {
        ReportRow {
            labels: labels.into(),
            ops: "mul".into(),
            stats,
        }
    }

    /// A hostile peer's report with counters near `u64::MAX`: summing and joining saturate
    /// instead of overflowing, and `check_peer` names the counter and the row.
    #[test]
    fn hostile_peer_counters_do_not_overflow_and_are_rejected() {
        let max = Stats {
            calls: u64::MAX,
            rounds: u64::MAX,
            sent: u64::MAX,
            recv: u64::MAX,
            messages_sent: u64::MAX,
            messages_recv: u64::MAX,
            offline_sent: u64::MAX,
            offline_recv: u64::MAX,
            ..Stats::default()
        };
        let hostile = Report {
            rows: vec![row("layer 0", max), row("layer 1", max)],
        };
        let t = hostile.total();
        assert_eq!(
            (t.rounds, t.calls, t.offline_recv),
            (u64::MAX, u64::MAX, u64::MAX)
        );
        let joint = Report::joint(&hostile, &hostile);
        assert_eq!(joint.total().offline_sent, u64::MAX);
        assert_eq!(hostile.by_op()[0].1.calls, u64::MAX);
        assert_eq!(hostile.with_label_prefix("layer 1").sent, u64::MAX);
        let e = hostile.check_peer().unwrap_err().to_string();
        assert!(e.contains("`calls` of row 0"), "{e}");

        // Each counter within the bound, their sum over rows not.
        let half = Stats {
            offline_recv: MAX_PEER_COUNTER / 2 + 1,
            ..Stats::default()
        };
        let summed = Report {
            rows: vec![row("a", half), row("b", half)],
        };
        let e = summed.check_peer().unwrap_err().to_string();
        assert!(e.contains("`offline_recv` of row 1"), "{e}");

        for t in [f64::NAN, -1.0, f64::INFINITY, 1e300] {
            let timed = Report {
                rows: vec![row(
                    "a",
                    Stats {
                        compute_s: t,
                        ..Stats::default()
                    },
                )],
            };
            let e = timed.check_peer().unwrap_err().to_string();
            assert!(e.contains("`compute_s` of row 0"), "{t}: {e}");
        }
        let long = Report {
            rows: vec![row(&"x".repeat(MAX_PEER_PATH + 1), Stats::default())],
        };
        assert!(long
            .check_peer()
            .unwrap_err()
            .to_string()
            .contains("path longer"));
        let many = Report {
            rows: vec![row("a", Stats::default()); MAX_PEER_REPORT_ROWS + 1],
        };
        assert!(many.check_peer().unwrap_err().to_string().contains("rows"));
    }

    #[test]
    fn an_honest_report_passes_the_peer_check() {
        let mut m = Meter::new();
        m.push_label("layer 0");
        m.begin("mul");
        m.record_round(10, 10, 1, 1);
        m.record_offline(0, 64);
        m.end();
        m.report().check_peer().unwrap();
    }
}
