//! Answered calls on disk, so a restarted signaling process can still end them properly.
//!
//! The engine keeps forwarding media when signaling restarts; what it cannot know is the SIP
//! side. Each answered call is written to `state_dir/calls/<session>.json` (dialogs only: no
//! keys, no SDP) and removed when the call ends. At start the files whose engine session still
//! exists become calls again: a BYE from either side then reaches the other and frees the
//! session, instead of the trunk leg hanging until the PBX times it out. Such a restored call
//! cannot be re-negotiated (its keys live only in the engine), so re-INVITEs get 488.

use std::path::PathBuf;
use std::time::Instant;

use ferry_control::{SessionId, SessionInfo};
use serde::{Deserialize, Serialize};

use super::call::{BrowserLeg, Call, Dir, Media, Phase, TrunkLeg};
use super::dialog::Dialog;
use super::{CallId, ConnId, Core};
use crate::sip::{Method, NameAddr, Request, Uri};

#[derive(Debug, Serialize, Deserialize)]
struct SavedDialog {
    call_id: String,
    local: String,
    local_tag: String,
    remote: String,
    remote_tag: Option<String>,
    remote_target: String,
    route_set: Vec<String>,
    local_cseq: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedCall {
    session: u64,
    /// When the call began, unix seconds (so its duration survives the restart).
    #[serde(default)]
    started_unix: u64,
    inbound: bool,
    browser: SavedDialog,
    trunk: Option<SavedDialog>,
}

impl From<&Dialog> for SavedDialog {
    fn from(d: &Dialog) -> Self {
        Self {
            call_id: d.call_id.clone(),
            local: d.local.to_string(),
            local_tag: d.local_tag.clone(),
            remote: d.remote.to_string(),
            remote_tag: d.remote_tag.clone(),
            remote_target: d.remote_target.to_string(),
            route_set: d.route_set.clone(),
            local_cseq: d.local_cseq,
        }
    }
}

impl SavedDialog {
    fn dialog(&self) -> Option<Dialog> {
        Some(Dialog {
            call_id: self.call_id.clone(),
            local: NameAddr::parse(&self.local).ok()?,
            local_tag: self.local_tag.clone(),
            remote: NameAddr::parse(&self.remote).ok()?,
            remote_tag: self.remote_tag.clone(),
            remote_target: Uri::parse(&self.remote_target).ok()?,
            route_set: self.route_set.clone(),
            // Leave room: requests sent just before the crash may not have been saved.
            local_cseq: self.local_cseq + 100,
            remote_cseq: 0,
        })
    }
}

impl Core {
    fn calls_dir(&self) -> PathBuf {
        self.cfg.state_dir.join("calls")
    }

    fn call_file(&self, session: SessionId) -> PathBuf {
        self.calls_dir().join(format!("{session}.json"))
    }

    /// Writes an answered call's dialogs.
    pub(super) fn save(&self, id: CallId) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let Some(session) = call.media.session else {
            return;
        };
        let age = Instant::now().saturating_duration_since(call.started);
        let saved = SavedCall {
            session: session.0,
            started_unix: crate::product::unix_now().saturating_sub(age.as_secs()),
            inbound: call.dir == Dir::Inbound,
            browser: (&call.browser.dialog).into(),
            trunk: call.trunk.as_ref().map(|t| (&t.dialog).into()),
        };
        let path = self.call_file(session);
        let bytes = serde_json::to_vec(&saved).unwrap_or_default();
        self.persist(Persist::Write(path, bytes));
    }

    /// Forgets a saved call.
    pub(super) fn unsave(&self, session: SessionId) {
        self.persist(Persist::Remove(self.call_file(session)));
    }

    /// File work goes to a thread of its own: the core never waits on the disk (a file
    /// create, rename and unlink per call cost ~6% of signaling's CPU under setup load, all
    /// of it on the core's critical path).
    fn persist(&self, job: Persist) {
        if self.persister.send(job).is_err() {
            tracing::warn!("call state writer is gone; calls will not survive a restart");
        }
    }

    /// Turns the saved calls whose sessions the engine still carries back into calls; the
    /// rest of the files are stale and removed. Returns how many came back.
    pub fn restore(&mut self, sessions: &[SessionInfo], now: Instant) -> usize {
        let Ok(entries) = std::fs::read_dir(self.calls_dir()) else {
            return 0;
        };
        let mut restored = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            let saved: Option<SavedCall> = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            let info = saved
                .as_ref()
                .and_then(|s| sessions.iter().find(|i| i.session.0 == s.session));
            match (saved, info) {
                (Some(s), Some(info)) if self.restore_one(&s, info, now) => restored += 1,
                _ => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        restored
    }

    fn restore_one(&mut self, s: &SavedCall, info: &SessionInfo, now: Instant) -> bool {
        let Some(browser) = s.browser.dialog() else {
            return false;
        };
        let trunk = match &s.trunk {
            Some(t) => match t.dialog() {
                Some(d) => Some(d),
                None => return false,
            },
            None => None,
        };
        let id = self.new_call_id();
        let placeholder = |d: &Dialog| Request::new(Method::Invite, d.remote_target.clone());
        let mut media = Media::new(&mut self.rng);
        media.session = Some(info.session);
        media.legs = Some(info.legs);
        media.keyed = true;
        let dir = if s.inbound {
            Dir::Inbound
        } else {
            Dir::Outbound
        };
        // The browser's WebSocket died with the old process; its BYE may come on a new one.
        let mut leg = BrowserLeg::new(ConnId(0), placeholder(&browser), browser.clone(), None);
        leg.rang = true;
        let age = crate::product::unix_now().saturating_sub(s.started_unix);
        let started = now
            .checked_sub(std::time::Duration::from_secs(age))
            .unwrap_or(now);
        let mut call = Call::new(id, dir, leg, media, started);
        call.phase = Phase::Answered;
        call.trunk = trunk.map(|d| TrunkLeg {
            invite: placeholder(&d),
            invite_key: None,
            dialog: d,
            answered: true,
            auth_tried: true,
            plain: None,
            ok_retransmit: None,
        });
        self.by_browser.insert(browser.call_id, id);
        if let Some(t) = &call.trunk {
            self.by_trunk.insert(t.dialog.call_id.clone(), id);
        }
        self.by_session.insert(info.session, id);
        self.calls.insert(id, call);
        true
    }
}

/// A file operation for the writer thread.
#[derive(Debug)]
pub enum Persist {
    /// Write the bytes to the file (through a temporary file and a rename).
    Write(PathBuf, Vec<u8>),
    /// Remove the file.
    Remove(PathBuf),
}

/// Starts the writer thread; jobs run in order, so a call's removal follows its write.
pub fn writer() -> std::sync::mpsc::Sender<Persist> {
    let (tx, rx) = std::sync::mpsc::channel::<Persist>();
    let spawned = std::thread::Builder::new()
        .name("ferry-persist".into())
        .spawn(move || {
            for job in rx {
                match job {
                    Persist::Write(path, bytes) => {
                        let r = path
                            .parent()
                            .map_or(Ok(()), std::fs::create_dir_all)
                            .and_then(|()| {
                                let tmp = path.with_extension("tmp");
                                std::fs::write(&tmp, &bytes)?;
                                std::fs::rename(&tmp, &path)
                            });
                        if let Err(e) = r {
                            tracing::warn!("saving call state {}: {e}", path.display());
                        }
                    }
                    Persist::Remove(path) => {
                        let _ = std::fs::remove_file(&path);
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!("call state writer: {e}");
    }
    tx
}
