//! One scripted browser call, start to end: WebSocket, INVITE, 200, ACK, ICE, DTLS, SRTP echo,
//! hold, BYE. Each call opens its own WebSocket, as a browser tab with JsSIP does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use rand::distributions::Alphanumeric;
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout_at;
use tokio_tungstenite::tungstenite::Message as WsMsg;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::ice::Check;
use super::media;
use super::sip::{self, Answered, Dialog, OfferIce, Reply};
use super::{Failure, Plan};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// When each step of one setup finished, counted from the INVITE.
#[derive(Debug, Clone, Copy)]
pub struct Timings {
    /// 200 OK received.
    pub answered: Duration,
    /// ICE success response received.
    pub ice: Duration,
    /// DTLS Connected: the setup.
    pub dtls: Duration,
    /// First echoed SRTP packet decrypted (None with `--no-media`).
    pub media: Option<Duration>,
    /// DTLS flights we retransmitted.
    pub dtls_retransmits: u32,
}

/// What one call did.
#[derive(Debug)]
pub struct Outcome {
    /// The setup's timings, or why it failed.
    pub setup: Result<Timings, Failure>,
    /// When the setup completed (for the wall-clock window).
    pub done_at: Instant,
    /// BYE's result, if a BYE was sent.
    pub teardown: Option<Result<(), Failure>>,
}

fn token(rng: &mut impl Rng, n: usize) -> String {
    rng.sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// Runs one call.
pub async fn run(plan: Arc<Plan>) -> Outcome {
    let mut call = Call::new(&plan);
    let setup = call.setup(&plan).await;
    let done_at = Instant::now();
    let teardown = match (&setup, call.answer.take(), call.ws.as_mut()) {
        (Ok(_), Some(answer), Some(ws)) => {
            tokio::time::sleep(plan.hold).await;
            Some(bye(ws, &call.dialog, &answer, plan.sip_timeout).await)
        }
        _ => None,
    };
    if let Some(ws) = call.ws.as_mut() {
        // Best effort: a browser closing its tab. Ferry ends any call still up on this socket.
        let _ = ws.close(None).await;
    }
    Outcome {
        setup,
        done_at,
        teardown,
    }
}

struct Call {
    dialog: Dialog,
    ufrag: String,
    pwd: String,
    ssrc: u32,
    tie_breaker: u64,
    txid: [u8; 12],
    session_id: u64,
    ws: Option<Ws>,
    answer: Option<Answered>,
}

impl Call {
    fn new(plan: &Plan) -> Self {
        let mut rng = rand::thread_rng();
        let dialog = Dialog {
            dest: plan.dest.clone(),
            domain: plan.domain.clone(),
            call_id: token(&mut rng, 20),
            from_tag: token(&mut rng, 10),
            via_host: format!("{}.invalid", token(&mut rng, 12).to_ascii_lowercase()),
            cseq: rng.gen_range(1..10_000),
        };
        Call {
            dialog,
            // ice-chars are letters, digits, '+' and '/'; alphanumerics are a subset.
            ufrag: token(&mut rng, 4),
            pwd: token(&mut rng, 24),
            ssrc: rng.r#gen(),
            tie_breaker: rng.r#gen(),
            txid: rng.r#gen(),
            session_id: rng.gen_range(1..i64::MAX as u64),
            ws: None,
            answer: None,
        }
    }

    async fn setup(&mut self, plan: &Plan) -> Result<Timings, Failure> {
        let io = |e: std::io::Error| Failure::Io(e.to_string());
        let sock = UdpSocket::bind((plan.bind, 0)).await.map_err(io)?;
        let candidate = sock.local_addr().map_err(io)?;
        let ws = self.ws.insert(connect(&plan.ws, plan.sip_timeout).await?);
        let offer = sip::offer_sdp(&OfferIce {
            ufrag: self.ufrag.clone(),
            pwd: self.pwd.clone(),
            candidate,
            fingerprint: plan.fingerprint.clone(),
            ssrc: self.ssrc,
            session_id: self.session_id,
        });
        let t0 = Instant::now();
        let branch = token(&mut rand::thread_rng(), 10);
        send(ws, self.dialog.invite(&branch, &offer)).await?;
        let answer = wait_answer(ws, &self.dialog, t0 + plan.sip_timeout).await?;
        let ack = self
            .dialog
            .ack(&token(&mut rand::thread_rng(), 10), &answer);
        send(ws, ack).await?;
        let answered = t0.elapsed();
        let to = target(&answer)?;
        let check = Check {
            remote_ufrag: answer.sdp.ice_ufrag.clone(),
            remote_pwd: answer.sdp.ice_pwd.clone(),
            local_ufrag: self.ufrag.clone(),
            tie_breaker: self.tie_breaker,
        };
        let fingerprints = answer.sdp.fingerprints.clone();
        self.answer = Some(answer);
        media::ice(&sock, to, &check, self.txid, plan.timeouts.ice).await?;
        let ice = t0.elapsed();
        let (keys, dtls_retransmits) =
            media::dtls(&sock, to, &plan.cert, &fingerprints, plan.timeouts.dtls).await?;
        let dtls = t0.elapsed();
        let media = if plan.media {
            media::echo(&sock, to, &keys, self.ssrc, plan.timeouts.media).await?;
            Some(t0.elapsed())
        } else {
            None
        };
        Ok(Timings {
            answered,
            ice,
            dtls,
            media,
            dtls_retransmits,
        })
    }
}

/// The ICE candidate to check: the first IPv4 one of the answer (Ferry offers its media
/// address; with IPv6 as well the v4 one is what our 127.0.0.1 socket can reach).
fn target(answer: &Answered) -> Result<SocketAddr, Failure> {
    let c = &answer.sdp.candidates;
    c.iter()
        .find(|a| a.is_ipv4())
        .or(c.first())
        .copied()
        .ok_or(Failure::BadAnswer("no candidate"))
}

/// RFC 7118 §4.1: the WebSocket handshake asks for the `sip` subprotocol.
async fn connect(url: &str, limit: Duration) -> Result<Ws, Failure> {
    let mut req = url
        .into_client_request()
        .map_err(|e| Failure::Connect(e.to_string()))?;
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "sip"
            .parse()
            .map_err(|_| Failure::Connect("header".into()))?,
    );
    match tokio::time::timeout(limit, tokio_tungstenite::connect_async(req)).await {
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(e)) => Err(Failure::Connect(e.to_string())),
        Err(_) => Err(Failure::Connect("timeout".into())),
    }
}

async fn send(ws: &mut Ws, text: String) -> Result<(), Failure> {
    ws.send(WsMsg::text(text))
        .await
        .map_err(|e| Failure::Connect(format!("send: {e}")))
}

/// The next text frame, or why none came by `deadline`.
async fn next_text(ws: &mut Ws, deadline: Instant) -> Result<Option<String>, Failure> {
    loop {
        match timeout_at(deadline.into(), ws.next()).await {
            Err(_) => return Ok(None),
            Ok(None) => return Err(Failure::Connect("websocket closed by Ferry".into())),
            Ok(Some(Err(e))) => return Err(Failure::Connect(e.to_string())),
            Ok(Some(Ok(WsMsg::Text(t)))) => return Ok(Some(t.as_str().to_owned())),
            Ok(Some(Ok(WsMsg::Close(_)))) => {
                return Err(Failure::Connect("websocket closed by Ferry".into()));
            }
            // Pings are answered inside tungstenite; binary frames are not SIP here.
            Ok(Some(Ok(_))) => {}
        }
    }
}

async fn wait_answer(ws: &mut Ws, dialog: &Dialog, deadline: Instant) -> Result<Answered, Failure> {
    loop {
        let Some(text) = next_text(ws, deadline).await? else {
            return Err(Failure::SipTimeout);
        };
        match sip::classify(&text, dialog) {
            Reply::Invite(Ok(a)) => return Ok(*a),
            Reply::Invite(Err(0)) => return Err(Failure::BadAnswer("200 OK without usable SDP")),
            Reply::Invite(Err(status)) => return Err(Failure::SipStatus(status)),
            Reply::Provisional | Reply::Bye(_) | Reply::Other => {}
        }
    }
}

/// Sends BYE and waits for its final response.
async fn bye(
    ws: &mut Ws,
    dialog: &Dialog,
    answer: &Answered,
    limit: Duration,
) -> Result<(), Failure> {
    // The RNG handle is not Send: mint the branch before the await.
    let request = dialog.bye(&token(&mut rand::thread_rng(), 10), answer);
    send(ws, request).await?;
    let deadline = Instant::now() + limit;
    loop {
        let Some(text) = next_text(ws, deadline).await? else {
            return Err(Failure::SipTimeout);
        };
        match sip::classify(&text, dialog) {
            Reply::Bye(200) => return Ok(()),
            Reply::Bye(status) => return Err(Failure::SipStatus(status)),
            _ => {}
        }
    }
}
