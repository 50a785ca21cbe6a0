//! The dealer: correlated randomness for the online phase, in the trusted-first-party model of
//! SecretFlow-SPU's SEMI2K (`BeaverTfpUnsafe`) and CrypTen's TTP provider.
//!
//! Each correlation is a [`Correlation`] (its components and their roles are described in
//! [`super::correlation`]); the protocol that consumes it defines it.
//!
//! So party 0 never talks to the dealer after receiving its seed, and all offline traffic is
//! dealer -> party 1, exactly the correction bytes ([`correction_bytes`]). Requests are served
//! strictly in order and both sides expand their PRG in the same order, so a dealer told the
//! same sequence of requests (it runs the same program shape-only, see
//! [`super::Party::dealer`]) produces the same corrections ahead of time. Each correction frame
//! carries its request number and kind, so a dealer out of step is reported, not trusted.
//!
//! Party-side access goes through [`DealerClient`]: seeded (party 0), on demand from an
//! in-process dealer (party 1, joined harness), or from a transport fed by a dealer running
//! ahead (party 1 in a worker).
//!
//! FSS keys ([`super::fss::deal`]) are the exception to "party 0 only holds a seed": their
//! correction words depend on both parties' randomness, so the dealer streams key bundles to
//! both parties, in the same request order ([`DealerClient::keys`]). Party 0 then needs a
//! dealer channel too ([`DealerClient::party0_remote_keys`], or [`DealerClient::party0_on_demand`]
//! in the joined harness); a party 0 built with [`DealerClient::party0`] serves every classic
//! protocol and reports an error on the first FSS key request.

use std::cell::RefCell;
use std::rc::Rc;

use super::correlation::{correction_bytes, draw, CompRing, CompRole, Correlation, Parts};
use super::fss::deal::{KeyDealer, KeyRequest};
use super::prg::{Prg, Seed};
use super::share::{bits_to_bytes, bytes_to_bits, bytes_to_words, words_to_bytes};
use super::transport::{decode_frame, encode_frame, Transport, HEADER_LEN, MAGIC_DEALER};
use crate::{Error, Result};

/// The dealer: knows both parties' dealer seeds.
pub struct Dealer {
    prg0: Prg,
    prg1: Prg,
    count: u64,
    keys: KeyDealer,
}

impl Dealer {
    /// A dealer for the seeds it shares with party 0 and party 1.
    pub fn new(seed0: Seed, seed1: Seed) -> Dealer {
        Dealer {
            prg0: Prg::new(seed0),
            prg1: Prg::new(seed1),
            count: 0,
            keys: KeyDealer::new(seed0, seed1),
        }
    }

    /// The FSS key side of the dealer.
    pub fn keys(&mut self) -> &mut KeyDealer {
        &mut self.keys
    }

    /// Requests served so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Serves the next request: returns party 1's correction bytes and party 1's full parts.
    pub fn generate(&mut self, req: &dyn Correlation) -> Result<(Vec<u8>, Parts)> {
        let lay = req.layout();
        let p0 = draw(req, 0, &mut self.prg0);
        let p1 = draw(req, 1, &mut self.prg1);
        // True values of the non-dependent components.
        let values: Vec<Vec<u64>> = lay
            .iter()
            .zip(p0.iter().zip(&p1))
            .map(|((ring, role), (s0, s1))| {
                let s0 = s0.as_ref().expect("party 0 draws every component");
                match (role, s1) {
                    (CompRole::Dep, _) | (_, None) => vec![0u64; ring.words()],
                    (_, Some(s1)) => match ring {
                        CompRing::Arith(_) => {
                            s0.iter().zip(s1).map(|(a, b)| a.wrapping_add(*b)).collect()
                        }
                        CompRing::Bits(_) => s0.iter().zip(s1).map(|(a, b)| a ^ b).collect(),
                    },
                }
            })
            .collect();
        let mut deps = req.dependent_values(&values)?.into_iter();
        let mut correction = Vec::with_capacity(correction_bytes(req));
        let mut parts1 = Vec::with_capacity(lay.len());
        for ((ring, role), (s0, s1)) in lay.iter().zip(p0.into_iter().zip(p1)) {
            if *role == CompRole::Dep {
                let val = deps.next().expect("one value per dependent component");
                let s0 = s0.expect("party 0 draws every component");
                let c: Vec<u64> = match ring {
                    CompRing::Arith(_) => val
                        .iter()
                        .zip(&s0)
                        .map(|(v, s)| v.wrapping_sub(*s))
                        .collect(),
                    CompRing::Bits(n) => {
                        let mut c: Vec<u64> = val.iter().zip(&s0).map(|(v, s)| v ^ s).collect();
                        if !n.is_multiple_of(64) {
                            if let Some(l) = c.last_mut() {
                                *l &= (1u64 << (n % 64)) - 1;
                            }
                        }
                        c
                    }
                };
                match ring {
                    CompRing::Arith(_) => correction.extend(words_to_bytes(&c)),
                    CompRing::Bits(n) => correction.extend(bits_to_bytes(&c, *n)),
                }
                parts1.push(c);
            } else {
                parts1.push(s1.expect("party 1 draws its non-dependent components"));
            }
        }
        self.count += 1;
        Ok((correction, parts1))
    }
}

/// The next key frame from the dealer, checked against the request.
async fn recv_keys(
    t: &mut dyn Transport,
    seq: u64,
    req: &dyn KeyRequest,
    party: usize,
) -> Result<Vec<u8>> {
    let frame = t.recv().await?;
    let payload = decode_frame(&frame, MAGIC_DEALER, seq, req.tag(), req.bundle_len(party))
        .map_err(|e| Error::Protocol(format!("fss keys from the dealer: {e}")))?;
    Ok(payload.to_vec())
}

/// Party 1's parts from its PRG and the dealer's correction bytes.
fn assemble_party1(req: &dyn Correlation, prg: &mut Prg, correction: &[u8]) -> Result<Parts> {
    let lay = req.layout();
    let drawn = draw(req, 1, prg);
    let mut at = 0;
    let mut parts = Vec::with_capacity(lay.len());
    for ((ring, _), d) in lay.iter().zip(drawn) {
        match d {
            Some(v) => parts.push(v),
            None => {
                let nb = ring.bytes();
                let bytes = correction
                    .get(at..at + nb)
                    .ok_or_else(|| Error::Protocol("dealer correction too short".into()))?;
                at += nb;
                parts.push(match ring {
                    CompRing::Arith(n) => bytes_to_words(bytes, *n)?,
                    CompRing::Bits(n) => bytes_to_bits(bytes, *n)?,
                });
            }
        }
    }
    if at != correction.len() {
        return Err(Error::Protocol("dealer correction too long".into()));
    }
    Ok(parts)
}

enum Source {
    Seeded,
    OnDemand(Rc<RefCell<Dealer>>),
    Remote(Box<dyn Transport>),
    Dealer {
        dealer: Box<Dealer>,
        out: Box<dyn Transport>,
    },
}

/// Where party 0 gets its FSS keys (party 1 and the dealer use their [`Source`]).
enum KeyChannel {
    None,
    Shared(Rc<RefCell<Dealer>>),
    Remote(Box<dyn Transport>),
}

/// A party's access to correlated randomness.
pub struct DealerClient {
    prg: Option<Prg>,
    source: Source,
    /// Requests on the correction channel (party 1, the dealer): every correlation and key.
    count: u64,
    /// For party 0: its FSS keys; for the dealer: its channel to party 0.
    key_channel: KeyChannel,
    /// Key requests so far (the sequence number of party 0's key frames).
    key_seq: u64,
}

/// What one request cost offline: bytes (sent, received).
#[derive(Debug)]
pub(crate) struct OfflineBytes {
    pub sent: usize,
    pub recv: usize,
}

impl DealerClient {
    /// Party 0: everything expands from the seed it shares with the dealer.
    pub fn party0(seed: Seed) -> Self {
        DealerClient::with_source(Some(seed), Source::Seeded, KeyChannel::None)
    }

    /// Party 0 whose correlations expand from the seed and whose FSS keys the in-process
    /// `dealer` deals on demand (the joined harness).
    pub fn party0_on_demand(seed: Seed, dealer: Rc<RefCell<Dealer>>) -> Self {
        DealerClient::with_source(Some(seed), Source::Seeded, KeyChannel::Shared(dealer))
    }

    /// Party 0 whose FSS keys arrive on `keys`, fed by a dealer running the same program ahead
    /// ([`super::Party::dealer_to_both`]).
    pub fn party0_remote_keys(seed: Seed, keys: Box<dyn Transport>) -> Self {
        DealerClient::with_source(Some(seed), Source::Seeded, KeyChannel::Remote(keys))
    }

    fn with_source(seed: Option<Seed>, source: Source, key_channel: KeyChannel) -> Self {
        DealerClient {
            prg: seed.map(Prg::new),
            source,
            count: 0,
            key_channel,
            key_seq: 0,
        }
    }

    /// Party 1 with an in-process dealer that computes each correction when asked (the joined
    /// harness). The correction bytes are still counted as offline traffic.
    pub fn party1_on_demand(seed: Seed, dealer: Rc<RefCell<Dealer>>) -> Self {
        DealerClient::with_source(Some(seed), Source::OnDemand(dealer), KeyChannel::None)
    }

    /// Party 1 reading correction frames from `transport`, fed by a dealer that runs the same
    /// program ahead (see [`super::Party::dealer`]).
    pub fn party1_remote(seed: Seed, transport: Box<dyn Transport>) -> Self {
        DealerClient::with_source(Some(seed), Source::Remote(transport), KeyChannel::None)
    }

    /// The dealer's own client: serves each request by generating it and sending party 1's
    /// correction to `out`; the program continues on party 1's parts.
    pub(crate) fn dealer(dealer: Dealer, out: Box<dyn Transport>) -> Self {
        let source = Source::Dealer {
            dealer: Box::new(dealer),
            out,
        };
        DealerClient::with_source(None, source, KeyChannel::None)
    }

    /// The dealer's own client streaming to both parties: corrections and party 1's keys to
    /// `to_party1`, party 0's keys to `to_party0`.
    pub(crate) fn dealer_to_both(
        dealer: Dealer,
        to_party0: Box<dyn Transport>,
        to_party1: Box<dyn Transport>,
    ) -> Self {
        let source = Source::Dealer {
            dealer: Box::new(dealer),
            out: to_party1,
        };
        DealerClient::with_source(None, source, KeyChannel::Remote(to_party0))
    }

    /// This party's bundle for the next FSS key request (each bundle is served once, in
    /// request order, with its tag and exact length checked).
    pub(crate) async fn keys(&mut self, req: &dyn KeyRequest) -> Result<(Vec<u8>, OfflineBytes)> {
        let key_seq = self.key_seq;
        self.key_seq += 1;
        let received = |bytes: Vec<u8>| {
            let recv = bytes.len();
            Ok((bytes, OfflineBytes { sent: 0, recv }))
        };
        match (&mut self.source, &mut self.key_channel) {
            (Source::Seeded, KeyChannel::Shared(dealer)) => {
                received(dealer.borrow_mut().keys().take(0, key_seq, req)?)
            }
            (Source::Seeded, KeyChannel::Remote(t)) => {
                received(recv_keys(t.as_mut(), key_seq, req, 0).await?)
            }
            (Source::Seeded, KeyChannel::None) => Err(Error::Protocol(
                "party 0 has no dealer channel for FSS keys (build it with \
                 DealerClient::party0_remote_keys or party0_on_demand)"
                    .into(),
            )),
            (Source::OnDemand(dealer), _) => {
                self.count += 1;
                received(dealer.borrow_mut().keys().take(1, key_seq, req)?)
            }
            (Source::Remote(t), _) => {
                let seq = self.count;
                self.count += 1;
                received(recv_keys(t.as_mut(), seq, req, 1).await?)
            }
            (Source::Dealer { dealer, out }, to_party0) => {
                let KeyChannel::Remote(to_party0) = to_party0 else {
                    return Err(Error::Protocol(
                        "the dealer has no channel to party 0 for FSS keys (use \
                         Party::dealer_to_both)"
                            .into(),
                    ));
                };
                let [b0, b1] = dealer.keys().deal_pair(req)?;
                to_party0.send(encode_frame(MAGIC_DEALER, key_seq, req.tag(), &b0))?;
                out.send(encode_frame(MAGIC_DEALER, self.count, req.tag(), &b1))?;
                self.count += 1;
                let sent = b0.len() + b1.len();
                Ok((b1, OfflineBytes { sent, recv: 0 }))
            }
        }
    }

    /// Serves the next request for a party (0 or 1).
    pub(crate) async fn get(&mut self, req: &dyn Correlation) -> Result<(Parts, OfflineBytes)> {
        let seq = self.count;
        self.count += 1;
        match &mut self.source {
            Source::Seeded => {
                let prg = self.prg.as_mut().expect("party 0 has a PRG");
                let parts = draw(req, 0, prg)
                    .into_iter()
                    .map(|p| p.expect("all drawn"))
                    .collect();
                Ok((parts, OfflineBytes { sent: 0, recv: 0 }))
            }
            Source::OnDemand(dealer) => {
                let (corr, _) = dealer.borrow_mut().generate(req)?;
                let prg = self.prg.as_mut().expect("party 1 has a PRG");
                let parts = assemble_party1(req, prg, &corr)?;
                Ok((
                    parts,
                    OfflineBytes {
                        sent: 0,
                        recv: corr.len(),
                    },
                ))
            }
            Source::Remote(t) => {
                let frame = t.recv().await?;
                let corr =
                    decode_frame(&frame, MAGIC_DEALER, seq, req.tag(), correction_bytes(req))
                        .map_err(|e| Error::Protocol(format!("from the dealer: {e}")))?;
                let prg = self.prg.as_mut().expect("party 1 has a PRG");
                let parts = assemble_party1(req, prg, corr)?;
                Ok((
                    parts,
                    OfflineBytes {
                        sent: 0,
                        recv: frame.len() - HEADER_LEN,
                    },
                ))
            }
            Source::Dealer { dealer, out } => {
                let (corr, parts1) = dealer.generate(req)?;
                let n = corr.len();
                out.send(encode_frame(MAGIC_DEALER, seq, req.tag(), &corr))?;
                Ok((parts1, OfflineBytes { sent: n, recv: 0 }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mpc::protocols::b2a::BitPair;
    use crate::mpc::protocols::beaver::Square;

    #[test]
    fn every_request_is_served_once_in_order() {
        let (s0, s1) = (Seed::insecure_fixed(10), Seed::insecure_fixed(11));
        let dealer = Rc::new(RefCell::new(Dealer::new(s0, s1)));
        let mut c1 = DealerClient::party1_on_demand(s1, dealer.clone());
        let a = Square { n: 3 };
        let (first, _) = futures::executor::block_on(c1.get(&a)).unwrap();
        let (second, _) = futures::executor::block_on(c1.get(&a)).unwrap();
        // Two calls draw two correlations, never the same one twice.
        assert_ne!(first, second);
        assert_eq!(dealer.borrow().count(), 2);
    }

    #[test]
    fn remote_dealer_frames_are_checked() {
        let (s0, s1) = (Seed::insecure_fixed(1), Seed::insecure_fixed(2));
        let (tx, rx) = crate::mpc::transport::mem_pair();
        let mut d = DealerClient::dealer(Dealer::new(s0, s1), Box::new(tx));
        let mut c1 = DealerClient::party1_remote(s1, Box::new(rx));
        let a = Square { n: 3 };
        let b = BitPair { n: 3 };
        let (pd, _) = futures::executor::block_on(d.get(&a)).unwrap();
        let (p1, _) = futures::executor::block_on(c1.get(&a)).unwrap();
        assert_eq!(pd, p1);
        futures::executor::block_on(d.get(&a)).unwrap();
        // Party 1 asks for a different kind than the dealer produced.
        let e = futures::executor::block_on(c1.get(&b)).unwrap_err();
        assert!(format!("{e}").contains("dealer"));
    }
}
