//! The per-party protocol context ([`Party`]) and session setup.
//!
//! A `Party` bundles what every protocol needs: the party id (0 = client, 1 = server), the
//! fixed-point and truncation configuration, the transport to the peer, the dealer client, a
//! private PRG for its own masks, and the cost meter. Protocols are `async fn`s taking
//! `&mut Party`; both parties run the same sequence of calls with their own shares.
//!
//! **Setting up.** In one thread (tests, CLI, benches): [`local_pair`] (seeds from the OS) or
//! [`local_pair_with`] (your transports and seeds), then run both programs with
//! [`super::exec::run_joined`]. In separate workers or processes: each party builds
//! [`Party::new`] with its own transport and [`DealerClient`] (party 0:
//! [`DealerClient::party0`], party 1: [`DealerClient::party1_remote`]), and the dealer runs the
//! *same program* through [`Party::dealer`], which plays party 1's shapes with dummy data,
//! generates every correlation in order and streams party 1's corrections ahead of time.

use std::cell::RefCell;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::correlation::{Correlation, Parts};
use super::dealer::{Dealer, DealerClient};
use super::fss::deal::KeyRequest;
use super::meter::Meter;
use super::prg::{Prg, Seed};
use super::ring::FixedPoint;
use super::transport::{decode_frame, encode_frame, mem_pair, Transport, HEADER_LEN, MAGIC_PARTY};
use crate::{Error, Result};

/// How products are brought back to `F` fractional bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum TruncMode {
    /// SecureML local truncation ([`super::ring::trunc_share_local`]): no communication; fails
    /// catastrophically with probability about `|x| * 2^(2F) / 2^63` per element (2^-31 for
    /// products below 1 at F = 16). What CrypTen, and so the paper, uses.
    #[default]
    Local,
    /// Exact truncation with a dealer pair (Escudero et al., CRYPTO 2020, as SPU's `TruncAPr`):
    /// one round, 8 bytes per element each way, 16 bytes per element offline; error at most one
    /// unit in the last place, no failure, valid for `|x| < 2^62` in the ring.
    Exact,
}

/// Which protocols compute signs and comparisons. Serialised as its [`ProtocolFamily::name`]
/// (`classic` / `fss`), the one spelling of the CLI, the manifests, the wire and the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolFamily {
    /// Boolean circuits on Beaver correlations (the MSB of [`super::protocols::msb`]: 7
    /// rounds); party 0 needs only its dealer seed.
    #[default]
    Classic,
    /// Function secret sharing ([`super::protocols::fss`]): every MSB / comparison is the
    /// one-round DCF sign gate. Party 0 needs a dealer channel for its keys
    /// ([`DealerClient::party0_remote_keys`]; [`local_pair`] provides one).
    Fss,
}

impl ProtocolFamily {
    /// Both families, in the order tables show them.
    pub const ALL: [ProtocolFamily; 2] = [ProtocolFamily::Classic, ProtocolFamily::Fss];

    /// The family's name on the command line, in manifests and in the page: `classic` / `fss`.
    pub fn name(self) -> &'static str {
        match self {
            ProtocolFamily::Classic => "classic",
            ProtocolFamily::Fss => "fss",
        }
    }

    /// The family called `name` ([`ProtocolFamily::name`]).
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| Error::UnknownName {
                what: "protocol family",
                got: name.into(),
                expected: "classic or fss",
            })
    }
}

impl std::fmt::Display for ProtocolFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Per-session configuration (both parties and the dealer must agree).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SessionConfig {
    /// Fixed-point format.
    pub fixed: FixedPoint,
    /// Truncation protocol.
    pub trunc: TruncMode,
    /// Protocol family for signs and comparisons (absent in older JSON: classic).
    #[serde(default)]
    pub family: ProtocolFamily,
}

/// All the seeds of a session: (dealer, party 0), (dealer, party 1), and each party's private
/// PRG seed.
#[derive(Clone, Copy, Debug)]
pub struct SessionSeeds {
    /// Shared by the dealer and party 0.
    pub dealer0: Seed,
    /// Shared by the dealer and party 1.
    pub dealer1: Seed,
    /// Party 0's private seed.
    pub local0: Seed,
    /// Party 1's private seed.
    pub local1: Seed,
}

impl SessionSeeds {
    /// Fresh seeds from the operating system.
    pub fn from_os() -> Result<Self> {
        Ok(SessionSeeds {
            dealer0: Seed::from_os()?,
            dealer1: Seed::from_os()?,
            local0: Seed::from_os()?,
            local1: Seed::from_os()?,
        })
    }

    /// Fixed seeds. **Insecure**: tests and reproducible benchmarks only.
    pub fn insecure_fixed(n: u64) -> Self {
        SessionSeeds {
            dealer0: Seed::insecure_fixed(4 * n),
            dealer1: Seed::insecure_fixed(4 * n + 1),
            local0: Seed::insecure_fixed(4 * n + 2),
            local1: Seed::insecure_fixed(4 * n + 3),
        }
    }
}

/// A 32-bit FNV-1a hash: the frame step id of an op name.
fn step_id(op: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in op.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// One party's protocol context.
pub struct Party {
    id: usize,
    is_dealer: bool,
    cfg: SessionConfig,
    transport: Option<Box<dyn Transport>>,
    corr: DealerClient,
    local: Option<Prg>,
    /// The cost meter (labels: [`Party::scoped`]).
    pub meter: Meter,
    send_seq: u64,
    recv_seq: u64,
}

impl Party {
    /// Party `id` (0 or 1).
    pub fn new(
        id: usize,
        cfg: SessionConfig,
        transport: Box<dyn Transport>,
        corr: DealerClient,
        local_seed: Seed,
    ) -> Result<Party> {
        if id > 1 {
            return Err(Error::out_of_range("party id", id, "0 or 1"));
        }
        Ok(Party {
            id,
            is_dealer: false,
            cfg,
            transport: Some(transport),
            corr,
            local: Some(Prg::new(local_seed)),
            meter: Meter::new(),
            send_seq: 0,
            recv_seq: 0,
        })
    }

    /// The dealer's view of the program: plays party 1 with dummy data (all-zero messages,
    /// no peer), serves every correlation request from `dealer` in order and sends party 1's
    /// corrections to `to_party1`. Run the same program (with inputs replaced by their shapes,
    /// e.g. `share_input(p, owner, None, shape)`) on this party, ahead of the online phase.
    /// Control flow never depends on data, so the request sequence is the parties'.
    pub fn dealer(cfg: SessionConfig, dealer: Dealer, to_party1: Box<dyn Transport>) -> Party {
        Party::dealer_with(cfg, DealerClient::dealer(dealer, to_party1))
    }

    /// The dealer's view of a program that uses FSS keys: as [`Party::dealer`], and party 0's
    /// key bundles go to `to_party0` (party 0 reads them through
    /// [`DealerClient::party0_remote_keys`]).
    pub fn dealer_to_both(
        cfg: SessionConfig,
        dealer: Dealer,
        to_party0: Box<dyn Transport>,
        to_party1: Box<dyn Transport>,
    ) -> Party {
        Party::dealer_with(
            cfg,
            DealerClient::dealer_to_both(dealer, to_party0, to_party1),
        )
    }

    fn dealer_with(cfg: SessionConfig, corr: DealerClient) -> Party {
        Party {
            id: 1,
            is_dealer: true,
            cfg,
            transport: None,
            corr,
            local: None,
            meter: Meter::new(),
            send_seq: 0,
            recv_seq: 0,
        }
    }

    /// The transport to the other party, given back (control messages may follow the
    /// protocol on it); `None` for the dealer's run, which has no peer.
    pub fn into_transport(self) -> Option<Box<dyn Transport>> {
        self.transport
    }

    /// 0 or 1 (the dealer plays 1).
    pub fn id(&self) -> usize {
        self.id
    }

    /// Whether this is the dealer's shape-only run.
    pub fn is_dealer(&self) -> bool {
        self.is_dealer
    }

    /// Session configuration.
    pub fn config(&self) -> SessionConfig {
        self.cfg
    }

    /// Fixed-point format.
    pub fn fp(&self) -> FixedPoint {
        self.cfg.fixed
    }

    /// Enters a caller context for the meter (`"layer 3"`, `"head 1"`) until the returned scope
    /// is dropped: every cost metered through the scope is attributed under `label`, and the
    /// label is left on every path out of the scope, `?` and early returns included.
    pub fn scoped(&mut self, label: impl Into<String>) -> LabelScope<'_> {
        self.meter.push_label(label);
        LabelScope { party: self }
    }

    /// `n` words from the private PRG (the dealer's run has none and never needs one).
    pub(crate) fn local_words(&mut self, n: usize) -> Result<Vec<u64>> {
        self.local
            .as_mut()
            .map(|prg| prg.words(n))
            .ok_or_else(|| Error::Protocol("the dealer has no private randomness".into()))
    }

    /// The next correlation; its fetching time and offline bytes are metered apart.
    pub(crate) async fn corr(&mut self, req: &dyn Correlation) -> Result<Parts> {
        self.meter.tick();
        let (parts, off) = self.corr.get(req).await?;
        self.meter.record_offline(off.sent, off.recv);
        self.meter.tick_offline();
        Ok(parts)
    }

    /// This party's bundle for the next FSS key request; its bytes are metered as offline
    /// traffic (received by a party, sent by the dealer).
    pub(crate) async fn keys(&mut self, req: &dyn KeyRequest) -> Result<Vec<u8>> {
        self.meter.tick();
        let (bytes, off) = self.corr.keys(req).await?;
        self.meter.record_offline(off.sent, off.recv);
        self.meter.tick_offline();
        Ok(bytes)
    }

    /// One communication round: optionally sends `send`, optionally receives a payload of
    /// exactly `recv_len` bytes. Both parties must call it at the same point of the program.
    pub(crate) async fn round(
        &mut self,
        send: Option<Vec<u8>>,
        recv_len: Option<usize>,
    ) -> Result<Option<Vec<u8>>> {
        self.meter.tick();
        let step = step_id(self.meter.leaf_op());
        let sent = send.as_ref().map_or(0, |s| s.len());
        let got = recv_len.unwrap_or(0);
        self.meter
            .record_round(sent, got, send.is_some() as u64, recv_len.is_some() as u64);
        if self.is_dealer {
            self.meter.reset_mark();
            return Ok(recv_len.map(|n| vec![0u8; n]));
        }
        let t = self.transport.as_mut().expect("a party has a transport");
        if let Some(payload) = send {
            t.send(encode_frame(MAGIC_PARTY, self.send_seq, step, &payload))?;
            self.send_seq += 1;
        }
        let out = match recv_len {
            Some(n) => {
                let frame = t.recv().await?;
                let payload = decode_frame(&frame, MAGIC_PARTY, self.recv_seq, step, n)?;
                debug_assert_eq!(frame.len(), HEADER_LEN + n);
                self.recv_seq += 1;
                Some(payload.to_vec())
            }
            None => None,
        };
        self.meter.reset_mark();
        Ok(out)
    }

    /// A symmetric round: both parties send `payload` (same length) and get the peer's.
    pub(crate) async fn exchange(&mut self, payload: Vec<u8>) -> Result<Vec<u8>> {
        let n = payload.len();
        Ok(self
            .round(Some(payload), Some(n))
            .await?
            .expect("a payload was expected"))
    }
}

/// Two parties in one thread over an in-memory channel, with an in-process dealer serving
/// party 1 on demand; seeds from the OS.
pub fn local_pair(cfg: SessionConfig) -> Result<(Party, Party)> {
    let (a, b) = mem_pair();
    local_pair_with(cfg, SessionSeeds::from_os()?, Box::new(a), Box::new(b))
}

/// Like [`local_pair`] with your own transports (wrappers such as
/// [`super::transport::Shaped`] or [`super::transport::Recording`]) and seeds.
pub fn local_pair_with(
    cfg: SessionConfig,
    seeds: SessionSeeds,
    t0: Box<dyn Transport>,
    t1: Box<dyn Transport>,
) -> Result<(Party, Party)> {
    let dealer = Rc::new(RefCell::new(Dealer::new(seeds.dealer0, seeds.dealer1)));
    let p0 = Party::new(
        0,
        cfg,
        t0,
        DealerClient::party0_on_demand(seeds.dealer0, dealer.clone()),
        seeds.local0,
    )?;
    let p1 = Party::new(
        1,
        cfg,
        t1,
        DealerClient::party1_on_demand(seeds.dealer1, dealer),
        seeds.local1,
    )?;
    Ok((p0, p1))
}

/// A party inside a meter label (see [`Party::scoped`]); dereferences to the party and leaves the
/// label when dropped.
pub struct LabelScope<'a> {
    party: &'a mut Party,
}

impl std::ops::Deref for LabelScope<'_> {
    type Target = Party;
    fn deref(&self) -> &Party {
        self.party
    }
}

impl std::ops::DerefMut for LabelScope<'_> {
    fn deref_mut(&mut self) -> &mut Party {
        self.party
    }
}

impl Drop for LabelScope<'_> {
    fn drop(&mut self) {
        self.party.meter.pop_label();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_found_by_name() {
        for f in ProtocolFamily::ALL {
            assert_eq!(ProtocolFamily::from_name(f.name()).unwrap(), f);
            assert_eq!(f.to_string(), f.name());
            // Serde uses the same name, so JSON (manifests, the wire, the page) has one spelling.
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{}\"", f.name()));
            assert_eq!(serde_json::from_str::<ProtocolFamily>(&json).unwrap(), f);
        }
        let e = ProtocolFamily::from_name("FSS").unwrap_err();
        assert!(
            matches!(&e, Error::UnknownName { what: "protocol family", got, .. } if got == "FSS"),
            "{e}"
        );
    }

    #[test]
    fn older_session_json_is_classic() {
        let cfg: SessionConfig =
            serde_json::from_str(r#"{"fixed":{"frac_bits":16},"trunc":"Local"}"#).unwrap();
        assert_eq!(cfg.family, ProtocolFamily::Classic);
    }
}
